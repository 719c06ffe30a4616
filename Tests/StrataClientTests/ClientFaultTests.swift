import Foundation
import NIOCore
import NIOPosix
import StrataBroker
import StrataClient
import StrataProtocol
import StrataRecords
import StrataStorage
import Testing

/// Producer and consumer against a real broker behind a proxy that drops or stalls connections, or
/// with a damaged segment file.
@Suite struct ClientFaultTests {
    /// A broker advertising the proxy's address, so every client connection goes through it.
    private func brokerBehindProxy() async throws -> (InProcessServer, TCPProxy) {
        let proxy = try await TCPProxy()
        let server = try await InProcessServer { config in
            config.advertisedHost = "127.0.0.1"
            config.advertisedPort = proxy.port
        }
        proxy.forward(to: server.port)
        return (server, proxy)
    }

    /// Reads every record of `topic` back, per partition in offset order.
    private func readAll(
        _ server: InProcessServer, topic: String, expected: Int
    ) async throws -> [Int32: [ConsumerRecord]] {
        let consumer = try await StrataConsumer(bootstrap: server.bootstrap)
        try await consumer.assign(topic: topic, from: .earliest)
        var byPartition: [Int32: [ConsumerRecord]] = [:]
        var count = 0
        let reader = Task {
            var records: [ConsumerRecord] = []
            for try await record in consumer.records {
                records.append(record)
                if records.count == expected { break }
            }
            return records
        }
        let timeout = Task {
            try await Task.sleep(for: .seconds(20))
            reader.cancel()
        }
        let records = (try? await reader.value) ?? []
        timeout.cancel()
        for record in records {
            byPartition[record.partition, default: []].append(record)
            count += 1
        }
        // Anything beyond `expected` (duplicates) must show too: ask for the end offsets.
        for partition in byPartition.keys {
            let end = try await consumer.endOffset(topic: topic, partition: partition)
            #expect(
                end == Int64(byPartition[partition]!.count),
                "partition \(partition): log end \(end), read \(byPartition[partition]!.count)")
        }
        await consumer.close()
        return byPartition
    }

    @Test func idempotentProducerResendsAcrossDroppedConnectionsWithoutDuplicatesOrReordering() async throws {
        let (server, proxy) = try await brokerBehindProxy()
        var config = ProducerConfig()
        config.acks = -1
        config.lingerMilliseconds = 1
        config.batchBytes = 2_048
        config.retryBackoffMilliseconds = 10
        config.deliveryReports = true
        if ProcessInfo.processInfo.environment["STRATA_TEST_NO_IDEMPOTENCE"] != nil { config.enableIdempotence = false }
        let producer = try await StrataProducer(bootstrap: ["127.0.0.1:\(proxy.port)"], config: config)
        let topic = "drops"
        let total = 6_000
        let dropper = Task {
            for _ in 0..<8 {
                try await Task.sleep(for: .milliseconds(40))
                proxy.dropAll()
            }
        }
        var valueOfId: [UInt64: Int] = [:]
        for index in 0..<total {
            let key = Array("key-\(index % 7)".utf8)
            let id = try await producer.enqueue(topic: topic, key: key, value: Array("\(index)".utf8))
            valueOfId[id] = index
            if index % 500 == 0 { try await Task.sleep(for: .milliseconds(5)) }
        }
        try await producer.flush()
        try await dropper.value
        try await producer.close()
        var acked: [Int: RecordMetadata] = [:]
        for await report in producer.deliveryReports {
            #expect(report.error == nil, "\(String(describing: report.error))")
            for (index, id) in report.recordIds.enumerated() {
                acked[valueOfId[id]!] = RecordMetadata(
                    topic: topic, partition: report.partition, offset: report.offset(at: index) ?? -1)
            }
        }
        #expect(acked.count == total, "every record acknowledged")
        #expect(proxy.accepted > 4, "the producer reconnected after the drops (\(proxy.accepted) connections)")

        let partitions = try await readAll(server, topic: topic, expected: total)
        var seen = Set<Int>()
        for (partition, records) in partitions {
            var previousPerKey: [String: Int] = [:]
            for (position, record) in records.enumerated() {
                #expect(record.offset == Int64(position), "partition \(partition) offsets contiguous")
                let value = Int(String(buffer: record.value!))!
                #expect(seen.insert(value).inserted, "record \(value) written twice")
                let key = String(buffer: record.key!)
                if let previous = previousPerKey[key] {
                    #expect(previous < value, "\(key): \(value) after \(previous)")
                }
                previousPerKey[key] = value
                if let metadata = acked[value] {
                    #expect(
                        metadata.partition == partition && metadata.offset == record.offset,
                        "acknowledged position of \(value)")
                }
            }
        }
        #expect(seen.count == total)
        await proxy.stop()
        await server.stop()
    }

    @Test func producerWaitsForABrokerThatStartsLate() async throws {
        let proxy = try await TCPProxy()
        // Nothing listens behind the proxy yet: connections are refused, then closed.
        let late = Task {
            try await Task.sleep(for: .milliseconds(300))
            let server = try await InProcessServer { config in
                config.advertisedHost = "127.0.0.1"
                config.advertisedPort = proxy.port
            }
            proxy.forward(to: server.port)
            return server
        }
        proxy.forward(to: 1)
        var config = ProducerConfig()
        // Generous: an attempt that reaches the in-process broker while the parallel suite starves it
        // may wait out the whole 30 s request timeout before the next attempt.
        config.maxBlockMilliseconds = 120_000
        let producer = try await StrataProducer(bootstrap: ["127.0.0.1:\(proxy.port)"], config: config)
        let metadata = try await producer.send(topic: "late", key: nil, value: Array("hello".utf8), partition: 0)
        #expect(metadata.offset == 0)
        try await producer.close()
        await proxy.stop()
        try await late.value.stop()
    }

    @Test func unreachableBrokerFailsAfterMaxBlockNamingTheAddress() async throws {
        var config = ProducerConfig()
        config.maxBlockMilliseconds = 200
        await #expect(throws: ClientError.noBrokerAvailable(tried: ["127.0.0.1:1"])) {
            _ = try await StrataProducer(bootstrap: ["127.0.0.1:1"], config: config)
        }
    }

    @Test func consumerRetriesAnUnreachableBrokerThenNamesIt() async throws {
        var config = ConsumerConfig()
        config.connectTimeoutMilliseconds = 200
        await #expect(throws: ClientError.noBrokerAvailable(tried: ["127.0.0.1:1"])) {
            _ = try await StrataConsumer(bootstrap: ["127.0.0.1:1"], config: config)
        }
    }

    @Test func recordTooLargeIsRefusedBeforeSending() async throws {
        let server = try await InProcessServer()
        var config = ProducerConfig()
        config.maxRequestBytes = 1_000
        let producer = try await StrataProducer(bootstrap: server.bootstrap, config: config)
        do {
            try await producer.send(topic: "big", key: nil, value: [UInt8](repeating: 1, count: 2_000), partition: 0)
            Issue.record("a 2000-byte record passed a 1000-byte max.request.size")
        } catch ClientError.recordTooLarge(let topic, let bytes, let limit) {
            #expect(topic == "big" && bytes > 2_000 && limit == 1_000)
        }
        try await producer.send(topic: "big", key: nil, value: [UInt8](repeating: 1, count: 500), partition: 0)
        try await producer.close()
        let consumer = try await StrataConsumer(bootstrap: server.bootstrap)
        #expect(try await consumer.endOffset(topic: "big", partition: 0) == 1, "only the small record was written")
        await consumer.close()
        await server.stop()
    }

    @Test func fullBufferBlocksSendThenTimesOutAfterMaxBlock() async throws {
        let (server, proxy) = try await brokerBehindProxy()
        var config = ProducerConfig()
        config.bufferBytes = 4_096
        config.maxBlockMilliseconds = 300
        config.lingerMilliseconds = 0
        let producer = try await StrataProducer(bootstrap: ["127.0.0.1:\(proxy.port)"], config: config)
        try await producer.send(topic: "stall", key: nil, value: [1], partition: 0)
        proxy.stall(true)
        let value = [UInt8](repeating: 7, count: 1_000)
        var blocked: Error?
        for _ in 0..<10 {
            do {
                try await producer.enqueue(topic: "stall", key: nil, value: value, partition: 0)
            } catch {
                blocked = error
                break
            }
        }
        guard case .timedOut(let api, let milliseconds)? = blocked as? ClientError else {
            Issue.record("expected a max.block.ms timeout, got \(String(describing: blocked))")
            return
        }
        #expect(api.contains("buffer.memory") && milliseconds == 300)
        await proxy.stop()
        await server.stop()
    }

    /// A fetch whose answer never comes (the proxy swallows it) is given up after
    /// `fetchMaxWaitMilliseconds` + `requestTimeoutMilliseconds`: the connection is closed and the
    /// fetch retried from the position, so the consumer does not stall for good.
    @Test func lostFetchAnswerIsRetriedAfterTheRequestTimeout() async throws {
        let (server, proxy) = try await brokerBehindProxy()
        let topic = TopicPartition("lost", 0)
        let producer = try await StrataProducer(bootstrap: server.bootstrap)
        _ = try await producer.send(topic: topic.topic, key: nil, value: Array("first".utf8), partition: 0)
        try await producer.close()
        var config = ConsumerConfig()
        config.fetchMaxWaitMilliseconds = 100
        // Every request of the consumer has this timeout: short enough for a quick test, long enough
        // for its connects and metadata on a loaded machine.
        config.requestTimeoutMilliseconds = 10_000
        let consumer = try await StrataConsumer(bootstrap: ["127.0.0.1:\(proxy.port)"], config: config)
        try await consumer.assign(topic: topic.topic, partitions: [0], from: .earliest)
        var records = consumer.records.makeAsyncIterator()
        #expect(try await records.next().map { String(buffer: $0.value!) } == "first")
        let connectionsBefore = proxy.accepted
        // The consumer keeps a long-poll fetch in flight; its next (empty) answer is dropped.
        proxy.stall(true)
        let deadline = ContinuousClock.now + .seconds(30)
        while proxy.swallowedBytes == 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        proxy.stall(false)
        #expect(proxy.swallowedBytes > 0, "an answer was lost")
        // Appended in-process (no client connection through the proxy to lose anything else).
        var batch = RecordBatchBuilder()
        batch.append(key: nil, value: Array("second".utf8), timestamp: 0)
        _ = try #require(server.logs.log(for: topic)).append(try RecordBatch(buffer: batch.build()))
        #expect(try await records.next().map { String(buffer: $0.value!) } == "second")
        #expect(proxy.accepted > connectionsBefore, "the stalled connection was replaced")
        await consumer.close()
        await proxy.stop()
        await server.stop()
    }

    /// Every request is bounded by the request timeout, not only fetches and produces: an answer
    /// the proxy swallows closes the connection and fails the request as retriable, instead of
    /// leaving it waiting until the broker reaps the idle connection (10 minutes).
    @Test func lostAnswerToAnyRequestClosesTheConnectionAfterTheRequestTimeout() async throws {
        let (server, proxy) = try await brokerBehindProxy()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // The in-process broker shares the test process's threads with the whole parallel suite and
        // may answer the connect's ApiVersions later than 5 s: connect again until it does (bounded).
        var connected: BrokerConnection?
        let connectDeadline = ContinuousClock.now + .seconds(120)
        while connected == nil && ContinuousClock.now < connectDeadline {
            connected = try? await BrokerConnection.connect(
                host: "127.0.0.1", port: proxy.port, group: group, requestTimeout: .seconds(5))
        }
        let connection = try #require(connected, "connected within 120 s")
        proxy.stall(true)
        let pending = try connection.submit(ApiVersionsRequest())
        let deadline = ContinuousClock.now + .seconds(30)
        while connection.isActive && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(!connection.isActive, "the connection was closed after the request timeout")
        if !connection.isActive {
            await #expect(throws: ClientError.connectionClosed(broker: connection.address)) {
                _ = try await pending.get()
            }
        }
        proxy.stall(false)
        await connection.close()
        try await group.shutdownGracefully()
        await proxy.stop()
        await server.stop()
    }

    @Test func deliveryReportsAccountForEveryEnqueuedRecord() async throws {
        let server = try await InProcessServer()
        var config = ProducerConfig()
        config.deliveryReports = true
        config.batchBytes = 1_024
        let producer = try await StrataProducer(bootstrap: server.bootstrap, config: config)
        var ids: [UInt64: String] = [:]
        for index in 0..<2_000 {
            let value = "value-\(index)"
            let id = try await producer.enqueue(
                topic: "reports", key: Array("k\(index % 5)".utf8), value: Array(value.utf8))
            ids[id] = value
        }
        try await producer.close()
        var placed: [UInt64: (Int32, Int64)] = [:]
        for await report in producer.deliveryReports {
            #expect(report.error == nil)
            for (index, id) in report.recordIds.enumerated() {
                #expect(placed[id] == nil, "record \(id) reported twice")
                placed[id] = (report.partition, report.offset(at: index) ?? -1)
            }
        }
        #expect(Set(placed.keys) == Set(ids.keys))
        let partitions = try await readAll(server, topic: "reports", expected: ids.count)
        for (id, (partition, offset)) in placed {
            let record = partitions[partition]?.first { $0.offset == offset }
            #expect(record.map { String(buffer: $0.value!) } == ids[id], "record \(id) at \(partition)/\(offset)")
        }
        await server.stop()
    }

    @Test func consumerReconnectsAfterDroppedConnectionsWithoutGapsOrRepeats() async throws {
        let (server, proxy) = try await brokerBehindProxy()
        let producer = try await StrataProducer(bootstrap: server.bootstrap)
        let total = 20_000
        for index in 0..<total {
            try await producer.enqueue(topic: "reread", key: nil, value: Array("\(index)".utf8), partition: 0)
        }
        try await producer.close()
        var config = ConsumerConfig()
        config.partitionFetchMaxBytes = 4_096
        config.retryBackoffMilliseconds = 10
        let consumer = try await StrataConsumer(bootstrap: ["127.0.0.1:\(proxy.port)"], config: config)
        try await consumer.assign(topic: "reread", from: .earliest)
        let before = proxy.accepted
        var expected = 0
        for try await record in consumer.records {
            #expect(record.offset == Int64(expected) && String(buffer: record.value!) == "\(expected)")
            expected += 1
            if expected % 2_500 == 0 { proxy.dropAll() }
            if expected == total { break }
        }
        #expect(expected == total)
        #expect(proxy.accepted > before + 3, "the consumer reconnected after the drops")
        await consumer.close()
        await proxy.stop()
        await server.stop()
    }

    @Test func corruptBatchFromTheBrokerIsATypedErrorNamingTheOffset() async throws {
        // Flip one byte inside the third batch's records on disk; the broker serves bytes as stored.
        let server = try await threeRecordsWithTheLastPatched(topic: "rot") { value, byte in
            (value.lowerBound + 3, byte(value.lowerBound + 3) ^ 0xFF)
        }

        let consumer = try await StrataConsumer(bootstrap: server.bootstrap)
        try await consumer.assign(topic: "rot", from: .earliest)
        do {
            for try await _ in consumer.records {}
            Issue.record("a corrupt batch was consumed")
        } catch ClientError.corruptBatch(let topic, let partition, let offset, let reason) {
            #expect(topic == "rot" && partition == 0 && offset == 2, "\(reason)")
        }
        await consumer.close()

        // check.crcs=false (librdkafka's default): the flipped byte is inside a value, so the
        // batch still parses and is delivered as stored.
        var unchecked = ConsumerConfig()
        unchecked.checkCRCs = false
        let trusting = try await StrataConsumer(bootstrap: server.bootstrap, config: unchecked)
        try await trusting.assign(topic: "rot", from: .earliest)
        var values: [String] = []
        for try await record in trusting.records {
            values.append(String(buffer: record.value!))
            if values.count == 3 { break }
        }
        #expect(values.prefix(2) == ["value number 0", "value number 1"])
        #expect(values.count == 3 && values[2] != "value number 2")
        await trusting.close()
        await server.stop()
    }

    /// With CRCs unchecked, a record whose fields do not parse is found only when decoded, which the
    /// consumer does as the caller reads: the records before it arrive, then a typed error naming
    /// the batch.
    @Test func undecodableRecordFailsWhenReachedAfterTheRecordsBeforeIt() async throws {
        // The third record's value length (varint before the value) now claims more than the record holds.
        let server = try await threeRecordsWithTheLastPatched(topic: "bent") { value, _ in (value.lowerBound - 1, 0x7E)
        }

        var unchecked = ConsumerConfig()
        unchecked.checkCRCs = false
        let consumer = try await StrataConsumer(bootstrap: server.bootstrap, config: unchecked)
        try await consumer.assign(topic: "bent", from: .earliest)
        var values: [String] = []
        do {
            for try await record in consumer.records { values.append(String(buffer: record.value!)) }
            Issue.record("an undecodable record was consumed")
        } catch ClientError.corruptBatch(let topic, let partition, let offset, let reason) {
            #expect(topic == "bent" && partition == 0 && offset == 2, "\(reason)")
        }
        #expect(values == ["value number 0", "value number 1"])
        await consumer.close()
        await server.stop()
    }

    /// A server whose `topic` partition 0 holds three uncompressed one-record batches, "value number
    /// 0" to "2", with one byte of the segment file rewritten: `patch` gets the position of the last
    /// value in the file and a reader of its bytes, and returns (position, new byte).
    private func threeRecordsWithTheLastPatched(
        topic: String, _ patch: (Range<Int>, (Int) -> UInt8) -> (Int, UInt8)
    ) async throws -> InProcessServer {
        let server = try await InProcessServer()
        var config = ProducerConfig()
        config.compression = .none
        let producer = try await StrataProducer(bootstrap: server.bootstrap, config: config)
        for index in 0..<3 {
            try await producer.send(topic: topic, key: nil, value: Array("value number \(index)".utf8), partition: 0)
        }
        try await producer.close()
        let path = server.directory + "/\(topic)-0/00000000000000000000.log"
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        let contents = try handle.readToEnd() ?? Data()
        let last = try #require(contents.range(of: Data("value number 2".utf8)))
        let (position, byte) = patch(last) { contents[$0] }
        try handle.seek(toOffset: UInt64(position))
        handle.write(Data([byte]))
        try handle.close()
        return server
    }
}

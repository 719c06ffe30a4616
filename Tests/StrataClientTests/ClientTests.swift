import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import StrataBroker
import StrataClient
import StrataRecords
import StrataStorage
import Synchronization
import Testing

/// The broker in-process on a loopback port (real sockets, real storage in a temp directory).
final class InProcessServer: Sendable {
    let directory: String
    let logs: LogManager
    let group: MultiThreadedEventLoopGroup
    let serviceGroup: ServiceGroup
    let runner: Task<Void, Error>
    let port: Int

    init(configure: (inout BrokerConfig) -> Void = { _ in }) async throws {
        var quiet = Logger(label: "strata.client-test")
        quiet.logLevel = .critical
        directory = NSTemporaryDirectory() + "strata-client-\(UUID().uuidString)"
        var config = BrokerConfig()
        config.listenHost = "127.0.0.1"
        config.listenPort = 0
        config.numPartitions = 3
        configure(&config)
        logs = try LogManager.open(dataDirectory: directory, defaultConfig: config.logDefaults, logger: quiet)
        let broker = Broker(config: config, logs: logs, logger: quiet)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let server = KafkaServer(broker: broker, group: group, logger: quiet) { continuation.yield($0) }
        serviceGroup = ServiceGroup(configuration: .init(services: [.init(service: server)], logger: quiet))
        let services = serviceGroup
        runner = Task { try await services.run() }
        var iterator = stream.makeAsyncIterator()
        guard let bound = await iterator.next() else { throw ClientError.closed }
        port = bound
    }

    var bootstrap: [String] { ["127.0.0.1:\(port)"] }

    func stop() async {
        await serviceGroup.triggerGracefulShutdown()
        _ = try? await runner.value
        try? logs.close()
        try? await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

@Suite struct PartitionerTests {
    @Test func murmur2MatchesJavaVectors() {
        let vectors: [(String, UInt32, Int32, Int32)] = [
            ("kafka", 0xd067_cf64, 1, 4), ("giberish123456789", 0x8f55_2b0c, 2, 2), ("1234", 0x9fc9_7b14, 0, 0),
            ("", 0x106e_08d9, 0, 3), ("hello", 0x7f1d_dbbd, 0, 3),
        ]
        for (key, hash, mod3, mod6) in vectors {
            #expect(Partitioner.murmur2(Array(key.utf8)) == hash, "\(key)")
            #expect(Partitioner.murmur2.partition(for: Array(key.utf8), count: 3) == mod3)
            #expect(Partitioner.murmur2.partition(for: Array(key.utf8), count: 6) == mod6)
        }
        #expect(Partitioner.murmur2.partition(for: nil, count: 3) == nil)
    }

    @Test func crc32MatchesLibrdkafkaVectors() {
        #expect(Partitioner.crc32(Array("123456789".utf8)) == 0xcbf4_3926)
        #expect(Partitioner.crc32(Array("kafka".utf8)) == 0x5bbc_7517)
        #expect(Partitioner.crc32.partition(for: Array("kafka".utf8), count: 3) == 2)
        #expect(Partitioner.crc32.partition(for: [], count: 3) == nil, "empty keys are spread like null keys")
    }
}

@Suite struct ClientTests {
    @Test func producerBatchesAndConsumerReadsEverythingBack() async throws {
        let server = try await InProcessServer()
        var config = ProducerConfig()
        config.lingerMilliseconds = 5
        let producer = try await StrataProducer(bootstrap: server.bootstrap, config: config)
        let count = 3000
        for index in 0..<count {
            try await producer.enqueue(
                topic: "events", key: Array("user-\(index % 50)".utf8),
                value: Array("payload-\(index)".utf8),
                headers: [RecordHeader(key: "n", value: ByteBuffer(string: "\(index)"))])
        }
        try await producer.flush()
        let consumer = try await StrataConsumer(bootstrap: server.bootstrap)
        try await consumer.assign(topic: "events", from: .earliest)
        var seen: [Int32: [Int64]] = [:]
        var received = 0
        for try await record in consumer.records {
            let key = try #require(record.key.map { String(buffer: $0) })
            let value = try #require(record.value.map { String(buffer: $0) })
            let index = Int(value.dropFirst("payload-".count))!
            #expect(key == "user-\(index % 50)")
            #expect(record.headers.first.map { String(buffer: $0.value!) } == "\(index)")
            #expect(
                Partitioner.murmur2.partition(for: Array(key.utf8), count: 3) == record.partition,
                "placed like Java's partitioner")
            seen[record.partition, default: []].append(record.offset)
            received += 1
            if received == count { break }
        }
        for (_, offsets) in seen { #expect(offsets == Array(0..<Int64(offsets.count)), "contiguous, in order") }
        // Batching happened: far fewer batches than records on disk.
        let log = try #require(server.logs.log(for: TopicPartition("events", 0)))
        var bytes = try #require(try log.read(from: 0, maxBytes: 1 << 24).slice).makeByteBuffer()
        var batches = 0
        var lz4 = 0
        while let batch = try RecordBatch.next(from: &bytes) {
            batches += 1
            if try batch.header().compression == .lz4 { lz4 += 1 }
        }
        #expect(batches < (seen[0]?.count ?? 0) / 5)
        #expect(lz4 > 0, "large batches are LZ4-compressed")
        try await producer.close()
        await consumer.close()
        await server.stop()
    }

    /// Small batches, one key: dozens of batches of one partition are in flight at once, and they
    /// must be stored in the order the records were enqueued.
    @Test(arguments: [Int16(1), -1])
    func batchesOfAPartitionArriveInOrderWithManyInFlight(acks: Int16) async throws {
        let server = try await InProcessServer()
        var config = ProducerConfig()
        config.acks = acks
        config.batchBytes = 512
        config.lingerMilliseconds = 0
        let producer = try await StrataProducer(bootstrap: server.bootstrap, config: config)
        let count = 4000
        for index in 0..<count {
            try await producer.enqueue(topic: "ordered", key: Array("one-key".utf8), value: Array("\(index)".utf8))
        }
        try await producer.flush()
        let consumer = try await StrataConsumer(bootstrap: server.bootstrap)
        let partition = try #require(Partitioner.murmur2.partition(for: Array("one-key".utf8), count: 3))
        try await consumer.assign(topic: "ordered", partitions: [partition], from: .earliest)
        var values: [Int] = []
        for try await record in consumer.records {
            values.append(Int(String(buffer: record.value!))!)
            if values.count == count { break }
        }
        let firstOutOfOrder = zip(values, 0...).first { $0.0 != $0.1 }.map { "value \($0.0) at position \($0.1)" }
        #expect(values.count == count && firstOutOfOrder == nil, "\(firstOutOfOrder ?? "count \(values.count)")")
        try await producer.close()
        await consumer.close()
        await server.stop()
    }

    @Test func sendReturnsOffsetsPerAcks() async throws {
        let server = try await InProcessServer()
        for acks: Int16 in [1, -1] {
            var config = ProducerConfig()
            config.acks = acks
            config.lingerMilliseconds = 0
            let producer = try await StrataProducer(bootstrap: server.bootstrap, config: config)
            let first = try await producer.send(
                topic: "acks\(acks < 0 ? "all" : "1")", key: nil,
                value: Array("a".utf8), partition: 1)
            let second = try await producer.send(topic: first.topic, key: nil, value: Array("b".utf8), partition: 1)
            #expect(first.partition == 1 && first.offset == 0 && second.offset == 1)
            try await producer.close()
        }
        var fireAndForget = ProducerConfig()
        fireAndForget.acks = 0
        let producer = try await StrataProducer(bootstrap: server.bootstrap, config: fireAndForget)
        let metadata = try await producer.send(topic: "acks0", key: nil, value: Array("x".utf8), partition: 0)
        #expect(metadata.offset == -1)
        try await producer.close()
        let consumer = try await StrataConsumer(bootstrap: server.bootstrap)
        try await consumer.assign(topic: "acks0", partitions: [0], from: .earliest)
        var iterator = consumer.records.makeAsyncIterator()
        #expect(try await iterator.next().map { String(buffer: $0.value!) } == "x", "acks=0 data still arrives")
        await consumer.close()
        await server.stop()
    }

    @Test func consumerStartPositionsAndOutOfRangeReset() async throws {
        let server = try await InProcessServer()
        var config = ProducerConfig()
        config.lingerMilliseconds = 0
        let producer = try await StrataProducer(bootstrap: server.bootstrap, config: config)
        for index in 0..<10 {
            try await producer.send(
                topic: "pos", key: nil, value: Array("v\(index)".utf8), partition: 0,
                timestamp: 1_000 + Int64(index) * 10)
        }
        let consumer = try await StrataConsumer(bootstrap: server.bootstrap)
        try await consumer.assign(topic: "pos", partitions: [0], from: .timestamp(1_045))
        #expect(await consumer.position(topic: "pos", partition: 0) == 5)
        try await consumer.seek(topic: "pos", partition: 0, to: .latest)
        #expect(await consumer.position(topic: "pos", partition: 0) == 10)
        try await consumer.seek(topic: "pos", partition: 0, to: .offset(7))
        var iterator = consumer.records.makeAsyncIterator()
        #expect(try await iterator.next()?.offset == 7, "records below the position inside a batch are skipped")
        let late = try await StrataConsumer(bootstrap: server.bootstrap)
        try await late.assign(topic: "pos", partitions: [0], from: .offset(999))
        var lateIterator = late.records.makeAsyncIterator()
        #expect(try await lateIterator.next()?.offset == 0, "out of range resets to earliest")
        try await producer.close()
        await consumer.close()
        await late.close()
        await server.stop()
    }

    /// A loop over `records` waiting at the log end (a long-poll fetch in flight) ends normally when
    /// the consumer is closed, with the records read before.
    @Test func closingTheConsumerEndsItsRecordSequence() async throws {
        let server = try await InProcessServer()
        let producer = try await StrataProducer(bootstrap: server.bootstrap)
        _ = try await producer.send(topic: "ending", key: nil, value: Array("only".utf8), partition: 0)
        try await producer.close()
        let consumer = try await StrataConsumer(bootstrap: server.bootstrap)
        try await consumer.assign(topic: "ending", partitions: [0], from: .earliest)
        let seen = Mutex<[String]>([])
        let reader = Task {
            for try await record in consumer.records { seen.withLock { $0.append(String(buffer: record.value!)) } }
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while seen.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        await consumer.close()
        try await reader.value
        #expect(seen.withLock { $0 } == ["only"])
        await server.stop()
    }
}

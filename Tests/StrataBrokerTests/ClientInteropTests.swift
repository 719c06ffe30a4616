import Foundation
import NIOCore
import StrataClient
import StrataRecords
import Testing

/// StrataClient and the C and Python clients on one real `strata` server: what one writes the
/// others read, byte for byte, and keys land on the same partitions as kafka-python's.
@Suite struct ClientInteropTests {
    static var peerScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/tools/interop/peer.py"
    }

    static func createTopic(_ server: ServerProcess, _ topic: String, partitions: Int32) async throws {
        let admin = try await StrataAdmin(bootstrap: [server.bootstrap])
        try await admin.createTopic(topic, partitions: partitions)
        try await admin.close()
    }

    @Test(.enabled(if: InteropTools.pythonAvailable))
    func keysLandOnTheSamePartitionsAsKafkaPython() async throws {
        let python = try #require(InteropTools.python, "python venv missing: run tools/setup")
        let server = try ServerProcess()
        defer { server.cleanup() }
        try await Self.createTopic(server, "placed-python", partitions: 6)
        try await Self.createTopic(server, "placed-swift", partitions: 6)
        let keys = (0..<60).map { "customer-\($0 * 7919)" } + ["", "a", "kafka", "ключ", "🔑"]
        let result = try runCommand(python, [Self.peerScript, "placement", server.bootstrap, "placed-python"] + keys)
        #expect(result.status == 0, "\(result.stderr)")
        let theirs = try JSONDecoder().decode([String: Int32].self, from: Data(result.stdout.utf8))

        let producer = try await StrataProducer(bootstrap: [server.bootstrap])
        var ours: [String: Int32] = [:]
        for key in keys {
            ours[key] = try await producer.send(
                topic: "placed-swift", key: Array(key.utf8), value: Array("placed".utf8)
            )
            .partition
        }
        try await producer.close()
        #expect(theirs.count == keys.count)
        for key in keys {
            #expect(
                ours[key] == theirs[key], "key \(key): StrataClient \(ours[key]!), kafka-python \(theirs[key] ?? -1)")
        }
        #expect(Set(ours.values).count > 3, "the keys spread over the partitions")
    }

    @Test(.enabled(if: InteropTools.pythonAvailable && InteropTools.kcatAvailable))
    func strataClientRecordsReadByKcatAndConfluentKafka() async throws {
        let python = try #require(InteropTools.python, "python venv missing: run tools/setup")
        let kcat = try #require(InteropTools.kcat, "kcat missing: run tools/setup")
        let server = try ServerProcess()
        defer { server.cleanup() }
        try await Self.createTopic(server, "from-swift", partitions: 3)
        var config = ProducerConfig()
        config.batchBytes = 4_096
        let producer = try await StrataProducer(bootstrap: [server.bootstrap], config: config)
        let count = 3_000
        for index in 0..<count {
            // Values long enough that batches are LZ4-compressed.
            try await producer.enqueue(
                topic: "from-swift", key: Array("key-\(index % 10)".utf8),
                value: Array("value-\(index)-\(String(repeating: "x", count: 40))".utf8),
                headers: [RecordHeader(key: "seq", value: ByteBuffer(string: "\(index)"))])
        }
        try await producer.close()

        let read = try runCommand(python, [Self.peerScript, "consume", server.bootstrap, "from-swift", "\(count)"])
        #expect(read.status == 0, "\(read.stderr)")
        struct Seen: Decodable {
            var partition: Int32
            var offset: Int64
            var key: String?
            var value: String?
            var headers: [[String?]]
        }
        let seen = try JSONDecoder().decode([Seen].self, from: Data(read.stdout.utf8))
        #expect(seen.count == count)
        for record in seen {
            let index = Int(record.headers.first?[1] ?? "") ?? -1
            #expect(record.key == "key-\(index % 10)" && record.value?.hasPrefix("value-\(index)-") == true)
            #expect(record.headers.first?[0] == "seq")
            #expect(Partitioner.murmur2.partition(for: Array(record.key!.utf8), count: 3) == record.partition)
        }
        let kcatRead = try runCommand(
            kcat, ["-C", "-b", server.bootstrap, "-t", "from-swift", "-o", "beginning", "-e", "-q", "-f", "%k %h\\n"])
        #expect(kcatRead.status == 0, "\(kcatRead.stderr)")
        let lines = kcatRead.stdout.split(separator: "\n")
        #expect(lines.count == count)
        #expect(Set(lines.map { $0.split(separator: " ")[1] }).count == count, "every header seq once")
    }

    @Test(.enabled(if: InteropTools.pythonAvailable))
    func confluentKafkaRecordsReadByStrataClient() async throws {
        let python = try #require(InteropTools.python, "python venv missing: run tools/setup")
        let server = try ServerProcess()
        defer { server.cleanup() }
        try await Self.createTopic(server, "from-c", partitions: 3)
        let count = 2_000
        let wrote = try runCommand(python, [Self.peerScript, "produce", server.bootstrap, "from-c", "\(count)"])
        #expect(wrote.status == 0, "\(wrote.stderr)")
        let consumer = try await StrataConsumer(bootstrap: [server.bootstrap])
        try await consumer.assign(topic: "from-c", from: .earliest)
        var seen = Set<Int>()
        for try await record in consumer.records {
            let value = String(buffer: record.value!)
            let index = Int(value.dropFirst("value-".count))!
            #expect(String(buffer: record.key!) == "key-\(index % 10)")
            #expect(
                record.headers.first.map { $0.key == "seq" && $0.value.map { String(buffer: $0) } == "\(index)" }
                    == true)
            #expect(Partitioner.murmur2.partition(for: Array("key-\(index % 10)".utf8), count: 3) == record.partition)
            #expect(seen.insert(index).inserted, "record \(index) read twice")
            if seen.count == count { break }
        }
        await consumer.close()
    }
}

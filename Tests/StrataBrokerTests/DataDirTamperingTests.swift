import Foundation
import NIOCore
import StrataProtocol
import StrataRecords
import Testing

/// A data directory someone has tampered with (issue #10): the real binary either refuses to start
/// with a message naming the file, or sets the file aside with a warning naming it, and never
/// serves records that are not the partition's own.
@Suite(.serialized) struct DataDirTamperingTests {
    /// A data directory holding topic `t` (2 partitions): partition p has "p<p>-0" … "p<p>-9".
    func preparedDataDirectory() throws -> String {
        let data = NSTemporaryDirectory() + "strata-tamper-\(UUID().uuidString)"
        let server = try ServerProcess(extraArguments: ["--set", "num.partitions=2"], dataDirectory: data)
        let client = try TamperClient(port: server.port)
        for partition: Int32 in 0..<2 {
            try client.produce((0..<10).map { "p\(partition)-\($0)" }, partition: partition)
        }
        #expect(server.stop() == 0)
        try? FileManager.default.removeItem(atPath: server.stderrPath)
        return data
    }

    @Test func unknownFilesAndBadPartitionDirectoriesAreNamedAndIgnored() throws {
        let data = try preparedDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        try "left by an operator".write(toFile: data + "/notes.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: data + "/t-x", withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: data + "/orders", withIntermediateDirectories: false)
        let server = try ServerProcess(dataDirectory: data)
        defer { server.cleanup() }
        let client = try TamperClient(port: server.port)
        #expect(try client.fetch(partition: 0) == (0..<10).map { "p0-\($0)" })
        #expect(try client.fetch(partition: 1) == (0..<10).map { "p1-\($0)" })
        for name in ["notes.txt", "t-x", "orders"] {
            #expect(server.stderrText.contains(name), "a warning names \(name):\n\(server.stderrText)")
        }
        #expect(server.stop() == 0)
    }

    @Test func segmentFromAnotherPartitionIsNeverServed() throws {
        let data = try preparedDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        // Partition 1's first segment (offsets 0…9) appears in partition 0 as a later segment.
        let foreign = data + "/t-0/00000000000000000050.log"
        try FileManager.default.copyItem(atPath: data + "/t-1/00000000000000000000.log", toPath: foreign)
        // Clean-shutdown start (header check) and crash-recovery start (full scan) both refuse it.
        for crashed in [false, true] {
            if crashed { try? FileManager.default.removeItem(atPath: data + "/.strata_cleanshutdown") }
            #expect {
                _ = try ServerProcess(dataDirectory: data)
            } throws: { error in
                "\(error)".contains("00000000000000000050.log") && "\(error)".contains("another partition")
            }
        }
        try? FileManager.default.removeItem(atPath: data + ".stderr.log")
        // Moved away, the partition serves its own records again.
        try FileManager.default.removeItem(atPath: foreign)
        let server = try ServerProcess(dataDirectory: data)
        defer { server.cleanup() }
        #expect(try TamperClient(port: server.port).fetch(partition: 0) == (0..<10).map { "p0-\($0)" })
        #expect(server.stop() == 0)
    }

    @Test func truncatedMetaPropertiesRefusesToStartNamingTheFile() throws {
        let data = try preparedDataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let meta = data + "/meta.properties"
        let text = try String(contentsOfFile: meta, encoding: .utf8)
        try String(text.prefix(12)).write(toFile: meta, atomically: true, encoding: .utf8)
        #expect {
            _ = try ServerProcess(dataDirectory: data)
        } throws: { error in
            "\(error)".contains("meta.properties")
        }
        try? FileManager.default.removeItem(atPath: data + ".stderr.log")
    }
}

/// Produces and fetches topic `t` over one raw connection.
final class TamperClient {
    let connection: RawConnection
    private var correlationId: Int32 = 0

    init(port: Int) throws { connection = try RawConnection(port: port) }

    private func call<R: KafkaRequest>(_ request: R, version: Int16) throws -> ByteBuffer {
        correlationId += 1
        var buffer = ByteBuffer()
        request.encodeFrame(into: &buffer, version: version, correlationId: correlationId, clientId: "tamper")
        connection.send(buffer)
        guard var frame = connection.receiveFrame() else { throw InteropError("no answer to \(R.self)") }
        _ = try ResponseHeader(from: &frame, version: R.apiKey.responseHeaderVersion(version))
        return frame
    }

    func produce(_ values: [String], partition: Int32) throws {
        _ = try call(MetadataRequest(topics: ["t"]), version: 4)
        var builder = RecordBatchBuilder()
        for value in values { builder.append(key: nil, value: Array(value.utf8), timestamp: 1) }
        let request = ProduceRequest(
            acks: -1, timeoutMs: 5000,
            topics: [TopicPartitions(name: "t", partitions: [.init(index: partition, records: try builder.build())])])
        var answer = try call(request, version: 7)
        let code = try ProduceResponse(from: &answer, version: 7).responses.first?.partitions.first?.errorCode
        guard code == .noError else { throw InteropError("produce: \(String(describing: code))") }
    }

    func fetch(partition: Int32) throws -> [String] {
        let request = FetchRequest(
            maxWaitMs: 0, minBytes: 0,
            topics: [
                TopicPartitions(
                    name: "t", partitions: [.init(partition: partition, fetchOffset: 0, partitionMaxBytes: 1 << 20)])
            ])
        var answer = try call(request, version: 11)
        let data = try FetchResponse(from: &answer, version: 11).responses.first?.partitions.first
        return try values(of: data?.records)
    }
}

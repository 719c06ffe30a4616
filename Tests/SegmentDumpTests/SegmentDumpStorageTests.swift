import Foundation
import NIOCore
import StrataRecords
import StrataStorage
import Testing

/// `segment-dump` on partition directories the storage engine writes in the same test: a closed
/// log verifies clean, and a live one (indexes still preallocated, never trimmed) does too.
@Suite struct SegmentDumpStorageTests {
    /// Appends `count` batches alternating uncompressed and LZ4, 3 records each; returns records written.
    func fill(_ log: PartitionLog, batches count: Int) throws -> Int {
        for index in 0..<count {
            var builder = RecordBatchBuilder(compression: index % 2 == 0 ? .none : .lz4)
            for record in 0..<3 {
                builder.append(key: Array("key-\(record)".utf8), value: Array("batch \(index) record \(record)".utf8),
                               timestamp: 1_700_000_000_000 + Int64(index * 10 + record))
            }
            try log.append(try RecordBatch(buffer: try builder.build()))
        }
        return count * 3
    }

    func checkClean(_ directory: String, records: Int, segments: Int) throws {
        let result = try SegmentDumpTool.run(["--json", "--verify", "--records", directory.components(separatedBy: "/")
            .suffix(2).joined(separator: "/")], in: URL(fileURLWithPath: directory).deletingLastPathComponent()
            .deletingLastPathComponent())
        #expect(result.exitedNormally && result.status == 0, "exit \(result.status): \(result.problems)")
        let total = try #require(result.jsonLines.last ?? nil)
        #expect(total["type"] as? String == "total")
        #expect(total["records"] as? Int == records)
        #expect(total["firstOffset"] as? Int == 0 && total["lastOffset"] as? Int == records - 1)
        #expect(total["codecs"] as? [String] == ["none", "lz4"])
        #expect(total["problems"] as? Int == 0)
        let logFiles = result.jsonLines.compactMap { $0 }
            .filter { $0["type"] as? String == "file" && $0["kind"] as? String == "log" }
        #expect(logFiles.count == segments)

        let records = try SegmentDumpTool.run(["--json", "--records", directory.components(separatedBy: "/")
            .suffix(2).joined(separator: "/")], in: URL(fileURLWithPath: directory).deletingLastPathComponent()
            .deletingLastPathComponent())
        let offsets = records.jsonLines.compactMap { $0 }.filter { $0["type"] as? String == "record" }
            .compactMap { $0["offset"] as? Int }
        #expect(offsets == Array(0..<offsets.count) && offsets.count == total["records"] as? Int)
    }

    @Test func verifiesAPartitionWrittenByTheStorageEngine() throws {
        let scratch = try ScratchDirectory("segment-dump-storage")
        defer { scratch.cleanup() }
        let data = scratch.path + "/data"
        let manager = try LogManager.open(dataDirectory: data, clock: ManualClock())
        let log = try manager.createTopic("events", partitionCount: 1,
                                          configOverrides: ["segment.bytes": "2048", "index.interval.bytes": "200"])[0]
        let records = try fill(log, batches: 40)
        let segments = log.segmentCount
        #expect(segments >= 3)

        // Live: the active segment's indexes are still preallocated and full of zeros.
        try checkClean(log.directory, records: records, segments: segments)
        try manager.close()
        // Closed: indexes trimmed, the last segment's too.
        try checkClean(log.directory, records: records, segments: segments)
    }
}

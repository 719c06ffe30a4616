import Foundation
import NIOCore
import StrataRecords
@testable import StrataStorage

/// Builds the segment directories under `data-fixtures/segments/` deterministically: fixed
/// timestamps, a `ManualClock`, and `PartitionLog` doing the writing (so offsets, leader epochs and
/// indexes are exactly what the storage engine produces). Damaged fixtures are written intact, closed,
/// and then damaged in a known place recorded in `damage.json` beside the partition directory.
///
/// Each fixture is `<root>/<name>/<topic>-0/` plus, for damaged ones, `<root>/<name>/damage.json`.
enum FixtureGenerator {
    /// First record timestamp of every fixture (2023-11-14T22:13:20Z).
    static let baseTimestamp: Int64 = 1_700_000_000_000

    /// One fixture: a name, the partition it holds, its log config, its batches and optional damage.
    struct Fixture: Sendable {
        var name: String
        var partition = TopicPartition("t", 0)
        var config: LogConfig
        var batches: [RecordBatch]
        /// Damages the closed partition directory; returns the expected problems (file relative to
        /// the fixture directory, byte position in that file, problem kind).
        var damage: (@Sendable (_ partitionDirectory: String) throws -> [ExpectedProblem])?
        /// Number of leading batches that survive recovery (nil: all of them).
        var intactBatches: Int?
    }

    /// One problem a damaged fixture must make `segment-dump` report (written to `damage.json`).
    struct ExpectedProblem: Codable, Sendable, Equatable {
        var file: String
        var position: Int
        var kind: String
        var description: String
    }

    static var all: [Fixture] {
        [uncompressed, lz4, multiSegment, headersNullsTombstones, consumerOffsets, tornTail, corruptCRC, badIndex]
    }

    // MARK: Fixtures

    static var uncompressed: Fixture {
        Fixture(name: "uncompressed", config: config(indexIntervalBytes: 256), batches: textBatches(count: 12))
    }

    static var lz4: Fixture {
        var batches: [RecordBatch] = []
        for index in 0..<8 {
            var builder = RecordBatchBuilder(compression: .lz4)
            for record in 0..<5 {
                let value = String(repeating: "event \(index) payload ", count: 4 + record)
                builder.append(key: Array("user-\(record)".utf8), value: Array(value.utf8),
                               timestamp: timestamp(batch: index, record: record))
            }
            batches.append(try! RecordBatch(buffer: try! builder.build()))
        }
        return Fixture(name: "lz4", config: config(indexIntervalBytes: 128), batches: batches)
    }

    static var multiSegment: Fixture {
        var fixtureConfig = config(indexIntervalBytes: 128)
        fixtureConfig.segmentBytes = 1024
        return Fixture(name: "multi-segment", config: fixtureConfig, batches: textBatches(count: 24, recordsMax: 2))
    }

    static var headersNullsTombstones: Fixture {
        var batches: [RecordBatch] = []
        let header = { (key: String, value: String?) in RecordHeader(key: key, value: value.map(ByteBuffer.init)) }
        var plain = RecordBatchBuilder()
        plain.append(key: Array("k1".utf8), value: Array("v1".utf8),
                     headers: [header("trace-id", "abc-123"), header("empty", ""), header("null-header", nil)],
                     timestamp: timestamp(batch: 0, record: 0))
        plain.append(key: nil, value: Array("keyless".utf8), timestamp: timestamp(batch: 0, record: 1))
        plain.append(key: Array("k1".utf8), value: nil, headers: [header("reason", "deleted")],
                     timestamp: timestamp(batch: 0, record: 2))
        plain.append(key: nil as [UInt8]?, value: nil, timestamp: timestamp(batch: 0, record: 3))
        batches.append(build(plain))

        var idempotent = RecordBatchBuilder(producerId: 4242, producerEpoch: 3, baseSequence: 10)
        for record in 0..<3 {
            idempotent.append(key: Array("order-\(record)".utf8), value: Array("line 1\nline 2\ttab".utf8),
                              headers: [header("seq", "\(10 + record)")],
                              timestamp: timestamp(batch: 1, record: record))
        }
        batches.append(build(idempotent))

        var transactional = RecordBatchBuilder(producerId: 4343, producerEpoch: 0, baseSequence: 0,
                                               isTransactional: true)
        transactional.append(key: Array("tx".utf8), value: Array("in a transaction".utf8),
                             timestamp: timestamp(batch: 2, record: 0))
        batches.append(build(transactional))

        var appendTime = RecordBatchBuilder(timestampType: .logAppendTime)
        appendTime.append(key: [0x00, 0xff, 0x10], value: [0xde, 0xad, 0xbe, 0xef, 0x80],
                          timestamp: timestamp(batch: 3, record: 0))
        appendTime.append(key: Array("long".utf8), value: Array(repeating: UInt8(ascii: "x"), count: 1500),
                          timestamp: timestamp(batch: 3, record: 1))
        batches.append(build(appendTime))
        return Fixture(name: "headers-nulls-tombstones", config: config(indexIntervalBytes: 64), batches: batches)
    }

    static var consumerOffsets: Fixture {
        let commitKey = OffsetsRecord.commitKey(type: 1, group: "my-group", topic: "events", partition: 0)
        var builder = RecordBatchBuilder()
        var record = 0
        func add(_ key: [UInt8], _ value: [UInt8]?) {
            builder.append(key: key, value: value, timestamp: timestamp(batch: 0, record: record))
            record += 1
        }
        add(commitKey, OffsetsRecord.commitValueV3(offset: 42, leaderEpoch: 0, metadata: "",
                                                   commitTimestamp: timestamp(batch: 0, record: 0)))
        add(OffsetsRecord.commitKey(type: 0, group: "legacy", topic: "events", partition: 1),
            OffsetsRecord.commitValueV1(offset: 7, metadata: "from v2 client", commitTimestamp: baseTimestamp,
                                        expireTimestamp: baseTimestamp + 86_400_000))
        add(OffsetsRecord.commitKey(type: 1, group: "old", topic: "events", partition: 2),
            OffsetsRecord.commitValueV0(version: 0, offset: 3, metadata: "m", commitTimestamp: baseTimestamp))
        add(OffsetsRecord.groupKey("my-group"),
            OffsetsRecord.groupValueV3(protocolType: "consumer", generation: 2, protocolName: "range",
                                       leader: "consumer-1-abc", stateTimestamp: baseTimestamp,
                                       memberId: "consumer-1-abc", clientId: "consumer-1", host: "/127.0.0.1"))
        add(commitKey, nil)
        add(OffsetsRecord.groupKey("old"), nil)
        add([0x00, 0x05, 0x00, 0x01, 0x67], [0x00, 0x00])
        return Fixture(name: "consumer-offsets", partition: TopicPartition("__consumer_offsets", 0),
                       config: config(indexIntervalBytes: 4096), batches: [build(builder)])
    }

    static var tornTail: Fixture {
        let batches = textBatches(count: 6)
        return Fixture(name: "torn-tail", config: config(indexIntervalBytes: 4096), batches: batches,
                       damage: { directory in
                           let log = directory + "/" + SegmentFileName.stem(0) + SegmentFileName.logSuffix
                           let size = try fileSize(log)
                           let lastSize = batches.last!.sizeInBytes
                           let lastStart = size - lastSize
                           try cut(log, to: lastStart + lastSize / 2)
                           return [ExpectedProblem(
                               file: "t-0/00000000000000000000.log", position: lastStart, kind: "truncatedBatch",
                               description: "last batch cut after \(lastSize / 2) of its \(lastSize) bytes")]
                       }, intactBatches: 5)
    }

    static var corruptCRC: Fixture {
        let batches = textBatches(count: 7)
        let victim = 3
        return Fixture(name: "corrupt-crc", config: config(indexIntervalBytes: 256), batches: batches,
                       damage: { directory in
                           let log = directory + "/" + SegmentFileName.stem(0) + SegmentFileName.logSuffix
                           let start = batches[..<victim].reduce(0) { $0 + $1.sizeInBytes }
                           let flipped = start + RecordBatchHeader.Layout.size + 5
                           try flip(log, at: flipped)
                           return [ExpectedProblem(
                               file: "t-0/00000000000000000000.log", position: start, kind: "crcMismatch",
                               description: "byte \(flipped) (inside the records of batch \(victim)) XOR 0xff")]
                       }, intactBatches: victim)
    }

    static var badIndex: Fixture {
        let batches = textBatches(count: 10)
        return Fixture(name: "bad-index", config: config(indexIntervalBytes: 128), batches: batches,
                       damage: { directory in
                           let stem = directory + "/" + SegmentFileName.stem(0)
                           let logSize = try fileSize(stem + SegmentFileName.logSuffix)
                           var entries = try readIndex(stem + SegmentFileName.indexSuffix)
                           precondition(entries.count >= 3, "bad-index needs three index entries")
                           // Entry 1 goes backwards; entry 2 points past the end of the log.
                           entries[1] = (entries[0].relativeOffset - 1, entries[0].position - 1)
                           entries[2] = (entries[2].relativeOffset, UInt32(logSize + 100))
                           try writeIndex(stem + SegmentFileName.indexSuffix, entries)
                           return [
                               ExpectedProblem(file: "t-0/00000000000000000000.index", position: 8,
                                               kind: "nonMonotonicIndex",
                                               description: "entry 1 lies below entry 0"),
                               ExpectedProblem(file: "t-0/00000000000000000000.index", position: 16,
                                               kind: "indexEntryPastLog",
                                               description: "entry 2 points 100 bytes past the end of the log"),
                           ]
                       })
    }

    // MARK: Generation

    /// Writes every fixture under `root` (which must exist).
    static func generateAll(into root: String) throws {
        for fixture in all { try generate(fixture, into: root + "/" + fixture.name) }
    }

    /// Writes one fixture into `directory` (created).
    static func generate(_ fixture: Fixture, into directory: String) throws {
        let partitionDirectory = directory + "/" + fixture.partition.directoryName
        try FileManager.default.createDirectory(atPath: partitionDirectory, withIntermediateDirectories: true)
        let log = try PartitionLog.open(
            directory: partitionDirectory, topicPartition: fixture.partition, config: fixture.config,
            options: .init(cleanShutdown: true), clock: ManualClock(baseTimestamp), executor: sharedExecutor,
            logger: quietLogger)
        for batch in fixture.batches { try log.append(batch) }
        try log.close()
        if let damage = fixture.damage {
            let problems = try damage(partitionDirectory)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            var data = try encoder.encode(["problems": problems])
            data.append(0x0a)
            try data.write(to: URL(fileURLWithPath: directory + "/damage.json"))
        }
    }

    // MARK: Helpers

    static func config(indexIntervalBytes: Int) -> LogConfig {
        var config = LogConfig()
        config.indexIntervalBytes = indexIntervalBytes
        config.segmentIndexBytes = 4096
        return config
    }

    static func timestamp(batch: Int, record: Int) -> Int64 {
        baseTimestamp + Int64(batch) * 1000 + Int64(record)
    }

    static func build(_ builder: RecordBatchBuilder) -> RecordBatch {
        try! RecordBatch(buffer: try! builder.build())
    }

    /// `count` uncompressed batches of 1…`recordsMax` text records of varying length.
    static func textBatches(count: Int, recordsMax: Int = 4) -> [RecordBatch] {
        (0..<count).map { index in
            var builder = RecordBatchBuilder()
            for record in 0..<(1 + index % recordsMax) {
                let filler = String(repeating: "abcdefghij", count: 1 + (index * 3 + record) % 7)
                builder.append(key: Array("key-\(index)-\(record)".utf8),
                               value: Array("value \(index).\(record) \(filler)".utf8),
                               timestamp: timestamp(batch: index, record: record))
            }
            return build(builder)
        }
    }

    static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }

    static func cut(_ path: String, to size: Int) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(size))
        try handle.close()
    }

    static func flip(_ path: String, at position: Int) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[position] ^= 0xff
        try data.write(to: URL(fileURLWithPath: path))
    }

    static func readIndex(_ path: String) throws -> [(relativeOffset: UInt32, position: UInt32)] {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        return stride(from: 0, to: data.count - 7, by: 8).map { start in
            let word = { (at: Int) in data[at..<at + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
            return (word(start), word(start + 4))
        }
    }

    static func writeIndex(_ path: String, _ entries: [(relativeOffset: UInt32, position: UInt32)]) throws {
        var buffer = ByteBuffer()
        for entry in entries {
            buffer.writeInteger(entry.relativeOffset)
            buffer.writeInteger(entry.position)
        }
        try Data(buffer.readableBytesView).write(to: URL(fileURLWithPath: path))
    }
}

/// `__consumer_offsets` keys and values spelled out byte by byte from Kafka's schemas
/// (reference/kafka-protocol.md §6.3). Independent of `StrataProtocol`'s codec on purpose, so the
/// fixture checks that codec rather than mirroring it.
enum OffsetsRecord {
    static func commitKey(type: Int16, group: String, topic: String, partition: Int32) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(type)
        writeString(group, to: &buffer)
        writeString(topic, to: &buffer)
        buffer.writeInteger(partition)
        return Array(buffer.readableBytesView)
    }

    static func groupKey(_ group: String) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int16(2))
        writeString(group, to: &buffer)
        return Array(buffer.readableBytesView)
    }

    /// v0 and v2 share a layout.
    static func commitValueV0(version: Int16, offset: Int64, metadata: String, commitTimestamp: Int64) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(version)
        buffer.writeInteger(offset)
        writeString(metadata, to: &buffer)
        buffer.writeInteger(commitTimestamp)
        return Array(buffer.readableBytesView)
    }

    static func commitValueV1(offset: Int64, metadata: String, commitTimestamp: Int64,
                              expireTimestamp: Int64) -> [UInt8] {
        commitValueV0(version: 1, offset: offset, metadata: metadata, commitTimestamp: commitTimestamp)
            + bigEndian(expireTimestamp)
    }

    static func commitValueV3(offset: Int64, leaderEpoch: Int32, metadata: String, commitTimestamp: Int64) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int16(3))
        buffer.writeInteger(offset)
        buffer.writeInteger(leaderEpoch)
        writeString(metadata, to: &buffer)
        buffer.writeInteger(commitTimestamp)
        return Array(buffer.readableBytesView)
    }

    /// A v3 group with one member holding a small subscription and assignment.
    static func groupValueV3(protocolType: String, generation: Int32, protocolName: String, leader: String,
                             stateTimestamp: Int64, memberId: String, clientId: String, host: String) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int16(3))
        writeString(protocolType, to: &buffer)
        buffer.writeInteger(generation)
        writeString(protocolName, to: &buffer)
        writeString(leader, to: &buffer)
        buffer.writeInteger(stateTimestamp)
        buffer.writeInteger(Int32(1))                 // members
        writeString(memberId, to: &buffer)
        buffer.writeInteger(Int16(-1))                // group_instance_id: null
        writeString(clientId, to: &buffer)
        writeString(host, to: &buffer)
        buffer.writeInteger(Int32(300_000))           // rebalance_timeout
        buffer.writeInteger(Int32(45_000))            // session_timeout
        let subscription: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 6] + Array("events".utf8) + [0xff, 0xff, 0xff, 0xff]
        buffer.writeInteger(Int32(subscription.count))
        buffer.writeBytes(subscription)
        let assignment: [UInt8] = [0, 1, 0, 0, 0, 1, 0, 6] + Array("events".utf8) + [0, 0, 0, 1, 0, 0, 0, 0]
            + [0xff, 0xff, 0xff, 0xff]
        buffer.writeInteger(Int32(assignment.count))
        buffer.writeBytes(assignment)
        return Array(buffer.readableBytesView)
    }

    private static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(Int16(string.utf8.count))
        buffer.writeString(string)
    }

    private static func bigEndian(_ value: Int64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}

import Foundation
import NIOCore
import StrataRecords
import Testing
@testable import StrataStorage

/// Crash recovery: the process "dies" by dropping the log without `close()` (page cache keeps what
/// was written, as after kill -9), the test damages files, and reopening must serve exactly the
/// intact prefix.
@Suite struct RecoveryTests {
    /// Writes `count` batches of 2 records; returns the byte size of each.
    func writeBatches(_ directory: String, count: Int, config: LogConfig) throws -> [Int] {
        let log = try openLog(directory, config: config)
        var sizes: [Int] = []
        for index in 0..<count {
            let info = try log.append(makeBatch(count: 2, tag: "b\(index)", valueSize: 20 + (index * 37) % 300))
            sizes.append(info.sizeInBytes)
        }
        try log.flush()
        return sizes   // no close(): simulated crash
    }

    func segmentPath(_ directory: String, _ base: Int64 = 0) -> String {
        directory + "/" + SegmentFileName.stem(base) + ".log"
    }

    @Test func recoveryTruncatesTornTail() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let sizes = try writeBatches(dir.path, count: 10, config: LogConfig())
        let path = segmentPath(dir.path)
        let total = sizes.reduce(0, +)
        #expect(truncate(path, off_t(total - 5)) == 0)
        let log = try openLog(dir.path, clean: false)
        #expect(log.logEndOffset == 18)
        let records = try readAll(log)
        #expect(records.count == 18 && records.last?.value.hasPrefix("b8-1") == true)
        let info = try log.append(makeBatch(count: 1, tag: "new"))
        #expect(info.firstOffset == 18)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == total - sizes[9] + info.sizeInBytes)
        try log.close()
    }

    @Test func recoveryCutsAtCorruptCRCAndDeletesLaterSegments() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = LogConfig()
        config.segmentBytes = 1500
        let sizes = try writeBatches(dir.path, count: 30, config: config)
        let bases = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .compactMap { SegmentFileName.baseOffset(of: $0, suffix: ".log") }.sorted()
        #expect(bases.count >= 3)
        // Flip one byte inside the records of the second batch of the second segment.
        let victim = segmentPath(dir.path, bases[1])
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: victim))
        let data = try handle.readToEnd()!
        var firstSize = 0
        data.withUnsafeBytes { firstSize = Int(RecordBatchHeader.peekOffsetAndSize(UnsafeRawBufferPointer($0))!.batchLength) + 12 }
        try handle.seek(toOffset: UInt64(firstSize + 70))
        try handle.write(contentsOf: [data[firstSize + 70] ^ 0x5a])
        try handle.close()
        _ = sizes
        let log = try openLog(dir.path, clean: false, recoveryPoint: 0)
        // Everything up to and including the first batch of segment 2 survives; nothing after.
        #expect(log.logEndOffset == bases[1] + 2)
        #expect(log.segmentCount == 2)
        let records = try readAll(log)
        #expect(records.map(\.offset) == Array(0..<(bases[1] + 2)))
        try log.append(makeBatch(count: 1))
        #expect(log.logEndOffset == bases[1] + 3)
        try log.close()
    }

    @Test func recoveryStartsAtTheRecoveryPointSegment() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = LogConfig()
        config.segmentBytes = 1500
        _ = try writeBatches(dir.path, count: 30, config: config)
        let bases = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .compactMap { SegmentFileName.baseOffset(of: $0, suffix: ".log") }.sorted()
        // Damage the first segment: it lies below the recovery point, so recovery does not re-read it
        // (recovery time depends on the unflushed tail only).
        let first = segmentPath(dir.path, bases[0])
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: first))
        try handle.seek(toOffset: 80)
        try handle.write(contentsOf: [0xff, 0xff])
        try handle.close()
        let log = try openLog(dir.path, clean: false, recoveryPoint: bases.last!)
        #expect(log.logEndOffset == 60)
        try log.close()
    }

    @Test func corruptIndexIsRebuiltAfterCleanShutdown() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = LogConfig()
        config.indexIntervalBytes = 64
        do {
            let log = try openLog(dir.path, config: config)
            for index in 0..<50 { try log.append(makeBatch(count: 2, tag: "i\(index)")) }
            try log.close()
        }
        let indexPath = dir.path + "/" + SegmentFileName.stem(0) + ".index"
        let size = try FileManager.default.attributesOfItem(atPath: indexPath)[.size] as! Int
        #expect(size > 16 && size % 8 == 0)
        // Make the last entry point past the end of the log.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: indexPath))
        try handle.seek(toOffset: UInt64(size - 4))
        try handle.write(contentsOf: [0x7f, 0xff, 0xff, 0xff])
        try handle.close()
        let log = try openLog(dir.path, config: config)
        #expect(log.logEndOffset == 100)
        for offset in stride(from: Int64(0), to: 100, by: 9) {
            let slice = try #require(try log.read(from: offset, maxBytes: 100).slice)
            #expect(slice.firstOffset <= offset && slice.lastOffset >= offset)
        }
        try log.close()
    }

    @Test(arguments: 0..<6)
    func randomDamageLeavesExactlyTheIntactPrefix(round: Int) throws {
        var random = SeededGenerator(seed: testSeed("randomDamage round \(round)") &+ UInt64(round))
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = LogConfig()
        config.indexIntervalBytes = Int.random(in: 0...512, using: &random)
        let count = Int.random(in: 1...40, using: &random)
        let sizes = try writeBatches(dir.path, count: count, config: config)
        let path = segmentPath(dir.path)
        let total = sizes.reduce(0, +)
        let position = Int.random(in: 0..<total, using: &random)
        // Which batch holds the damaged byte?
        var damagedBatch = 0
        var start = 0
        while start + sizes[damagedBatch] <= position {
            start += sizes[damagedBatch]
            damagedBatch += 1
        }
        let flip = Bool.random(using: &random)
        if flip {
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            try handle.seek(toOffset: UInt64(position))
            let old = try handle.read(upToCount: 1)![0]
            try handle.seek(toOffset: UInt64(position))
            try handle.write(contentsOf: [old ^ UInt8.random(in: 1...255, using: &random)])
            try handle.close()
        } else {
            #expect(truncate(path, off_t(position)) == 0)
        }
        let log = try openLog(dir.path, config: config, clean: false)
        // A flipped byte in baseOffset (0..<8) or partitionLeaderEpoch (12..<16) lies outside the CRC;
        // baseOffset damage is still caught by the offset-order check unless it lands in a later batch
        // as a larger offset. Only assert the strict prefix property for bytes the CRC or length cover.
        let offsetInBatch = position - start
        let crcCovered = offsetInBatch >= 8 && !(12..<16).contains(offsetInBatch)
        if !flip || crcCovered {
            #expect(log.logEndOffset == Int64(damagedBatch * 2))
            let records = try readAll(log)
            #expect(records.count == damagedBatch * 2)
            for (index, record) in records.enumerated() {
                #expect(record.value.hasPrefix("b\(index / 2)-\(index % 2)"))
            }
        }
        let info = try log.append(makeBatch(count: 1, tag: "next"))
        #expect(info.firstOffset == log.logEndOffset - 1)
        try log.close()
        // Reopen cleanly: the recovered log plus the new batch is intact.
        let reopened = try openLog(dir.path, config: config)
        #expect(try readAll(reopened).last?.value == "next-0")
        try reopened.close()
    }

    @Test func leftoverCleanerFilesAreResolvedOnOpen() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        do {
            let log = try openLog(dir.path)
            try log.append(makeBatch(count: 2))
            try log.close()
        }
        _ = FileManager.default.createFile(atPath: dir.path + "/00000000000000000005.log.cleaned", contents: Data([1, 2, 3]))
        _ = FileManager.default.createFile(atPath: dir.path + "/00000000000000000009.log.deleted", contents: Data([1]))
        let log = try openLog(dir.path)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(!files.contains { $0.hasSuffix(".cleaned") || $0.hasSuffix(".deleted") })
        #expect(log.logEndOffset == 2)
        try log.close()
    }
}

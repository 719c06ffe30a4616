import Foundation
import StrataRecords
import Testing
@testable import StrataStorage

@Suite struct RetentionTests {
    /// A log of `batches` batches (2 records each, timestamps 1000·i) in small segments.
    func filledLog(_ directory: String, config: LogConfig, batches: Int = 30, clock: StorageClock = ManualClock())
        throws -> PartitionLog {
        let log = try openLog(directory, config: config, clock: clock)
        for index in 0..<batches {
            try log.append(makeBatch(count: 2, tag: "r\(index)", timestamp: Int64(index) * 1000, valueSize: 100))
        }
        return log
    }

    func smallSegments() -> LogConfig {
        var config = LogConfig()
        config.segmentBytes = 1200
        config.fileDeleteDelayMilliseconds = 0
        return config
    }

    @Test func retentionBytesDeletesOldestSegmentsAndAdvancesLogStart() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = smallSegments()
        config.retentionBytes = 3000
        let log = try filledLog(dir.path, config: config)
        let before = log.segmentBaseOffsets
        #expect(before.count > 4)
        let deleted = try log.applyRetention(nowMilliseconds: 0)
        #expect(deleted.segments > 0)
        let after = log.segmentBaseOffsets
        #expect(after == Array(before.suffix(after.count)), "oldest segments go first")
        #expect(log.logStartOffset == after[0])
        #expect(log.sizeInBytes - 1200 < 3000, "no more than one segment beyond the limit is kept")
        #expect(throws: StorageError.self) { try log.read(from: 0, maxBytes: 100) }
        #expect(try readAll(log, from: log.logStartOffset).first?.offset == log.logStartOffset)
        #expect(log.logEndOffset == 60, "retention never touches the end of the log")
        try log.close()
    }

    @Test func retentionMsDeletesSegmentsWhoseNewestRecordExpired() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = smallSegments()
        config.retentionMilliseconds = 10_000
        let log = try filledLog(dir.path, config: config)
        // Records have timestamps 0…29 001 ms; at now = 25 000 everything older than 15 000 expires.
        try log.applyRetention(nowMilliseconds: 25_000)
        let start = log.logStartOffset
        #expect(start > 0)
        let first = try #require(try readAll(log, from: start).first)
        // The first kept segment holds a record newer than 15 000 (batch 15 holds offsets 30, 31).
        #expect(first.offset <= 31)
        #expect(log.segmentCount >= 2)
        // Nothing expires when retention is -1.
        var forever = config
        forever.retentionMilliseconds = -1
        log.updateConfig(forever)
        #expect(try log.applyRetention(nowMilliseconds: Int64.max / 2).segments == 0)
        try log.close()
    }

    @Test func activeSegmentIsNeverDeleted() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = LogConfig()
        config.retentionMilliseconds = 1
        let log = try filledLog(dir.path, config: config, batches: 5)
        #expect(try log.applyRetention(nowMilliseconds: 1_000_000).segments == 0)
        #expect(log.logStartOffset == 0 && log.logEndOffset == 10)
        try log.close()
    }

    @Test func deleteRecordsMovesLogStartAndDropsWholeSegments() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try filledLog(dir.path, config: smallSegments())
        let bases = log.segmentBaseOffsets
        #expect(try log.deleteRecords(before: bases[2] + 1) == bases[2] + 1)
        #expect(log.segmentBaseOffsets.first == bases[2], "segments wholly below the new start are gone")
        #expect(throws: StorageError.self) { try log.read(from: bases[2], maxBytes: 100) }
        #expect(try readAll(log, from: log.logStartOffset).first?.offset == bases[2] + 1)
        #expect(throws: StorageError.self) { try log.deleteRecords(before: 999) }
        #expect(try log.deleteRecords(before: 3) == bases[2] + 1, "the start never moves backwards")
        try log.close()
    }

    @Test func deletedFilesAreRenamedThenRemovedAfterTheDelay() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = smallSegments()
        config.retentionBytes = 0
        config.fileDeleteDelayMilliseconds = 60_000
        let log = try filledLog(dir.path, config: config)
        let slice = try #require(try log.read(from: 0, maxBytes: 100).slice)
        try log.applyRetention(nowMilliseconds: 1000)
        var files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(files.contains("00000000000000000000.log.deleted"))
        #expect(files.contains("00000000000000000000.index.deleted"))
        #expect(try values(in: slice).first?.value.hasPrefix("r0-0") == true, "a reader keeps its slice")
        log.removeDeletedFiles(nowMilliseconds: 30_000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).contains("00000000000000000000.log.deleted"))
        log.removeDeletedFiles(nowMilliseconds: 61_001)
        files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(!files.contains { $0.hasSuffix(".deleted") })
        try log.close()
    }

    @Test func logStartOffsetSurvivesARestart() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let data = dir.path + "/data"
        var defaults = smallSegments()
        defaults.retentionBytes = 2500
        do {
            let manager = try LogManager.open(dataDirectory: data, defaultConfig: defaults, executor: sharedExecutor,
                                              logger: quietLogger)
            let log = try manager.createTopic("r", partitionCount: 1)[0]
            for index in 0..<30 { try log.append(makeBatch(count: 2, tag: "s\(index)", valueSize: 100)) }
            let cleaner = LogCleaner(manager: manager, clock: ManualClock(), logger: quietLogger)
            let pass = cleaner.runPass(nowMilliseconds: 0)
            #expect(pass.segmentsDeleted > 0)
            try log.deleteRecords(before: log.logStartOffset + 1)
            try manager.close()
        }
        let manager = try LogManager.open(dataDirectory: data, defaultConfig: defaults, executor: sharedExecutor,
                                          logger: quietLogger)
        let log = try #require(manager.log(for: TopicPartition("r", 0)))
        let start = log.logStartOffset
        #expect(start > log.segmentBaseOffsets[0], "a mid-segment start from DeleteRecords is checkpointed")
        #expect(try readAll(log, from: start).first?.offset == start)
        try manager.close()
    }

    @Test func cleanerThreadRunsRetentionWhenWoken() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var defaults = smallSegments()
        defaults.retentionBytes = 2500
        let manager = try LogManager.open(dataDirectory: dir.path, defaultConfig: defaults, executor: sharedExecutor,
                                          logger: quietLogger)
        let log = try manager.createTopic("w", partitionCount: 1)[0]
        for index in 0..<30 { try log.append(makeBatch(count: 2, tag: "w\(index)", valueSize: 100)) }
        var config = CleanerConfig()
        config.retentionCheckIntervalMilliseconds = 3_600_000
        let cleaner = LogCleaner(manager: manager, config: config, logger: quietLogger)
        cleaner.start()
        cleaner.wake()
        let deadline = Date().addingTimeInterval(20)
        while log.logStartOffset == 0 && Date() < deadline { await Task.yield() }
        cleaner.stop()
        #expect(log.logStartOffset > 0)
        try manager.close()
    }
}

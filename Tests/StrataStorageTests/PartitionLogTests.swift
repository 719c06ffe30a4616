import Foundation
import NIOCore
import StrataRecords
import Testing
@testable import StrataStorage

@Suite struct PartitionLogTests {
    @Test func appendAssignsConsecutiveOffsetsAndReadsThemBack() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path)
        let first = try log.append(makeBatch(count: 3, tag: "a"))
        let second = try log.append(makeBatch(count: 2, tag: "b"))
        #expect(first.firstOffset == 0 && first.lastOffset == 2)
        #expect(second.firstOffset == 3 && second.lastOffset == 4)
        #expect(log.logEndOffset == 5)
        let records = try readAll(log)
        #expect(records.map(\.offset) == [0, 1, 2, 3, 4])
        #expect(records.map(\.value) == ["a-0", "a-1", "a-2", "b-0", "b-1"])
        try log.close()
    }

    @Test func readStartsAtTheBatchContainingTheOffset() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path)
        for tag in ["a", "b", "c"] { try log.append(makeBatch(count: 4, tag: tag)) }
        let slice = try #require(try log.read(from: 6, maxBytes: 1 << 20).slice)
        #expect(slice.firstOffset == 4)
        #expect(slice.lastOffset == 11)
        let one = try #require(try log.read(from: 6, maxBytes: 1).slice)
        #expect(one.firstOffset == 4 && one.lastOffset == 7, "minOneBatch returns the whole first batch")
        #expect(try log.read(from: 6, maxBytes: 1, minOneBatch: false).slice == nil)
        try log.close()
    }

    @Test func readAtLogEndIsEmptyAndBeyondIsOutOfRange() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path)
        try log.append(makeBatch(count: 2))
        let info = try log.read(from: 2, maxBytes: 100)
        #expect(info.slice == nil)
        #expect(info.highWatermark == 2)
        #expect(throws: StorageError.self) { try log.read(from: 3, maxBytes: 100) }
        try log.close()
    }

    @Test func appendStampsBaseOffsetAndLeaderEpochWithoutBreakingTheCRC() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path)
        try log.append(makeBatch(count: 1))
        let batch = makeBatch(count: 2)
        try log.append(batch, leaderEpoch: 7)
        #expect(try batch.header().baseOffset == 0, "the caller's buffer is not modified")
        var bytes = try #require(try log.read(from: 1, maxBytes: 1 << 20).slice).makeByteBuffer()
        let stored = try #require(try RecordBatch.next(from: &bytes))
        let header = try stored.validate()
        #expect(header.baseOffset == 1)
        #expect(header.partitionLeaderEpoch == 7)
        try log.close()
    }

    @Test func invalidBatchIsRefusedAndChangesNothing() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path)
        try log.append(makeBatch(count: 2))
        var corrupt = makeBatch(count: 2).buffer
        corrupt.setInteger(UInt8(0xff), at: corrupt.readerIndex + 70)
        let batch = try RecordBatch(buffer: corrupt)
        #expect {
            try log.append(batch)
        } throws: { error in
            guard case let StorageError.invalidBatch(_, reason) = error, case .crcMismatch = reason else { return false }
            return true
        }
        var config = LogConfig()
        config.maxMessageBytes = 100
        let small = try openLog(dir.path + "-small", config: config)
        #expect(throws: StorageError.self) { try small.append(makeBatch(count: 10, valueSize: 50)) }
        #expect(log.logEndOffset == 2)
        #expect(try readAll(log).count == 2)
        try log.close()
        try small.close()
        try? FileManager.default.removeItem(atPath: dir.path + "-small")
    }

    @Test func segmentsRollAtSegmentBytesAndReadsCrossThem() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = LogConfig()
        config.segmentBytes = 1024
        config.indexIntervalBytes = 100
        let log = try openLog(dir.path, config: config)
        for index in 0..<40 { try log.append(makeBatch(count: 2, tag: "r\(index)", valueSize: 60)) }
        #expect(log.segmentCount > 5)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(files.contains("00000000000000000000.log"))
        #expect(files.filter { $0.hasSuffix(".log") }.count == log.segmentCount)
        for base in log.segmentBaseOffsets {
            let name = SegmentFileName.stem(base)
            #expect(files.contains(name + ".index") && files.contains(name + ".timeindex"))
        }
        let records = try readAll(log)
        #expect(records.map(\.offset) == Array(0..<80))
        for offset in stride(from: Int64(0), to: 80, by: 7) {
            let slice = try #require(try log.read(from: offset, maxBytes: 300).slice)
            #expect(slice.firstOffset <= offset && slice.lastOffset >= offset)
        }
        try log.close()
    }

    @Test func segmentRollsAfterSegmentMs() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = LogConfig()
        config.segmentMilliseconds = 1000
        let clock = ManualClock()
        let log = try openLog(dir.path, config: config, clock: clock)
        try log.append(makeBatch())
        clock.advance(byMilliseconds: 500)
        try log.append(makeBatch())
        #expect(log.segmentCount == 1)
        clock.advance(byMilliseconds: 600)
        try log.append(makeBatch())
        #expect(log.segmentCount == 2)
        #expect(log.segmentBaseOffsets == [0, 6])
        try log.close()
    }

    @Test func offsetForTimestampFindsFirstRecordAtOrAfter() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = LogConfig()
        config.segmentBytes = 600
        config.indexIntervalBytes = 50
        let log = try openLog(dir.path, config: config)
        for index in 0..<20 {
            try log.append(makeBatch(count: 5, tag: "t\(index)", timestamp: 1000 + Int64(index) * 100))
        }
        #expect(log.segmentCount > 2)
        #expect(try log.offset(forTimestamp: 0)?.offset == 0)
        #expect(try log.offset(forTimestamp: 1000)?.offset == 0)
        let hit = try #require(try log.offset(forTimestamp: 1502))
        #expect(hit.offset == 27 && hit.timestamp == 1502)
        #expect(try log.offset(forTimestamp: 1505)?.offset == 30)
        #expect(try log.offset(forTimestamp: 1000 + 19 * 100 + 4)?.offset == 99)
        #expect(try log.offset(forTimestamp: 5000) == nil)
        try log.close()
    }

    @Test func reopenAfterCleanCloseKeepsEveryRecordAndContinuesOffsets() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = LogConfig()
        config.segmentBytes = 2048
        config.indexIntervalBytes = 64
        do {
            let log = try openLog(dir.path, config: config)
            for index in 0..<30 { try log.append(makeBatch(count: 3, tag: "x\(index)")) }
            try log.close()
        }
        let log = try openLog(dir.path, config: config)
        #expect(log.logEndOffset == 90)
        try log.append(makeBatch(count: 1, tag: "after"))
        let records = try readAll(log)
        #expect(records.count == 91)
        #expect(records.last?.offset == 90 && records.last?.value == "after-0")
        #expect(try log.offset(forTimestamp: 1_700_000_000_001)?.offset == 1)
        try log.close()
    }

    @Test func lz4BatchesAreStoredAsSentAndDecodeOnRead() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path)
        let batch = makeBatch(count: 50, tag: "z", valueSize: 200, compression: .lz4)
        try log.append(batch)
        let slice = try #require(try log.read(from: 0, maxBytes: 1 << 20).slice)
        #expect(slice.length == batch.sizeInBytes)
        let records = try values(in: slice)
        #expect(records.count == 50 && records[49].offset == 49)
        try log.close()
    }

    @Test func groupCommitSharesSyncsAcrossConcurrentAppenders() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let fileSystem = FaultInjectingFileSystem()
        let log = try openLog(dir.path, fileSystem: fileSystem)
        let before = fileSystem.syncCount
        let appenders = 64
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<appenders {
                group.addTask {
                    let info = try log.append(makeBatch(count: 1, tag: "g\(index)"))
                    try await log.flush(through: info.lastOffset + 1)
                }
            }
            try await group.waitForAll()
        }
        #expect(log.recoveryPoint == Int64(appenders))
        let syncs = fileSystem.syncCount - before
        #expect(syncs >= 1 && syncs <= appenders)
        print("groupCommit: \(appenders) durable appends used \(syncs) fdatasyncs")
        try log.close()
    }

    @Test func flushMessagesPolicyTriggersABackgroundSync() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = LogConfig()
        config.flushMessages = 5
        let log = try openLog(dir.path, config: config)
        for _ in 0..<3 { try log.append(makeBatch(count: 2)) }
        let deadline = Date().addingTimeInterval(10)
        while log.recoveryPoint < 6 && Date() < deadline { await Task.yield() }
        #expect(log.recoveryPoint == 6)
        try log.close()
    }

    @Test func flushMsPolicySyncsWhenDue() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = LogConfig()
        config.flushMilliseconds = 1000
        let clock = ManualClock()
        let log = try openLog(dir.path, config: config, clock: clock)
        try log.append(makeBatch(count: 2))
        log.flushIfDue(nowMilliseconds: clock.nowMilliseconds() + 10)
        #expect(log.recoveryPoint == 0)
        clock.advance(byMilliseconds: 1500)
        log.flushIfDue(nowMilliseconds: clock.nowMilliseconds())
        let deadline = Date().addingTimeInterval(10)
        while log.recoveryPoint < 2 && Date() < deadline { await Task.yield() }
        #expect(log.recoveryPoint == 2)
        try log.close()
    }

    @Test func sliceOutlivesDeletedSegment() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path)
        try log.append(makeBatch(count: 3, tag: "keep"))
        let slice = try #require(try log.read(from: 0, maxBytes: 1 << 20).slice)
        try log.deleteFiles()
        #expect(!FileManager.default.fileExists(atPath: dir.path))
        #expect(try values(in: slice).map(\.value) == ["keep-0", "keep-1", "keep-2"])
    }
}

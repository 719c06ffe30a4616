import Foundation
import NIOCore
import StrataRecords
import Synchronization
import Testing
@testable import StrataStorage

/// Log compaction against a model: after cleaning, exactly the latest record per key survives,
/// offsets keep increasing (with gaps), tombstones go after their horizon, and a crash at any
/// step of the swap leaves either the old or the new log.
@Suite struct CompactionTests {
    struct Written {
        var offset: Int64
        var key: String
        var value: String?
    }

    func compactedConfig() -> LogConfig {
        var config = LogConfig()
        config.cleanupPolicy = ["compact"]
        config.segmentBytes = 2048
        config.indexIntervalBytes = 128
        config.deleteRetentionMilliseconds = 1000
        config.minCompactionLagMilliseconds = 0
        config.fileDeleteDelayMilliseconds = 0
        return config
    }

    /// Appends `batches` random keyed batches (keys k0…k(keys-1), ~10 % tombstones).
    func writeRandom(_ log: PartitionLog, batches: Int, keys: Int, random: inout SeededGenerator,
                     compression: CompressionCodec = .none) throws -> [Written] {
        var written: [Written] = []
        for batchIndex in 0..<batches {
            var builder = RecordBatchBuilder(compression: compression)
            let count = Int.random(in: 1...5, using: &random)
            var pending: [(String, String?)] = []
            for recordIndex in 0..<count {
                let key = "k\(Int.random(in: 0..<keys, using: &random))"
                let value: String? = Int.random(in: 0..<10, using: &random) == 0 ? nil : "v\(batchIndex)-\(recordIndex)"
                builder.append(key: Array(key.utf8), value: value.map { Array($0.utf8) }, timestamp: Int64(batchIndex))
                pending.append((key, value))
            }
            let info = try log.append(RecordBatch(buffer: builder.build()))
            for (index, record) in pending.enumerated() {
                written.append(Written(offset: info.firstOffset + Int64(index), key: record.0, value: record.1))
            }
        }
        return written
    }

    /// Every stored record: (offset, key, value) — values nil for tombstones.
    func stored(_ log: PartitionLog) throws -> [Written] {
        var result: [Written] = []
        var next = log.logStartOffset
        while next < log.logEndOffset {
            guard let slice = try log.read(from: next, maxBytes: 1 << 20).slice else { break }
            var bytes = try slice.makeByteBuffer()
            while let batch = try RecordBatch.next(from: &bytes) {
                try batch.validate()
                for record in try batch.records() where record.offset >= next {
                    result.append(Written(offset: record.offset, key: String(buffer: record.key!),
                                          value: record.value.map { String(buffer: $0) }))
                }
            }
            next = slice.lastOffset + 1
        }
        return result
    }

    /// The model: latest record per key (tombstones included while `keepTombstones`).
    func expected(_ written: [Written], keepTombstones: Bool) -> [Written] {
        var latest: [String: Written] = [:]
        for record in written { latest[record.key] = record }
        return latest.values.filter { keepTombstones || $0.value != nil }.sorted { $0.offset < $1.offset }
    }

    func same(_ a: [Written], _ b: [Written]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.offset == $1.offset && $0.key == $1.key && $0.value == $1.value }
    }

    @Test(arguments: [CompressionCodec.none, .lz4])
    func compactionKeepsExactlyTheLatestValuePerKey(compression: CompressionCodec) throws {
        var random = SeededGenerator(seed: testSeed("compaction \(compression)"))
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path, config: compactedConfig(), clock: ManualClock())
        let written = try writeRandom(log, batches: 200, keys: 25, random: &random, compression: compression)
        try log.roll()
        let before = log.segmentCount
        let result = try #require(try log.compact(nowMilliseconds: 10_000, dedupeBufferBytes: 1 << 20))
        #expect(result.recordsRemoved > 0 && result.segmentsOut <= result.segmentsIn)
        let afterFirst = try stored(log)
        #expect(same(afterFirst, expected(written, keepTombstones: true)),
                "first pass: latest per key, tombstones kept until their horizon")
        #expect(zip(afterFirst, afterFirst.dropFirst()).allSatisfy { $0.offset < $1.offset })
        #expect(log.logEndOffset == written.last!.offset + 1, "the log end never moves")
        // Past the horizon (cleaning time + delete.retention.ms) tombstones go.
        log.writer.withLock { $0.cleanerCheckpoint = 0 }   // force a second pass over the same data
        _ = try log.compact(nowMilliseconds: 10_000 + 1001, dedupeBufferBytes: 1 << 20)
        #expect(same(try stored(log), expected(written, keepTombstones: false)))
        #expect(log.segmentCount < before, "the second pass merges the now-small neighbours")
        try log.close()
        // Reopen (clean and crash paths) and the compacted log reads the same.
        let reopened = try openLog(dir.path, config: compactedConfig(), clean: false)
        #expect(same(try stored(reopened), expected(written, keepTombstones: false)))
        try reopened.close()
    }

    @Test func compactedBatchesKeepTheirOffsetRangeAndProducerFields() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path, config: compactedConfig())
        var builder = RecordBatchBuilder(producerId: 42, producerEpoch: 3, baseSequence: 7)
        for index in 0..<4 { builder.append(key: Array("a".utf8), value: Array("v\(index)".utf8), timestamp: Int64(index)) }
        try log.append(RecordBatch(buffer: builder.build()))
        try log.append(makeBatch(count: 1, tag: "other"))
        try log.roll()
        _ = try log.compact(nowMilliseconds: 1000, dedupeBufferBytes: 1 << 20)
        var bytes = try #require(try log.read(from: 0, maxBytes: 1 << 20).slice).makeByteBuffer()
        let first = try #require(try RecordBatch.next(from: &bytes))
        let header = try first.validate()
        #expect(header.baseOffset == 0 && header.lastOffset == 3, "batch keeps its base and last offsets")
        #expect(header.recordCount == 1, "\(header)")
        #expect(header.producerId == 42 && header.producerEpoch == 3 && header.baseSequence == 7)
        #expect(try first.records().map(\.offset) == [3])
        try log.close()
    }

    @Test func smallDedupeBufferCleansAPrefixAndLaterPassesFinish() throws {
        var random = SeededGenerator(seed: testSeed("compaction prefix"))
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path, config: compactedConfig())
        let written = try writeRandom(log, batches: 150, keys: 200, random: &random)
        try log.roll()
        // Room for ~120 keys: each pass maps a few segments only.
        let bound = 120 * (OffsetMap.entryOverheadBytes + 4)
        var passes = 0
        while try log.compact(nowMilliseconds: 0, dedupeBufferBytes: bound) != nil { passes += 1 }
        #expect(passes > 1)
        #expect(log.cleanerCheckpoint == log.logEndOffset)
        #expect(same(try stored(log), expected(written, keepTombstones: true)))
        try log.close()
    }

    @Test(arguments: CompactionStep.allCases)
    func crashAtAnySwapStepLeavesTheOldOrTheNewLog(step: CompactionStep) throws {
        var random = SeededGenerator(seed: testSeed("compaction crash \(step)"))
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var written: [Written] = []
        do {
            let log = try openLog(dir.path, config: compactedConfig())
            written = try writeRandom(log, batches: 120, keys: 10, random: &random)
            try log.roll()
            try log.flush()
            #expect(throws: StorageError.self) {
                try log.compact(nowMilliseconds: 0, dedupeBufferBytes: 1 << 20) { reached throws(StorageError) in
                    if reached == step { throw StorageError.io(operation: "simulated crash at \(step)", path: "", errno: 0) }
                }
            }
            // The process "dies" here: no close.
        }
        let reopened = try openLog(dir.path, config: compactedConfig(), clean: false)
        let contents = try stored(reopened)
        let old = written
        let new = expected(written, keepTombstones: true)
        let isOld = same(contents, old)
        let isNewPrefix = contents.count < old.count && contents.allSatisfy { record in
            old.contains { $0.offset == record.offset && $0.key == record.key && $0.value == record.value }
        }
        #expect(isOld || isNewPrefix, "step \(step): \(contents.count) records, old \(old.count), new \(new.count)")
        // Whatever survived, every key's latest value is still there.
        for latest in new where latest.value != nil {
            #expect(contents.contains { $0.offset == latest.offset }, "latest record of \(latest.key) lost")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(!files.contains { $0.hasSuffix(".swap") || $0.hasSuffix(".deleted") || $0 == ".cleaning" })
        // A later pass completes the job.
        _ = try reopened.compact(nowMilliseconds: 0, dedupeBufferBytes: 1 << 20)
        #expect(same(try stored(reopened), new))
        try reopened.close()
    }

    @Test func produceAndFetchKeepWorkingDuringCleaning() async throws {
        var random = SeededGenerator(seed: testSeed("compaction concurrent"))
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path, config: compactedConfig())
        let written = try writeRandom(log, batches: 300, keys: 30, random: &random)
        try log.roll()
        let appender = Task.detached {
            for index in 0..<200 { try log.append(makeBatch(count: 1, tag: "live\(index)")) }
        }
        let reader = Task.detached {
            var reads = 0
            for _ in 0..<200 {
                let start = log.logStartOffset
                if let slice = try log.read(from: start, maxBytes: 4096).slice { reads += slice.length > 0 ? 1 : 0 }
            }
            return reads
        }
        var passes = 0
        while try log.compact(nowMilliseconds: 0, dedupeBufferBytes: 1 << 20) != nil && passes < 5 { passes += 1 }
        try await appender.value
        #expect(try await reader.value == 200)
        #expect(log.logEndOffset == written.last!.offset + 1 + 200)
        try log.close()
    }

    @Test func cleanerReportsEachCompactionAndPassToItsObserver() throws {
        var random = SeededGenerator(seed: testSeed("compaction observer"))
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var defaults = compactedConfig()
        defaults.minCleanableDirtyRatio = 0.01
        let manager = try LogManager.open(dataDirectory: dir.path, defaultConfig: defaults, executor: sharedExecutor,
                                          logger: quietLogger)
        let log = try manager.createTopic("state", partitionCount: 1)[0]
        _ = try writeRandom(log, batches: 150, keys: 10, random: &random)
        try log.roll()
        let sizeBefore = log.segmentBaseOffsets.count
        let events = Mutex<[CleanerEvent]>([])
        let cleaner = LogCleaner(manager: manager, clock: ManualClock(), logger: quietLogger) { event in
            events.withLock { $0.append(event) }
        }
        let pass = cleaner.runPass(nowMilliseconds: 10_000)
        let seen = events.withLock { $0 }
        let compactions = seen.compactMap { event -> (TopicPartition, CompactionResult, Double)? in
            if case .compaction(let partition, let result, _, let ratio) = event { return (partition, result, ratio) }
            return nil
        }
        #expect(compactions.count == 1 && compactions.first?.0 == TopicPartition("state", 0))
        let result = try #require(compactions.first?.1)
        #expect(result.bytesIn > result.bytesOut && result.recordsRemoved > 0)
        #expect(pass.logsCompacted == 1 && pass.bytesCompactedAway == result.bytesIn - result.bytesOut)
        #expect(pass.recordsCompactedAway == result.recordsRemoved)
        #expect((compactions.first?.2 ?? 0) > 0.01, "the ratio that selected the log is reported")
        guard case .pass(let reported, _, let ratios, let delay) = seen.last else {
            Issue.record("the last event is the pass summary: \(seen)")
            return
        }
        #expect(reported == pass && ratios[TopicPartition("state", 0)] != nil)
        #expect(delay > 0, "records from t=0…149 were dirty at t=10 000")
        #expect(log.segmentBaseOffsets.count <= sizeBefore)
        try manager.close()
    }

    @Test func deleteRecordsDuringASwapLeavesTheSegmentsToRetention() throws {
        var random = SeededGenerator(seed: testSeed("compaction delete during swap"))
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path, config: compactedConfig(), clock: ManualClock())
        let written = try writeRandom(log, batches: 200, keys: 25, random: &random)
        try log.roll()
        let target = log.segmentBaseOffsets[3]
        var moved: Int64?
        _ = try log.compact(nowMilliseconds: 10_000, dedupeBufferBytes: 1 << 20) { step throws(StorageError) in
            // Between the durable `.swap` and the swap itself, DeleteRecords arrives.
            if step == .swapCommitted && moved == nil { moved = try log.deleteRecords(before: target) }
        }
        #expect(moved == target && log.logStartOffset == target)
        #expect(log.segmentBaseOffsets.first! < target, "no segment was deleted during the swap")
        let removed = try log.applyRetention(nowMilliseconds: 10_000)
        #expect(removed.segments == 3, "retention removes what is wholly below the log start, on a compacted topic")
        #expect(log.segmentBaseOffsets.first == target)
        #expect(same(try stored(log), expected(written, keepTombstones: true).filter { $0.offset >= target }))
        try log.close()
    }
}

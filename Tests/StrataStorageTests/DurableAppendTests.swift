import Foundation
import StrataRecords
import Testing

@testable import StrataStorage

#if canImport(Glibc)
import Glibc
#endif

/// `appendDurably`: write coalescing of concurrent durable appends.
@Suite struct DurableAppendTests {
    /// Runs `appenders` tasks, each making `perTask` durable appends of batches tagged with its index
    /// and sequence; returns every append's info with its tag.
    private func appendConcurrently(
        _ log: PartitionLog, appenders: Int, perTask: Int,
        recordsPerBatch: @escaping @Sendable (Int) -> Int = { _ in 1 },
        valueSize: Int? = nil
    ) async throws -> [(tag: String, info: AppendInfo)] {
        try await withThrowingTaskGroup(of: [(String, AppendInfo)].self) { group in
            for task in 0..<appenders {
                group.addTask {
                    var done: [(String, AppendInfo)] = []
                    for sequence in 0..<perTask {
                        let tag = "t\(task)s\(sequence)"
                        let batch = makeBatch(count: recordsPerBatch(task &+ sequence), tag: tag, valueSize: valueSize)
                        done.append((tag, try await log.appendDurably(batch)))
                    }
                    return done
                }
            }
            var all: [(String, AppendInfo)] = []
            for try await part in group { all += part }
            return all
        }
    }

    /// Every acknowledged append is durable, offsets are contiguous from 0 in some order of the
    /// appends, each task's appends are in its own order, and the log holds exactly those records.
    private func checkLog(_ log: PartitionLog, _ results: [(tag: String, info: AppendInfo)]) throws {
        let sorted = results.sorted { $0.info.firstOffset < $1.info.firstOffset }
        var next: Int64 = 0
        for (tag, info) in sorted {
            #expect(info.firstOffset == next, "\(tag) starts at \(info.firstOffset), expected \(next)")
            next = info.lastOffset + 1
        }
        #expect(log.logEndOffset == next)
        #expect(log.recoveryPoint >= next, "acknowledged appends are durable")
        let records = try readAll(log)
        #expect(records.count == Int(next))
        var expected: [Int64: String] = [:]
        for (tag, info) in results {
            for offset in info.firstOffset...info.lastOffset {
                expected[offset] = "\(tag)-\(offset - info.firstOffset)"
            }
        }
        let wrong = records.filter { record in
            guard let value = expected[record.offset] else { return true }
            return !record.value.hasPrefix(value)
        }
        #expect(wrong.isEmpty, "\(wrong.count) records differ, first \(wrong.first.map { "\($0)" } ?? "")")
        // Per task, sequence order is offset order.
        var lastByTask: [Substring: Int64] = [:]
        for (tag, info) in sorted {
            let task = tag.split(separator: "s")[0]
            if let last = lastByTask[task] { #expect(last < info.firstOffset, "\(tag) out of its task's order") }
            lastByTask[task] = info.firstOffset
        }
    }

    @Test func manyConcurrentAppendersGetContiguousDurableOffsets() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let fileSystem = FaultInjectingFileSystem()
        let log = try openLog(dir.path, fileSystem: fileSystem)
        let syncsBefore = fileSystem.syncCount
        let results = try await appendConcurrently(log, appenders: 200, perTask: 5, recordsPerBatch: { $0 % 4 + 1 })
        #expect(results.count == 1000)
        try checkLog(log, results)
        let syncs = fileSystem.syncCount - syncsBefore
        #expect(syncs >= 1 && syncs < 1000, "coalesced: \(syncs) syncs for 1000 appends")
        print("durable appends: 1000 appends used \(syncs) fdatasyncs")
        try log.close()
        let reopened = try openLog(dir.path, clean: false)
        try checkLog(reopened, results)
        try reopened.close()
    }

    /// Small segments: rounds roll mid-group, and readers see every record across the segments.
    @Test func coalescedGroupsRollSegmentsMidGroup() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var config = LogConfig()
        config.segmentBytes = 4096
        let log = try openLog(dir.path, config: config)
        let results = try await appendConcurrently(log, appenders: 64, perTask: 8, valueSize: 200)
        #expect(log.segmentCount > 10)
        try checkLog(log, results)
        try log.close()
        let reopened = try openLog(dir.path, config: config, clean: false)
        try checkLog(reopened, results)
        try reopened.close()
    }

    /// Durable and plain appends interleave with contiguous offsets.
    @Test func durableAndPlainAppendsInterleave() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path)
        let plain = Task {
            var infos: [(String, AppendInfo)] = []
            for sequence in 0..<200 {
                let tag = "plains\(sequence)"
                infos.append((tag, try log.append(makeBatch(count: 2, tag: tag))))
                if sequence % 16 == 0 { await Task.yield() }
            }
            return infos
        }
        let durable = try await appendConcurrently(log, appenders: 32, perTask: 10)
        let results = durable + (try await plain.value)
        try log.flush()
        try checkLog(log, results)
        try log.close()
    }

    /// A write that fails in the middle of a coalesced group (ENOSPC, then a torn write) fails exactly
    /// the appends of that write, leaves no partial batch behind, and later appends continue at the
    /// next contiguous offset.
    @Test(arguments: [FaultInjectingFileSystem.Fault.error(ENOSPC), .shortWrite(bytes: 1500)])
    func failedCoalescedWriteFailsItsAppendsOnly(fault: FaultInjectingFileSystem.Fault) async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let fileSystem = FaultInjectingFileSystem()
        let log = try openLog(dir.path, fileSystem: fileSystem)
        let first = try await log.appendDurably(makeBatch(count: 2, tag: "t-1s0"))
        fileSystem.arm(.write, fault, pathContains: ".log")
        let outcomes = await withTaskGroup(of: (String, Result<AppendInfo, StorageError>).self) { group in
            for task in 0..<100 {
                group.addTask {
                    let tag = "t\(task)s0"
                    do throws(StorageError) {
                        return (tag, .success(try await log.appendDurably(makeBatch(count: 3, tag: tag))))
                    } catch {
                        return (tag, .failure(error))
                    }
                }
            }
            var all: [(String, Result<AppendInfo, StorageError>)] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        let failed = outcomes.filter { if case .failure = $0.1 { true } else { false } }
        let succeeded: [(tag: String, info: AppendInfo)] = outcomes.compactMap { tag, outcome in
            if case .success(let info) = outcome { (tag, info) } else { nil }
        }
        #expect(!failed.isEmpty, "the armed fault fired")
        #expect(fileSystem.firedCount == 1)
        #expect(log.failure == nil, "a write that could be cut back does not fail the log")
        // The failed appends left nothing behind: the log is exactly the acknowledged appends,
        // contiguous from 0, and stays so across a crash-style reopen.
        try checkLog(log, [("t-1s0", first)] + succeeded)
        try log.close()
        let reopened = try openLog(dir.path, clean: false)
        try checkLog(reopened, [("t-1s0", first)] + succeeded)
        try reopened.close()
    }

    /// A torn write whose cut-back also fails fails the log: every append of the group and every
    /// later one fails, and recovery removes the torn bytes.
    @Test func tornCoalescedWriteThatCannotBeCutFailsTheLog() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let fileSystem = FaultInjectingFileSystem()
        let log = try openLog(dir.path, fileSystem: fileSystem)
        _ = try await log.appendDurably(makeBatch(count: 2, tag: "a"))
        fileSystem.arm(.write, .shortWrite(bytes: 700), pathContains: ".log")
        fileSystem.arm(.truncate, .error(EIO))
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for task in 0..<50 {
                group.addTask { (try? await log.appendDurably(makeBatch(count: 2, tag: "x\(task)"))) != nil }
            }
            var succeeded = 0
            for await ok in group where ok { succeeded += 1 }
            return succeeded
        }
        #expect(log.failure != nil)
        await #expect(throws: StorageError.self) { _ = try await log.appendDurably(makeBatch(count: 1)) }
        let durableEnd = log.recoveryPoint
        #expect(try readAll(log).count == Int(log.logEndOffset))
        _ = outcomes
        let reopened = try openLog(dir.path, clean: false)
        // Whole batches ahead of the tear have valid CRCs and may survive recovery (they were never
        // acknowledged, which allows either); the torn one may not.
        #expect(reopened.logEndOffset >= durableEnd, "everything acknowledged survives")
        #expect(try readAll(reopened).count == Int(reopened.logEndOffset), "only whole, contiguous batches remain")
        #expect(try readAll(reopened).prefix(2).map(\.value) == ["a-0", "a-1"])
        try reopened.close()
    }

    /// A failed fdatasync is never acknowledged: every append of the round fails and the log fails.
    @Test func failedSyncFailsTheWholeRoundAndTheLog() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let fileSystem = FaultInjectingFileSystem()
        let log = try openLog(dir.path, fileSystem: fileSystem)
        fileSystem.arm(.sync, .error(EIO), pathContains: ".log")
        let acknowledged = await withTaskGroup(of: Bool.self) { group in
            for task in 0..<40 {
                group.addTask { (try? await log.appendDurably(makeBatch(count: 1, tag: "s\(task)"))) != nil }
            }
            var count = 0
            for await ok in group where ok { count += 1 }
            return count
        }
        #expect(acknowledged == 0, "no append is acknowledged without a successful sync")
        #expect(log.failure != nil)
        #expect(log.recoveryPoint == 0)
        await #expect(throws: StorageError.self) { _ = try await log.appendDurably(makeBatch(count: 1)) }
    }

    /// Invalid batches are refused before queueing and change nothing.
    @Test func invalidBatchIsRefusedBeforeQueueing() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path)
        var bytes = makeBatch(count: 2).buffer
        bytes.setInteger(UInt8(0xFF), at: bytes.writerIndex - 1)  // breaks the CRC
        await #expect(throws: StorageError.self) { _ = try await log.appendDurably(try RecordBatch(buffer: bytes)) }
        #expect(log.logEndOffset == 0)
        let info = try await log.appendDurably(makeBatch(count: 2))
        #expect(info.firstOffset == 0)
        try log.close()
        await #expect(throws: StorageError.self) { _ = try await log.appendDurably(makeBatch(count: 1)) }
    }

    /// The vectored write splits at IOV_MAX and resumes after partial writes: a group of more than 512
    /// batches reads back intact.
    @Test func groupsLargerThanOneWriteReadBackIntact() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path)
        let results = try await appendConcurrently(log, appenders: 1500, perTask: 1)
        try checkLog(log, results)
        try log.close()
    }
}

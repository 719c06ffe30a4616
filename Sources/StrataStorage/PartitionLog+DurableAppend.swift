import Dispatch
import StrataRecords
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Durable appends by write coalescing ("flat combining"): concurrent `appendDurably` callers queue
/// their validated batches and wait. Two jobs on the `BlockingExecutor` serve them as a pipeline:
/// - the writer job takes everything queued, assigns offsets in queue order, writes the group with as
///   few `pwritev` calls as `IOV_MAX` allows (rolling segments where needed) and publishes the new log
///   end once, then hands the group to the sync stage and takes the next group;
/// - the sync job takes every written group, runs one `fdatasync` for all of them (it also completes
///   `flush(through:)` waiters) and resumes their callers.
/// So while one `fdatasync` runs, the callers it will release are not waited for, and those released
/// by the previous one are already being written: a thousand 1 KiB appenders cost a few writes and
/// one sync per round instead of a thousand writes, and the disk is rarely idle.
///
/// `combining` (a `Mutex`) owns both stages' queues and whether each job is queued or running. Each
/// job does one round and resubmits itself while work remains, so partitions sharing the executor
/// take turns. The writer job takes the writer lock exactly as `append` does, so combined and plain
/// appends interleave with contiguous offsets, and readers see a group as soon as it is written.
extension PartitionLog {
    /// How a durable append's caller waits. Unsafe (no per-call allocation and check): every queued
    /// append gets exactly one outcome from `writeCombined`, and each outcome is resumed exactly once,
    /// by the writer job (failures) or the sync job (everything written).
    typealias DurableAppendContinuation = UnsafeContinuation<Result<AppendInfo, StorageError>, Never>

    /// One queued durable append.
    struct QueuedAppend: Sendable {
        let batch: RecordBatch
        /// Validated header with `partitionLeaderEpoch` set; `baseOffset` is assigned by the writer.
        let header: RecordBatchHeader
        let continuation: DurableAppendContinuation
    }

    /// The pipeline's state, guarded by `combining`.
    struct Combining {
        /// Appends waiting to be written, in arrival order. Bounded by the callers: each one waits on
        /// its own entry (the broker bounds those by its in-flight requests).
        var queue: [QueuedAppend] = []
        /// The writer job is queued or running.
        var writing = false
        /// Written appends waiting for the next sync, with what to answer once it succeeds.
        var written: [(continuation: DurableAppendContinuation, info: AppendInfo)] =
            []
        /// The sync job is queued or running.
        var syncing = false
    }

    /// Most appends one write round takes (the rest wait for the next round).
    static let combinedAppendsMax = 4096
    /// Most bytes one write round takes, unless its first batch alone is bigger.
    static let combinedBytesMax = 8 << 20
    /// Most batches one `pwritev` carries: two buffers each, within Linux's `IOV_MAX` (1024).
    static let combinedBatchesPerWriteMax = 512

    /// Validates `batch` like `append`, then appends it and returns once it is durable (`fdatasync`ed),
    /// sharing writes and syncs with every concurrent caller. Offsets follow arrival order. A failed
    /// write fails only the appends of that write (the file is cut back); a failed sync fails every
    /// append it was to cover and makes the log read-only, as with `flush(through:)`.
    public func appendDurably(_ batch: RecordBatch, leaderEpoch: Int32 = 0) async throws(StorageError) -> AppendInfo {
        let header = try validateForAppend(batch, leaderEpoch: leaderEpoch)
        let result = await withUnsafeContinuation { (continuation: DurableAppendContinuation) in
            let start = combining.withLock { state -> Bool in
                state.queue.append(QueuedAppend(batch: batch, header: header, continuation: continuation))
                if state.writing { return false }
                state.writing = true
                return true
            }
            if start { executor.submit { self.writeRound() } }
        }
        return try result.get()
    }

    /// The writer job: writes one group, hands it to the sync stage, resubmits itself while appends
    /// are queued.
    private func writeRound() {
        let taken = combining.withLock { state -> [QueuedAppend] in
            var count = 0
            var bytes = 0
            while count < state.queue.count && count < Self.combinedAppendsMax
                && (count == 0 || bytes + state.queue[count].header.sizeInBytes <= Self.combinedBytesMax)
            {
                bytes += state.queue[count].header.sizeInBytes
                count += 1
            }
            if count == state.queue.count {
                // The usual case: take the whole queue without copying it entry by entry.
                var taken: [QueuedAppend] = []
                taken.reserveCapacity(count)
                swap(&taken, &state.queue)
                return taken
            }
            let taken = Array(state.queue[..<count])
            state.queue.removeFirst(count)
            return taken
        }
        let outcomes = writeCombined(taken)
        var failed: [(DurableAppendContinuation, StorageError)] = []
        let (startSync, more) = combining.withLock { state -> (Bool, Bool) in
            for (entry, outcome) in zip(taken, outcomes) {
                switch outcome {
                case .success(let info): state.written.append((entry.continuation, info))
                case .failure(let error): failed.append((entry.continuation, error))
                }
            }
            var startSync = false
            if !state.written.isEmpty && !state.syncing {
                state.syncing = true
                startSync = true
            }
            if state.queue.isEmpty { state.writing = false }
            return (startSync, !state.queue.isEmpty)
        }
        if startSync { executor.submit { self.syncRound() } }
        for (continuation, error) in failed { continuation.resume(returning: .failure(error)) }
        if more { executor.submit { self.writeRound() } }
    }

    /// The sync job: one `fdatasync` covering every group written so far, then resumes their callers
    /// (and any `flush(through:)` waiters it covers); resubmits itself while groups are waiting.
    private func syncRound() {
        let group = combining.withLock { state in
            defer { state.written.removeAll(keepingCapacity: true) }
            return state.written
        }
        // Everything in `group` was written before this capture of the log end, so the sync covers it.
        let synced = syncOnce()
        let ready = durability.withLock { completeWaiters(&$0, result: synced) }
        let more = combining.withLock { state -> Bool in
            if state.written.isEmpty { state.syncing = false }
            return !state.written.isEmpty
        }
        if more { executor.submit { self.syncRound() } }
        for (continuation, outcome) in ready { continuation.resume(returning: outcome) }
        switch synced {
        case .success:
            for entry in group { entry.continuation.resume(returning: .success(entry.info)) }
        case .failure(let error):
            for entry in group { entry.continuation.resume(returning: .failure(error)) }
        }
    }

    /// Writes `entries` in order under the writer lock: offsets from the log end, runs of up to
    /// `combinedBatchesPerWriteMax` batches per write, a roll before any batch that needs one, one
    /// publish at the end. Returns each entry's outcome; a failed write fails its run only (later runs
    /// continue at the same offsets), unless the log failed, which fails everything after it.
    private func writeCombined(_ entries: [QueuedAppend]) -> [Result<AppendInfo, StorageError>] {
        let now = clock.nowMilliseconds()
        let partition = topicPartition.description
        var outcomes = [Result<AppendInfo, StorageError>](
            repeating: .failure(.closed(partition: partition)),
            count: entries.count)
        // The batches' bytes stay valid: `entries` holds every batch's buffer and never mutates it.
        let bytes = entries.map { entry in
            entry.batch.buffer.withUnsafeReadableBytesWithStorageManagement { bytes, _ in bytes }
        }
        writer.withLock { state in
            var run: [LogSegment.StampedBatch] = []
            run.reserveCapacity(min(entries.count, Self.combinedBatchesPerWriteMax))
            var index = 0
            while index < entries.count {
                if state.isClosed { break }
                if let failure = state.failure {
                    for k in index..<entries.count {
                        outcomes[k] = .failure(.logFailed(partition: partition, cause: failure))
                    }
                    break
                }
                run.removeAll(keepingCapacity: true)
                let runStart = index
                var runBytes = 0
                var next = state.logEndOffset
                var rollError: StorageError?
                while index < entries.count && run.count < Self.combinedBatchesPerWriteMax {
                    var header = entries[index].header
                    header.baseOffset = next
                    if state.active.shouldRoll(
                        batchBytes: header.sizeInBytes, lastOffset: header.lastOffset, config: state.config,
                        nowMilliseconds: now, pendingBytes: runBytes)
                    {
                        if !run.isEmpty { break }  // write what is on this segment first
                        do throws(StorageError) { try roll(&state, now: now) } catch {
                            rollError = error
                            break
                        }
                    }
                    run.append(LogSegment.StampedBatch(bytes: bytes[index], header: header))
                    runBytes += header.sizeInBytes
                    next = header.nextOffset
                    index += 1
                }
                if let rollError {
                    outcomes[index] = .failure(rollError)
                    index += 1
                    continue
                }
                do throws(StorageError) {
                    try run.withUnsafeBufferPointer { (batches) throws(StorageError) in
                        try state.active.append(batches: batches, config: state.config)
                    }
                } catch {
                    if case .io(let operation, _, _) = error, operation.contains("also failed") {
                        state.failure = "\(error)"
                    }
                    for k in runStart..<index { outcomes[k] = .failure(error) }
                    continue
                }
                for (k, stamped) in zip(runStart..<index, run) {
                    let header = stamped.header
                    state.unflushedMessages += Int64(header.recordCount)
                    outcomes[k] = .success(
                        AppendInfo(
                            firstOffset: header.baseOffset, lastOffset: header.lastOffset,
                            maxTimestamp: header.maxTimestamp, logAppendTime: -1, sizeInBytes: header.sizeInBytes,
                            logStartOffset: state.logStartOffset))
                }
            }
            publish(state)
        }
        return outcomes
    }
}

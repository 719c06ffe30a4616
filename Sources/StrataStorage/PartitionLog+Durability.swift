import Dispatch
import Logging
import StrataRecords
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Group commit: `flush(through:)` waiters share `fdatasync`s run on the `BlockingExecutor`, one at
/// a time per partition; `durability` (a `Mutex`) owns the durable offset, the waiters and whether a
/// sync is running.
extension PartitionLog {
    /// Returns once every offset below `offset` is on disk. Group commit: one `fdatasync` covers
    /// every append made before it starts, so concurrent callers share syncs.
    public func flush(through offset: Int64) async throws(StorageError) {
        if durability.withLock({ $0.durableOffset >= offset }) { return }
        let result = await withCheckedContinuation {
            (continuation: CheckedContinuation<Result<Void, StorageError>, Never>) in
            let (start, signal) = durability.withLock { state -> (Bool?, Bool) in
                if state.durableOffset >= offset { return (nil, false) }
                state.waiters.append((offset, continuation))
                var signal = false
                if state.gatherTarget > 0 && state.waiters.count >= state.gatherTarget {
                    state.gatherTarget = 0
                    signal = true
                }
                if state.syncRunning { return (false, signal) }
                state.syncRunning = true
                return (true, signal)
            }
            if signal { gathered.signal() }
            switch start {
            case nil: continuation.resume(returning: .success(()))
            case true?: executor.submit { self.syncLoop() }
            case false?: break
            }
        }
        try result.get()
    }

    /// Starts a background sync unless one is running (flush.messages / flush.ms policy).
    public func requestBackgroundFlush() {
        let start = durability.withLock { state -> Bool in
            if state.syncRunning { return false }
            state.syncRunning = true
            return true
        }
        if start { executor.submit { self.syncLoop() } }
    }

    /// Starts a background sync when `flush.ms` has passed since the last one and data is unsynced.
    public func flushIfDue(nowMilliseconds: Int64) {
        let snap = snapshot()
        let due = durability.withLock { state in
            state.durableOffset < snap.logEndOffset
                && nowMilliseconds - state.lastFlushMilliseconds >= snap.config.flushMilliseconds
        }
        if due { requestBackgroundFlush() }
    }

    /// Syncs now on the calling thread (blocking): everything appended so far becomes durable.
    public func flush() throws(StorageError) {
        let result = syncOnce()
        let waiters = durability.withLock { state in
            completeWaiters(&state, result: result)
        }
        for waiter in waiters { waiter.0.resume(returning: waiter.1) }
        _ = try result.get()
    }

    /// Runs on the executor: sync rounds until no waiter is left uncovered.
    fileprivate func syncLoop() {
        while true {
            gatherGroup()
            let result = syncOnce()
            let (ready, again) = durability.withLock {
                state -> ([(CheckedContinuation<Result<Void, StorageError>, Never>, Result<Void, StorageError>)], Bool)
                in
                let ready = completeWaiters(&state, result: result)
                state.lastRoundWaiters = ready.count
                let again = !state.waiters.isEmpty
                if !again { state.syncRunning = false }
                return (ready, again)
            }
            for (continuation, outcome) in ready { continuation.resume(returning: outcome) }
            if !again { return }
        }
    }

    /// Group commit's gathering step. Appenders released by a sync come back one by one; syncing as
    /// soon as the first returns would cover only it and make the rest wait a whole extra sync. So
    /// when the previous sync released several waiters, block (bounded by
    /// `groupCommitGatherNanosecondsMax`) until as many are waiting again; the registering appender
    /// that completes the group signals. Blocking rather than polling leaves the CPU to the
    /// appenders being waited for (on 2 cores, polling took it from them). A lone writer (one waiter
    /// per round) never waits.
    fileprivate func gatherGroup() {
        let wait = durability.withLock { state -> Bool in
            guard state.lastRoundWaiters > 1, state.waiters.count < state.lastRoundWaiters else { return false }
            state.gatherTarget = state.lastRoundWaiters
            return true
        }
        guard wait else { return }
        _ = gathered.wait(timeout: .now() + .nanoseconds(Int(Self.groupCommitGatherNanosecondsMax)))
        durability.withLock { $0.gatherTarget = 0 }
        // A signal that raced with the timeout must not cut the next gathering short.
        while gathered.wait(timeout: .now()) == .success {}
    }

    /// Removes and returns waiters that `result` settles: all on failure, else those now durable.
    func completeWaiters(
        _ state: inout Durability, result: Result<Int64, StorageError>
    )
        -> [(CheckedContinuation<Result<Void, StorageError>, Never>, Result<Void, StorageError>)]
    {
        var ready: [(CheckedContinuation<Result<Void, StorageError>, Never>, Result<Void, StorageError>)] = []
        switch result {
        case .success(let target):
            state.durableOffset = max(state.durableOffset, target)
            state.lastFlushMilliseconds = clock.nowMilliseconds()
            state.waiters.removeAll { waiter in
                guard waiter.offset <= state.durableOffset else { return false }
                ready.append((waiter.continuation, .success(())))
                return true
            }
        case .failure(let error):
            for waiter in state.waiters { ready.append((waiter.continuation, .failure(error))) }
            state.waiters.removeAll()
        }
        return ready
    }

    /// One sync round: captures the log end and the segments holding unsynced offsets under the
    /// writer lock, then fdatasyncs them outside it. A failed fsync fails the log: after a failed
    /// fsync the kernel may have dropped the dirty pages, so nothing after the durable point can be
    /// acknowledged any more.
    func syncOnce() -> Result<Int64, StorageError> {
        let durable = durability.withLock { $0.durableOffset }
        let captured = writer.withLock { state -> Result<(Int64, [LogSegment]), StorageError> in
            if let failure = state.failure {
                return .failure(.logFailed(partition: topicPartition.description, cause: failure))
            }
            state.unflushedMessages = 0
            let dirty = state.segments.filter { $0.nextOffset > durable || $0 === state.active }
            return .success((state.logEndOffset, dirty))
        }
        guard case .success((let target, let dirty)) = captured else {
            if case .failure(let error) = captured { return .failure(error) }
            fatalError("unreachable")
        }
        if target <= durable { return .success(target) }
        for segment in dirty {
            do {
                try segment.syncLog()
            } catch {
                writer.withLock { state in
                    state.failure = "\(error)"
                    // Nothing above the durable point is served any more: it was never acknowledged
                    // and may not be on disk. A restart re-validates what the file really holds.
                    state.readableEnd = durable
                    publish(state)
                }
                logger.error(
                    "fdatasync failed; log is now read-only and serves only offsets below \(durable)",
                    metadata: ["error": "\(error)"])
                return .failure(error)
            }
        }
        return .success(target)
    }
}

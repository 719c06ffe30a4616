import StrataProtocol
import Synchronization

/// The consumer's background fetcher: one task that sends the next fetch as soon as the previous
/// answer has been checked, and hands answers to the record iterators through a short queue.
///
/// librdkafka does the same with its broker thread: the connection never waits for the application
/// to finish the previous answer before asking for the next one. At most `readyAnswersMax` answers wait
/// here besides the one an iterator is reading; while they wait the fetcher waits for room (so a
/// consumer that stops reading stops fetching).
///
/// A fetch error ends the fetcher after the answers before it; the error reaches the iterator in
/// order, and the next `next()` starts a new fetcher (the failed round is retried from the
/// positions). Answers of partitions revoked or moved meanwhile are dropped by the iterator
/// (`Positions.deliver`), as before.
///
/// Thread-safety: one `Mutex` owns the state; nothing suspends while holding it.
final class FetchPipeline: Sendable {
    typealias Answer = Result<[FetchedPartition], any Error>

    private struct State {
        var ready: [Answer] = []
        /// Iterators waiting for an answer.
        var readers: [(id: Int, continuation: CheckedContinuation<Answer, Never>)] = []
        /// The fetcher, waiting for room in `ready`.
        var fetcherWaiting: CheckedContinuation<Bool, Never>?
        var fetcherRunning = false
        /// The latest fetcher task (awaited by `fetcherFinished`).
        var fetcher: Task<Void, Never>?
        var closed = false
        var nextReaderId = 0
    }

    /// Answers kept ready beyond the one being read.
    static let readyAnswersMax = 1

    private let state = Mutex(State())
    /// Where the fetcher runs: the connections' event loop, so an answer resumes it without a
    /// thread hop and its next request goes out from that thread.
    private let executor: EventLoopTaskExecutor?

    init(executor: EventLoopTaskExecutor? = nil) { self.executor = executor }

    /// The next non-empty answer, in order; throws a fetch error in its place, `ClientError.closed`
    /// after `close()`, `CancellationError` when the waiting task is cancelled. Starts a fetcher
    /// running `fetch` rounds when none is running.
    func next(
        fetchingWith fetch: @escaping @Sendable () async throws -> [FetchedPartition]
    ) async throws
        -> [FetchedPartition]
    {
        let id = state.withLock { state in
            state.nextReaderId += 1
            return state.nextReaderId
        }
        let answer = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Answer, Never>) in
                let (immediate, room) = state.withLock {
                    state -> (Answer?, CheckedContinuation<Bool, Never>?) in
                    if !state.ready.isEmpty {
                        let answer = state.ready.removeFirst()
                        let room = state.fetcherWaiting
                        state.fetcherWaiting = nil
                        return (answer, room)
                    }
                    if state.closed { return (.failure(ClientError.closed), nil) }
                    if Task.isCancelled { return (.failure(CancellationError()), nil) }
                    state.readers.append((id, continuation))
                    if !state.fetcherRunning {
                        state.fetcherRunning = true
                        state.fetcher = Task(executorPreference: executor) { await self.run(fetch) }
                    }
                    return (nil, nil)
                }
                room?.resume(returning: true)
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiting = state.withLock { state -> CheckedContinuation<Answer, Never>? in
                guard let index = state.readers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.readers.remove(at: index).continuation
            }
            waiting?.resume(returning: .failure(CancellationError()))
        }
        return try answer.get()
    }

    /// The state in one line, for test failure messages.
    var diagnostics: String {
        state.withLock { state in
            "ready \(state.ready.count), readers waiting \(state.readers.count), fetcher "
                + (state.fetcherRunning ? (state.fetcherWaiting != nil ? "waiting for room" : "running") : "stopped")
                + (state.closed ? ", closed" : "")
        }
    }

    /// Ends the fetcher and fails waiting iterators with `ClientError.closed`.
    func close() {
        let (readers, fetcher) = state.withLock { state in
            state.closed = true
            let readers = state.readers
            state.readers = []
            let fetcher = state.fetcherWaiting
            state.fetcherWaiting = nil
            return (readers, fetcher)
        }
        for reader in readers { reader.continuation.resume(returning: .failure(ClientError.closed)) }
        fetcher?.resume(returning: false)
    }

    /// Waits for the fetcher to end (after `close()` and the connections' closing, it ends within a
    /// retry backoff), so its tasks' jobs never reach an event loop that was shut down.
    func fetcherFinished() async {
        await state.withLock { $0.fetcher }?.value
    }

    /// The fetcher: fetch, hand over, repeat while there is room; ends on an error or `close()`.
    private func run(_ fetch: @Sendable () async throws -> [FetchedPartition]) async {
        while true {
            let answer: Answer
            do {
                let parts = try await fetch()
                if parts.isEmpty {
                    if state.withLock({ $0.closed }) { break }
                    continue
                }
                answer = .success(parts)
            } catch {
                answer = .failure(error)
            }
            if case .failure = answer {
                await hand(answer, stopping: true)
                return
            }
            guard await hand(answer, stopping: false) else { break }
        }
        state.withLock { $0.fetcherRunning = false }
    }

    /// Gives `answer` to a waiting iterator or queues it; returns once there is room for another
    /// (false: closed, stop). With `stopping`, marks the fetcher ended in the same step, so an
    /// iterator arriving after the error starts a new one.
    @discardableResult
    private func hand(_ answer: Answer, stopping: Bool) async -> Bool {
        let (reader, full) = state.withLock { state -> (CheckedContinuation<Answer, Never>?, Bool) in
            if stopping { state.fetcherRunning = false }
            if !state.readers.isEmpty { return (state.readers.removeFirst().continuation, false) }
            state.ready.append(answer)
            return (nil, state.ready.count >= Self.readyAnswersMax)
        }
        reader?.resume(returning: answer)
        if stopping || !full { return !stopping && !state.withLock { $0.closed } }
        return await withCheckedContinuation { continuation in
            let proceed: Bool? = state.withLock { state in
                if state.closed { return false }
                if state.ready.count < Self.readyAnswersMax { return true }
                state.fetcherWaiting = continuation
                return nil
            }
            if let proceed { continuation.resume(returning: proceed) }
        }
    }
}

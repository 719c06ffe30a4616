import NIOCore
import StrataStorage
import Synchronization

/// Parked long-poll Fetch requests, woken when a partition they wait on receives data.
///
/// The registry (partition → waiters) is guarded by one `Mutex`; each `Waiter` guards its own state
/// with another. A fetch registers *before* re-reading its partitions, so an append that lands
/// between the read and the wait still wakes it (no lost wake-ups).
final class FetchWaiters: Sendable {
    /// One parked fetch. States: idle → waiting (continuation installed) → idle on wake;
    /// idle → notified when woken while not waiting, consumed by the next `wait`.
    final class Waiter: Sendable {
        private enum State {
            case idle
            case waiting(CheckedContinuation<Void, Never>)
            case notified
        }

        let partitions: [TopicPartition]
        private let state = Mutex<State>(.idle)

        init(partitions: [TopicPartition]) { self.partitions = partitions }

        /// Returns after a `wake` (possibly one that happened before this call) or `milliseconds`.
        func wait(milliseconds: Int64, eventLoop: EventLoop) async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if case .notified = state {
                        state = .idle
                        return true
                    }
                    state = .waiting(continuation)
                    return false
                }
                if resumeNow {
                    continuation.resume()
                } else {
                    eventLoop.scheduleTask(in: .milliseconds(max(0, milliseconds))) { self.wake() }
                }
            }
        }

        /// Resumes the waiting fetch, or remembers the wake-up for its next `wait`.
        func wake() {
            let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
                switch state {
                case .waiting(let continuation):
                    state = .idle
                    return continuation
                case .idle, .notified:
                    state = .notified
                    return nil
                }
            }
            continuation?.resume()
        }
    }

    private let registry = Mutex<[TopicPartition: [ObjectIdentifier: Waiter]]>([:])
    private let shutDownFlag = Mutex(false)
    /// Upper bound on parked fetches per partition.
    static let waitersPerPartitionMax = 10_000

    /// Registers a waiter for `partitions`; nil when a partition already has too many or the
    /// broker is shutting down (the fetch then answers at once).
    func register(_ partitions: [TopicPartition]) -> Waiter? {
        let waiter = Waiter(partitions: partitions)
        let id = ObjectIdentifier(waiter)
        let accepted = registry.withLock { map -> Bool in
            if isShutDown { return false }
            for partition in partitions where (map[partition]?.count ?? 0) >= Self.waitersPerPartitionMax {
                return false
            }
            for partition in partitions { map[partition, default: [:]][id] = waiter }
            return true
        }
        return accepted ? waiter : nil
    }

    func unregister(_ waiter: Waiter) {
        let id = ObjectIdentifier(waiter)
        registry.withLock { map in
            for partition in waiter.partitions {
                map[partition]?[id] = nil
                if map[partition]?.isEmpty == true { map[partition] = nil }
            }
        }
    }

    /// True once `shutDown()` ran: parked fetches stop waiting and answer with what they have.
    var isShutDown: Bool { shutDownFlag.withLock { $0 } }

    /// Graceful shutdown: wakes every parked fetch and refuses new waits, so the drain does not
    /// sit out each client's `max_wait_ms` (up to `fetchWaitMillisecondsMax`).
    func shutDown() {
        shutDownFlag.withLock { $0 = true }
        let woken = registry.withLock { map in map.values.flatMap { Array($0.values) } }
        for waiter in woken { waiter.wake() }
    }

    /// Wakes every fetch waiting on `partition`.
    func notify(_ partition: TopicPartition) {
        let woken = registry.withLock { $0[partition].map { Array($0.values) } ?? [] }
        for waiter in woken { waiter.wake() }
    }
}

import Foundation
import Synchronization

/// Wall-clock time in milliseconds, injected so tests control time (segment.ms, flush.ms,
/// retention) without sleeping.
public protocol StorageClock: Sendable {
    func nowMilliseconds() -> Int64
}

/// The system clock.
public struct SystemClock: StorageClock {
    public init() {}
    public func nowMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

/// A clock tests advance by hand. Thread-safe (one `Mutex`).
public final class ManualClock: StorageClock {
    private let now: Mutex<Int64>
    public init(_ start: Int64 = 1_700_000_000_000) { now = Mutex(start) }
    public func nowMilliseconds() -> Int64 { now.withLock { $0 } }
    public func advance(byMilliseconds delta: Int64) { now.withLock { $0 += delta } }
}

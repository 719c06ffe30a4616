import Synchronization
import Testing

@testable import StrataBroker

/// The cap on log lines per window that keeps a garbage-sending peer from flooding the log.
@Suite struct LogRateLimiterTests {
    final class FakeClock: Sendable {
        private let nanoseconds = Mutex<UInt64>(1_000)
        func advance(seconds: Double) { nanoseconds.withLock { $0 += UInt64(seconds * 1e9) } }
        var now: UInt64 { nanoseconds.withLock { $0 } }
    }

    @Test func linesBeyondTheWindowsAllowanceAreLeftOutAndCountedInTheNextLine() {
        let clock = FakeClock()
        let limiter = LogRateLimiter(linesPerWindow: 3, windowSeconds: 10, now: { clock.now })
        let first = (0..<5).map { _ in limiter.admit() }
        #expect(first.map(\.write) == [true, true, true, false, false])
        #expect(first.map(\.suppressedBefore) == [0, 0, 0, 0, 0])
        clock.advance(seconds: 9.9)
        #expect(limiter.admit().write == false, "still the same window")
        clock.advance(seconds: 0.2)
        let next = limiter.admit()
        #expect(next.write && next.suppressedBefore == 3, "a new window reports the 3 left out")
        #expect(limiter.admit() == (true, 0))
    }
}

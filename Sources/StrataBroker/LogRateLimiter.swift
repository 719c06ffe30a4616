import NIOCore
import Synchronization

/// Caps how many log lines of one kind are written per time window, so a peer sending garbage on
/// connection after connection cannot flood the log (each bad request still closes its
/// connection and counts in `strata_bad_requests_total`). The first line of the next window that
/// gets through reports how many were left out.
///
/// Thread-safety: one `Mutex` owns the window; callable from any task or event loop.
final class LogRateLimiter: Sendable {
    /// Lines allowed per window.
    let linesPerWindow: Int
    /// Window length in nanoseconds.
    let windowNanoseconds: UInt64
    /// Monotonic nanoseconds.
    private let now: @Sendable () -> UInt64

    private struct Window {
        var start: UInt64 = 0
        var written = 0
        var suppressed = 0
    }

    private let window = Mutex(Window())

    init(
        linesPerWindow: Int = 10, windowSeconds: Double = 10,
        now: @escaping @Sendable () -> UInt64 = { NIODeadline.now().uptimeNanoseconds }
    ) {
        precondition(linesPerWindow > 0 && windowSeconds > 0)
        self.linesPerWindow = linesPerWindow
        self.windowNanoseconds = UInt64(windowSeconds * 1e9)
        self.now = now
    }

    /// Whether to write a line now; when yes, also how many lines were left out since the last
    /// one written (0 if none).
    func admit() -> (write: Bool, suppressedBefore: Int) {
        let time = now()
        return window.withLock { window in
            if time &- window.start >= windowNanoseconds {
                window.start = time
                window.written = 0
            }
            guard window.written < linesPerWindow else {
                window.suppressed += 1
                return (false, 0)
            }
            window.written += 1
            let suppressed = window.suppressed
            window.suppressed = 0
            return (true, suppressed)
        }
    }
}

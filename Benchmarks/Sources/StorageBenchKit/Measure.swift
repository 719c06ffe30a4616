#if canImport(Glibc)
import Glibc
#endif

/// Monotonic time in nanoseconds (`CLOCK_MONOTONIC`, a vDSO call of about 20 ns).
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// CPU time of the whole process so far (every thread, user + system), in nanoseconds.
public func processCPUNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// Seconds taken by `body`.
public func secondsTaken(_ body: () throws -> Void) rethrows -> Double {
    let start = monotonicNanoseconds()
    try body()
    return Double(monotonicNanoseconds() - start) / 1e9
}

/// Seconds taken by the async `body`.
public func secondsTaken(_ body: () async throws -> Void) async rethrows -> Double {
    let start = monotonicNanoseconds()
    try await body()
    return Double(monotonicNanoseconds() - start) / 1e9
}

/// A set of measurements of one quantity, summarised by order statistics.
///
/// Value type owned by whoever measures; percentiles sort a copy.
public struct Samples: Sendable {
    public private(set) var values: [Double] = []

    public init() {}

    public init(_ values: [Double]) { self.values = values }

    public mutating func append(_ value: Double) { values.append(value) }

    public var count: Int { values.count }

    /// Nearest-rank percentile, `fraction` in 0...1.
    public func percentile(_ fraction: Double) -> Double {
        precondition(!values.isEmpty, "no samples")
        let sorted = values.sorted()
        let rank = Int((fraction * Double(sorted.count - 1)).rounded())
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    public var median: Double { percentile(0.5) }
    public var minimum: Double { values.min() ?? 0 }
    public var maximum: Double { values.max() ?? 0 }
}

/// Write-only sink that keeps results alive so the optimizer cannot drop the work producing them.
///
/// Used from one thread at a time (the measuring thread); races would only garble the sum.
public enum Sink {
    nonisolated(unsafe) private static var accumulator: UInt64 = 0

    @inline(never)
    public static func consume(_ value: UInt64) { accumulator &+= value }

    @inline(never)
    public static func consume(_ value: Int) { accumulator &+= UInt64(bitPattern: Int64(value)) }

    /// The running sum (printed once so it is observable).
    public static var value: UInt64 { accumulator }
}

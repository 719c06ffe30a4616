import Benchmark
import Foundation
import StorageBenchKit
import StrataRecords
import StrataStorage
import Synchronization

/// Entry point of the ordo-one benchmark target: steady-state malloc counts and latency
/// distributions of the storage hot paths. Ratios to baselines come from `StorageRatios`.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 10,
        maxDuration: .seconds(2),
        maxIterations: 20_000
    )
    appendBenchmarks()
    readBenchmarks()
    recordBenchmarks()
}

/// Shared blocking-I/O threads for every log the benchmarks open.
let benchExecutor = BlockingExecutor(threadCount: 2, name: "bench-io")

/// A partition log in its own scratch directory, opened by a benchmark's setup and closed and
/// deleted by its teardown. Thread-safe: the log is `Sendable`, the read cursor an atomic.
final class LogBench: Sendable {
    let directory: String
    let log: PartitionLog
    let batches: [RecordBatch]
    /// Base offset of every batch, when the fixture was pre-filled.
    let firstOffsets: [Int64]
    let cursor = Atomic<Int64>(0)

    /// Opens a new log and appends `prefill` batches of `batchBytes` (closing and reopening it so
    /// the data is synced and the reopened log starts clean), then reads it once front to back so
    /// the segment map has every page mapped: the steady state of a long-running broker.
    init(batchBytes: Int, prefill: Int = 0) throws {
        directory = try ScratchDirectory.make()
        batches = try LogFixture.recordBatches(BatchFactory.exactBatches(count: 64, sizeInBytes: batchBytes))
        if prefill > 0 {
            firstOffsets = try LogFixture.build(directory: directory, config: LogFixture.config(), batches: batches,
                                                count: prefill, executor: benchExecutor)
        } else {
            firstOffsets = []
        }
        log = try LogFixture.open(directory: directory, executor: benchExecutor)
        if prefill > 0 {
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
            defer { scratch.deallocate() }
            _ = try ReadWorkloads.strataSequentialRead(log, maxBytes: 1 << 20, into: scratch, validate: false,
                                                       copy: false)
        }
    }

    func remove() {
        try? log.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Fixtures of the benchmarks now set up, by benchmark name (teardown hooks get no state).
let runningFixtures = Mutex<[String: LogBench]>([:])

/// Registers a `LogBench` for `name` (setup) and returns it.
func setUpFixture(_ name: String, _ make: () throws -> LogBench) throws -> LogBench {
    let fixture = try make()
    runningFixtures.withLock { $0[name] = fixture }
    return fixture
}

/// Closes and deletes the fixture of `name` (teardown).
func tearDownFixture(_ name: String) {
    runningFixtures.withLock { $0.removeValue(forKey: name) }?.remove()
}

import Benchmark
import StorageBenchKit
import StrataRecords
import StrataStorage

/// Appends: one 16 KiB batch to the page cache per iteration, and group commit (40 tasks × 25
/// appends of 1 KiB, each awaiting `flush(through:)`, reported per append).
func appendBenchmarks() {
    let pageCache = "Append 16 KiB batch (page cache)"
    Benchmark(pageCache, configuration: .init(maxDuration: .seconds(3), maxIterations: 20_000)) { benchmark, fixture in
        let batch = fixture.batches[benchmark.currentIteration % fixture.batches.count]
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try? fixture.log.append(batch))
        }
        benchmark.stopMeasurement()
    } setup: {
        try setUpFixture(pageCache) { try LogBench(batchBytes: 16 << 10) }
    } teardown: {
        tearDownFixture(pageCache)
    }

    let groupCommit = "Append 1 KiB batch + flush(through:), 40 concurrent tasks (per append)"
    Benchmark(groupCommit, configuration: .init(scalingFactor: .kilo, maxDuration: .seconds(5),
                                                maxIterations: 20)) { benchmark, fixture in
        let batch = fixture.batches[0]
        let log = fixture.log
        benchmark.startMeasurement()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    for _ in 0..<25 {
                        guard let info = try? log.append(batch) else { return }
                        try? await log.flush(through: info.lastOffset + 1)
                    }
                }
            }
        }
        benchmark.stopMeasurement()
    } setup: {
        try setUpFixture(groupCommit) { try LogBench(batchBytes: 1 << 10) }
    } teardown: {
        tearDownFixture(groupCommit)
    }
}

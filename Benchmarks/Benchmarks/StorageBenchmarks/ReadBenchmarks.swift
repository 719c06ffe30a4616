import Benchmark
import StorageBenchKit
import StrataRecords
import StrataStorage

/// Reads: sequential 1 MiB slices copied out (as a fetch would send them) from a 256 MiB log, and
/// random single-batch lookups in a 1 GiB log (latency percentiles).
func readBenchmarks() {
    let sequential = "Read 1 MiB slice + copy out (sequential, 256 MiB log)"
    let destination = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
    Benchmark(sequential, configuration: .init(maxDuration: .seconds(2), maxIterations: 20_000)) { benchmark, fixture in
        let log = fixture.log
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var offset = fixture.cursor.load(ordering: .relaxed)
            if offset >= log.logEndOffset { offset = 0 }
            guard let slice = try? log.read(from: offset, maxBytes: 1 << 20).slice else { continue }
            slice.withUnsafeBytes { destination.copyMemory(from: $0) }
            fixture.cursor.store(slice.lastOffset + 1, ordering: .relaxed)
        }
        benchmark.stopMeasurement()
    } setup: {
        try setUpFixture(sequential) { try LogBench(batchBytes: 16 << 10, prefill: 16_384) }
    } teardown: {
        tearDownFixture(sequential)
    }

    let lookup = "Random offset lookup, read(from:maxBytes: 1 KiB) (1 GiB log)"
    Benchmark(lookup, configuration: .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(3),
                                           maxIterations: 200_000)) { benchmark, fixture in
        let log = fixture.log
        var random = SplitMix64(seed: UInt64(benchmark.currentIteration))
        let target = Int64(random.next() % UInt64(log.logEndOffset))
        benchmark.startMeasurement()
        blackHole(try? log.read(from: target, maxBytes: 1024).slice?.filePosition)
        benchmark.stopMeasurement()
    } setup: {
        try setUpFixture(lookup) { try LogBench(batchBytes: 16 << 10, prefill: 65_536) }
    } teardown: {
        tearDownFixture(lookup)
    }
}

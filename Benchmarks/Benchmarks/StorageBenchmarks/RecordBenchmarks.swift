import Benchmark
import NIOCore
import StorageBenchKit
import StrataRecords

/// Record decoding: iterating one uncompressed 16 KiB batch of 100-byte records, and decoding
/// one LZ4 batch of JSON lines (64 KiB uncompressed), per batch.
func recordBenchmarks() {
    let plain = BatchFactory.exactBatch(sizeInBytes: 16 << 10, seed: 5)
    Benchmark("Iterate records of one 16 KiB batch (100-byte values)",
              configuration: .init(maxIterations: 100_000)) { benchmark in
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try? RecordWorkloads.iterateRecords(plain))
        }
        benchmark.stopMeasurement()
    }

    let lz4 = BatchFactory.lz4Batches(count: 1).batches.compactMap { try? RecordBatch(buffer: $0) }
    Benchmark("LZ4 decompress + iterate one batch (64 KiB of JSON lines)",
              configuration: .init(maxIterations: 50_000)) { benchmark in
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try? RecordWorkloads.iterateLZ4(lz4))
        }
        benchmark.stopMeasurement()
    }
}

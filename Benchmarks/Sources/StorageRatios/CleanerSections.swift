import Foundation
import NIOCore
import StorageBenchKit
import StrataRecords
import StrataStorage

#if canImport(Glibc)
import Glibc
#endif

/// Cleaner issue: compaction throughput (target ≥ 100 MB/s of input, 1 KiB records, 10 % unique
/// keys), and as a diagnostic the p99 of bare durable appends (append + fdatasync, ~0.25 ms) while
/// another thread compacts: each journal commit the cleaner forces (output fdatasync, directory
/// fsyncs of the swap) delays the append that meets it. The producer-level target (p99 during
/// cleaning ≤ 2× without) is measured end to end by `tools/bench/compare`.
struct CleanerSections {
    let plan: Plan
    let scratch: ScratchDirectory
    let executor: BlockingExecutor
    let report: Report

    static let recordValueBytes = 1024
    static let recordsPerBatch = 16

    /// Compacted-log settings: 64 MiB segments, compaction allowed at once.
    static func compactedConfig() -> LogConfig {
        var config = LogFixture.config(segmentBytes: 64 << 20)
        config.cleanupPolicy = ["compact"]
        config.minCompactionLagMilliseconds = 0
        config.fileDeleteDelayMilliseconds = 0
        return config
    }

    /// Keyed 1 KiB records, keys drawn from `records / 10` distinct keys, 16 per batch.
    static func keyedBatches(records: Int, seed: UInt64) throws -> [RecordBatch] {
        var random = SplitMix64(seed: seed)
        let keys = max(1, records / 10)
        var value = ByteBufferAllocator().buffer(capacity: recordValueBytes)
        for index in 0..<recordValueBytes { value.writeInteger(UInt8(truncatingIfNeeded: index &* 31 &+ 7)) }
        var batches: [RecordBatch] = []
        var written = 0
        while written < records {
            var builder = RecordBatchBuilder(capacity: recordsPerBatch * (recordValueBytes + 64))
            for _ in 0..<min(recordsPerBatch, records - written) {
                let key = ByteBuffer(string: "key-\(random.next() % UInt64(keys))")
                builder.append(
                    key: key, value: value, timestamp: BatchFactory.baseTimestamp + Int64(written))
                written += 1
            }
            batches.append(try RecordBatch(buffer: builder.build()))
        }
        return batches
    }

    /// Writes `batches` to a fresh compacted log in `directory`, rolls so every segment is closed,
    /// fsyncs and returns the open log.
    func buildCompactedLog(_ directory: String, batches: [RecordBatch]) throws -> PartitionLog {
        removeTree(directory)
        let log = try LogFixture.open(directory: directory, config: Self.compactedConfig(), executor: executor)
        for batch in batches { _ = try log.append(batch) }
        try log.roll()
        try log.flush()
        return log
    }

    /// Compaction throughput: one `compact` pass over the whole dirty log, against reading the same
    /// bytes with every batch's CRC checked (the least a compaction must do).
    func compaction() throws {
        let records = plan.compactionMebibytes << 10  // ~1 KiB each
        let batches = try Self.keyedBatches(records: records, seed: 21)
        let directory = scratch.file("compact-log")
        var compactSeconds = Samples()
        var scanSeconds = Samples()
        var bytesIn = 0
        var bytesOut = 0
        let destination = UnsafeMutableRawBufferPointer.allocate(byteCount: Plan.readBytesMax, alignment: 4096)
        defer { destination.deallocate() }
        for round in 0...plan.rounds {  // round 0 warms up
            let log = try buildCompactedLog(directory, batches: batches)
            let size = log.sizeInBytes
            let scan = try secondsTaken {
                Sink.consume(try ReadWorkloads.strataSequentialRead(
                    log, maxBytes: Plan.readBytesMax, into: destination, validate: true, copy: false))
            }
            var result: CompactionResult?
            let seconds = try secondsTaken {
                result = try log.compact(nowMilliseconds: BatchFactory.baseTimestamp + Int64(records) + 1,
                                         dedupeBufferBytes: 128 << 20)
            }
            try log.close()
            removeTree(directory)
            guard let result, result.bytesIn == size else {
                throw BenchError.unexpected("one pass did not compact the whole log: \(String(describing: result))")
            }
            guard round > 0 else { continue }
            compactSeconds.append(seconds)
            scanSeconds.append(scan)
            bytesIn = result.bytesIn
            bytesOut = result.bytesOut
        }
        let rate = Double(bytesIn) / compactSeconds.median
        report.add(ResultRow(
            target: "C1", measurement: "compaction of \(Format.mebibytes(bytesIn)) of 1 KiB records, 10 % unique keys "
                + "(→ \(Format.mebibytes(bytesOut)) out, fsync included)",
            strata: Format.rate(bytes: bytesIn, seconds: compactSeconds.median) + " of input",
            baseline: "read + CRC of the same log " + Format.rate(bytes: bytesIn, seconds: scanSeconds.median),
            ratio: Format.percent(scanSeconds.median / compactSeconds.median), goal: "≥ 100 MB/s",
            passed: rate >= 100e6))
    }

    /// Durable 1 KiB appends (append + `flush(through:)`, one at a time) timed one by one, alone and
    /// while another thread compacts a dirty log; rounds alternate.
    func producerLatency() async throws {
        let records = plan.compactionMebibytes << 10
        let dirty = try Self.keyedBatches(records: records, seed: 22)
        let batch = try RecordBatch(buffer: BatchFactory.exactBatch(sizeInBytes: Plan.smallBatchBytes, seed: 23))
        var alone = Samples()
        var during = Samples()
        var aloneP50 = Samples()
        var duringP50 = Samples()
        var aloneCount = 0
        var duringCount = 0
        for round in 0...plan.rounds {
            let cleanDirectory = scratch.file("latency-compact")
            let compacted = try buildCompactedLog(cleanDirectory, batches: dirty)
            let producerDirectory = scratch.file("latency-produce")
            let log = try LogFixture.open(directory: producerDirectory, executor: executor)
            // Alone: as many appends as the compaction below needs time for (at least 500).
            let baseline = try await durableAppends(log, batch: batch, count: plan.latencyAppends)
            // During: a thread compacts while appends run until it is done (and at least 500).
            let finished = DispatchSemaphore(value: 0)
            let thread = Thread {
                LogCleaner.lowerCurrentThreadPriority()  // as the cleaner thread does
                _ = try? compacted.compact(nowMilliseconds: BatchFactory.baseTimestamp + Int64(records) + 1,
                                           dedupeBufferBytes: 128 << 20)
                finished.signal()
            }
            thread.start()
            var concurrent = Samples()
            while true {
                let chunk = try await durableAppends(log, batch: batch, count: 100)
                for value in chunk.values { concurrent.append(value) }
                if finished.wait(timeout: .now()) == .success { break }
            }
            try log.close()
            try compacted.close()
            removeTree(producerDirectory)
            removeTree(cleanDirectory)
            guard round > 0 else { continue }
            alone.append(baseline.percentile(0.99))
            during.append(concurrent.percentile(0.99))
            aloneP50.append(baseline.percentile(0.5))
            duringP50.append(concurrent.percentile(0.5))
            aloneCount += baseline.count
            duringCount += concurrent.count
        }
        let ratio = during.median / alone.median
        report.add(ResultRow(
            target: "C2", measurement: "durable 1 KiB append p99 while the cleaner compacts "
                + "\(plan.compactionMebibytes) MiB (\(duringCount) appends during, \(aloneCount) alone)",
            strata: "p99 " + Format.milliseconds(during.median) + " (p50 " + Format.milliseconds(duringP50.median)
                + ") during cleaning",
            baseline: "p99 " + Format.milliseconds(alone.median) + " (p50 " + Format.milliseconds(aloneP50.median)
                + ") without cleaning",
            ratio: Format.fixed(ratio, 2) + "× of alone",
            goal: "(diagnostic: the ≤ 2× target is measured at the producer, tools/bench/compare)", passed: nil))
    }

    /// `count` appends, each awaited to disk before the next; seconds per append.
    private func durableAppends(_ log: PartitionLog, batch: RecordBatch, count: Int) async throws -> Samples {
        var samples = Samples()
        for _ in 0..<count {
            let start = monotonicNanoseconds()
            let info = try log.append(batch)
            try await log.flush(through: info.lastOffset + 1)
            samples.append(Double(monotonicNanoseconds() - start) / 1e9)
        }
        return samples
    }
}

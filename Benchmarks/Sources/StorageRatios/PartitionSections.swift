import Foundation
import StorageBenchKit
import StrataRecords
import StrataStorage

/// Targets 3, 5 and 6: a 1 GiB partition read sequentially, looked up at random and recovered,
/// and a 10 GiB partition reopened after a clean shutdown.
struct PartitionSections {
    let plan: Plan
    let scratch: ScratchDirectory
    let executor: BlockingExecutor
    let report: Report

    /// Builds the 1 GiB partition (one segment), then runs 3, 5 and 6a on it and deletes it.
    func partition() throws {
        let directory = scratch.file("log-1g")
        let config = LogFixture.config(segmentBytes: 1 << 30)
        let batches = try LogFixture.recordBatches(BatchFactory.exactBatches(count: 64, sizeInBytes: Plan.batchBytes))
        progress("building a \(Format.mebibytes(plan.logBytes)) partition")
        var firstOffsets: [Int64] = []
        let buildSeconds = try secondsTaken {
            firstOffsets = try LogFixture.build(directory: directory, config: config, batches: batches,
                                                count: plan.logBatches, executor: executor)
        }
        progress("built in \(Format.fixed(buildSeconds, 1)) s (append + fdatasync)")
        let segmentPath = directory + "/" + SegmentFileName.stem(0) + SegmentFileName.logSuffix
        guard try PlainFile.size(segmentPath) == plan.logBytes else {
            throw BenchError.unexpected("\(segmentPath) is not \(plan.logBytes) bytes: the log rolled")
        }
        let log = try LogFixture.open(directory: directory, config: config, executor: executor)
        try sequentialRead(log, segmentPath: segmentPath)
        try randomLookups(log, segmentPath: segmentPath, firstOffsets: firstOffsets)
        try log.close()
        try recovery(directory: directory, segmentPath: segmentPath, config: config)
        try segmentDumpVerify(segmentPath: segmentPath)
        removeTree(directory)
    }

    /// 3: `read(from:maxBytes:)` front to back, copying each 1 MiB slice, vs `memcpy` in 1 MiB chunks
    /// from a map of the same file; then the same with the CRC of every batch checked.
    private func sequentialRead(_ log: PartitionLog, segmentPath: String) throws {
        let mapping = try ReadOnlyMapping(path: segmentPath)
        let chunk = Plan.readBytesMax
        let destination = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { destination.deallocate() }
        let expected = plan.logBytes
        func checked(_ bytes: Int) throws {
            if bytes != expected { throw BenchError.unexpected("read \(bytes) of \(expected) bytes") }
        }
        let results = try alternate(rounds: plan.rounds, [
            { secondsTaken { Sink.consume(ReadWorkloads.memcpyBaseline(mapping.bytes, chunkBytes: chunk,
                                                                       into: destination)) } },
            { try secondsTaken { try checked(ReadWorkloads.strataSequentialRead(
                log, maxBytes: chunk, into: destination, validate: false)) } },
            { try secondsTaken { try checked(ReadWorkloads.strataSequentialRead(
                log, maxBytes: chunk, into: destination, validate: true)) } },
            { try secondsTaken { try checked(ReadWorkloads.strataSequentialRead(
                log, maxBytes: chunk, into: destination, validate: false, copy: false)) } },
        ])
        let memcpy = results[0].median
        let baseline = "memcpy in 1 MiB chunks " + Format.rate(bytes: expected, seconds: memcpy)
        let plain = memcpy / results[1].median
        report.add(ResultRow(
            target: "3", measurement: "sequential read of \(Format.mebibytes(expected)), 1 MiB slices copied out",
            strata: Format.rate(bytes: expected, seconds: results[1].median), baseline: baseline,
            ratio: Format.percent(plain), goal: "≥ 90 %", passed: plain >= 0.9))
        let validated = memcpy / results[2].median
        report.add(ResultRow(
            target: "3", measurement: "same, CRC-32C of every batch checked (RecordBatch.validate) before the copy",
            strata: Format.rate(bytes: expected, seconds: results[2].median), baseline: baseline,
            ratio: Format.percent(validated), goal: "≥ 50 %", passed: validated >= 0.5))
        let slices = Double(expected / chunk)
        report.add(ResultRow(
            target: "3", measurement: "diagnostic: read(from:maxBytes:) alone, slices located but not copied",
            strata: Format.fixed(results[3].median / slices * 1e6, 2) + " µs per 1 MiB slice",
            baseline: "memcpy " + Format.fixed(memcpy / slices * 1e6, 2) + " µs per 1 MiB",
            ratio: Format.percent(results[3].median / memcpy) + " of memcpy time", goal: "(overhead)",
            passed: nil))
    }

    /// 5: latency of `read(from: random, maxBytes: 1 KiB)` (one batch) vs a binary search of an
    /// in-memory offset array plus a load from the mapped batch.
    private func randomLookups(_ log: PartitionLog, segmentPath: String, firstOffsets: [Int64]) throws {
        let mapping = try ReadOnlyMapping(path: segmentPath)
        let end = log.logEndOffset
        var strataP99 = Samples()
        var strataP50 = Samples()
        var baselineP99 = Samples()
        var baselineP50 = Samples()
        for round in 0...plan.rounds {  // round 0 warms up
            let seed = UInt64(round + 100)
            let strata = try ReadWorkloads.strataRandomLookups(log, count: plan.lookups, maxBytes: 1024, seed: seed)
            let baseline = ReadWorkloads.inMemoryLookups(firstOffsets: firstOffsets, batchBytes: Plan.batchBytes,
                                                         endOffset: end, file: mapping.bytes, count: plan.lookups,
                                                         seed: seed)
            guard round > 0 else { continue }
            strataP99.append(strata.percentile(0.99))
            strataP50.append(strata.median)
            baselineP99.append(baseline.percentile(0.99))
            baselineP50.append(baseline.median)
        }
        let p99 = strataP99.median
        report.add(ResultRow(
            target: "5", measurement: "random offset lookup in \(Format.mebibytes(plan.logBytes)) "
                + "(\(end) offsets), read(from:maxBytes: 1 KiB) p99 (p50)",
            strata: Format.microseconds(nanoseconds: p99) + " (" + Format.microseconds(nanoseconds: strataP50.median)
                + ")",
            baseline: "in-memory binary search + load " + Format.microseconds(nanoseconds: baselineP99.median)
                + " (" + Format.microseconds(nanoseconds: baselineP50.median) + ")",
            ratio: Format.fixed(p99 / baselineP99.median, 1) + "× baseline p99", goal: "p99 < 3 µs",
            passed: p99 < 3000))
        report.note("Lookup latencies include two clock reads (~20–40 ns); p99/p50 are medians over \(plan.rounds) "
            + "rounds of \(plan.lookups) uniformly random offsets.")
    }

    /// segment-dump issue: `segment-dump --verify` of the 1 GiB segment (a separate process, release
    /// build named by `STRATA_SEGMENT_DUMP`) vs memcpy of the same mapped bytes in 1 MiB chunks.
    private func segmentDumpVerify(segmentPath: String) throws {
        guard let tool = ProcessInfo.processInfo.environment["STRATA_SEGMENT_DUMP"] else {
            report.note("segment-dump --verify not measured: STRATA_SEGMENT_DUMP is not set (tools/bench-storage sets it).")
            return
        }
        let mapping = try ReadOnlyMapping(path: segmentPath)
        let chunk = Plan.readBytesMax
        let destination = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { destination.deallocate() }
        let results = try alternate(rounds: plan.rounds, [
            { secondsTaken { Sink.consume(ReadWorkloads.memcpyBaseline(mapping.bytes, chunkBytes: chunk,
                                                                       into: destination)) } },
            {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: tool)
                process.arguments = ["--verify", segmentPath]
                process.standardOutput = FileHandle.nullDevice
                let seconds = try secondsTaken {
                    try process.run()
                    process.waitUntilExit()
                }
                guard process.terminationStatus == 0 else {
                    throw BenchError.unexpected("segment-dump --verify exited \(process.terminationStatus)")
                }
                return seconds
            },
        ])
        let ratio = results[0].median / results[1].median
        report.add(ResultRow(
            target: "dump", measurement: "segment-dump --verify of a \(Format.mebibytes(plan.logBytes)) segment "
                + "(whole process, CRC of every batch)",
            strata: Format.rate(bytes: plan.logBytes, seconds: results[1].median) + " ("
                + Format.milliseconds(results[1].median) + ")",
            baseline: "memcpy in 1 MiB chunks " + Format.rate(bytes: plan.logBytes, seconds: results[0].median),
            ratio: Format.percent(ratio), goal: "≥ 50 %", passed: ratio >= 0.5))
    }

    /// 6a: open after a crash with the recovery point at the segment start (every batch re-validated)
    /// vs mapping the segment afresh and CRC-ing all of it.
    private func recovery(directory: String, segmentPath: String, config: LogConfig) throws {
        let results = try alternate(rounds: plan.rounds, [
            { try OpenWorkloads.crcBaseline(path: segmentPath) },
            { try OpenWorkloads.strataRecover(directory: directory, recoveryPoint: 0, config: config,
                                              executor: executor) },
        ])
        let bytes = plan.logBytes
        let rate = Double(bytes) / results[1].median
        report.add(ResultRow(
            target: "6", measurement: "recovery of a \(Format.mebibytes(bytes)) tail segment "
                + "(cleanShutdown: false, recoveryPoint at its start)",
            strata: Format.fixed(rate / 1e9, 2) + " GB/s (" + Format.milliseconds(results[1].median) + ")",
            baseline: "mmap + CRC-32C of the file " + Format.fixed(Double(bytes) / results[0].median / 1e9, 2)
                + " GB/s",
            ratio: Format.percent(results[0].median / results[1].median), goal: "≥ 1 GB/s", passed: rate >= 1e9))
    }

    /// 6b: open after a clean shutdown of a 10-segment partition vs `stat` of every file in it.
    func reopen() throws {
        let directory = scratch.file("log-10g")
        let config = LogFixture.config(segmentBytes: plan.reopenSegmentBytes)
        let batches = try LogFixture.recordBatches(BatchFactory.exactBatches(count: 64, sizeInBytes: Plan.batchBytes))
        let count = plan.reopenSegments * (plan.reopenSegmentBytes / Plan.batchBytes)
        let bytes = count * Plan.batchBytes
        progress("building a \(Format.mebibytes(bytes)) partition of \(plan.reopenSegments) segments")
        let buildSeconds = try secondsTaken {
            _ = try LogFixture.build(directory: directory, config: config, batches: batches, count: count,
                                     executor: executor)
        }
        progress("built in \(Format.fixed(buildSeconds, 1)) s (append + fdatasync)")
        var segments = 0
        let results = try alternate(rounds: plan.rounds, [
            { try OpenWorkloads.statBaseline(directory: directory) },
            {
                let (seconds, count) = try OpenWorkloads.strataReopen(directory: directory, config: config,
                                                                      executor: executor)
                segments = count
                return seconds
            },
        ])
        let reopen = results[1].median
        report.add(ResultRow(
            target: "6", measurement: "reopen after clean shutdown of \(Format.mebibytes(bytes)) "
                + "(\(segments) segments of \(Format.mebibytes(plan.reopenSegmentBytes)))",
            strata: Format.milliseconds(reopen),
            baseline: "readdir + stat of its \(try PlainFile.list(directory).count) files "
                + Format.milliseconds(results[0].median),
            ratio: Format.fixed(reopen / results[0].median, 1) + "× baseline", goal: "< 100 ms",
            passed: reopen < 0.1))
        removeTree(directory)
    }
}

import Foundation
import StorageBenchKit
import StrataRecords
import StrataStorage

#if canImport(Glibc)
import Glibc
#endif

/// Targets 1 and 2: appends to the page cache, and durable appends with group commit.
/// Every file is created fresh in the scratch directory and deleted right after its round.
struct WriteSections {
    let plan: Plan
    let scratch: ScratchDirectory
    let executor: BlockingExecutor
    let report: Report

    /// 1: `append` of 16 KiB batches vs `pwrite` of the same bytes, no fsync.
    func append() throws {
        let buffers = BatchFactory.exactBatches(count: 64, sizeInBytes: Plan.batchBytes)
        let batches = try LogFixture.recordBatches(buffers)
        let count = plan.appendBatches
        let pwritePath = scratch.file("append.pwrite")
        let logDirectory = scratch.file("append-log")
        let results = try alternate(rounds: plan.rounds, [
            {
                defer { unlink(pwritePath) }
                return try AppendWorkloads.pwriteBaseline(path: pwritePath, batches: buffers, count: count)
            },
            {
                defer { removeTree(logDirectory) }
                return try AppendWorkloads.strataAppend(directory: logDirectory, batches: batches, count: count,
                                                        executor: executor)
            },
        ])
        let bytes = count * Plan.batchBytes
        let ratio = results[0].median / results[1].median
        report.add(ResultRow(
            target: "1", measurement: "append 16 KiB batches to page cache (\(Format.mebibytes(bytes)) per round)",
            strata: Format.rate(bytes: bytes, seconds: results[1].median)
                + " (" + Format.fixed(results[1].median / Double(count) * 1e6, 2) + " µs/append)",
            baseline: "pwrite " + Format.rate(bytes: bytes, seconds: results[0].median)
                + " (" + Format.fixed(results[0].median / Double(count) * 1e6, 2) + " µs/write)",
            ratio: Format.percent(ratio), goal: "≥ 90 %", passed: ratio >= 0.9))
    }

    /// 2: many appenders each awaiting `appendDurably` vs `write`+`fdatasync` in 1 MiB chunks.
    /// With `STRATA_PROFILE_COMMIT=<rounds>` in the environment it runs only `appendDurably` rounds and
    /// reports nothing (a workload for `perf record`).
    func groupCommit() async throws {
        if let raw = ProcessInfo.processInfo.environment["STRATA_PROFILE_COMMIT"], let rounds = Int(raw) {
            let batch = try RecordBatch(buffer: BatchFactory.exactBatch(sizeInBytes: Plan.smallBatchBytes, seed: 11))
            let directory = scratch.file("commit-log")
            for _ in 0..<rounds {
                _ = try await AppendWorkloads.strataGroupCommit(
                    directory: directory, batch: batch, tasks: plan.committers,
                    appendsPerTask: plan.appendsPerCommitter, executor: executor)
                removeTree(directory)
            }
            return
        }
        let batch = try RecordBatch(buffer: BatchFactory.exactBatch(sizeInBytes: Plan.smallBatchBytes, seed: 11))
        let total = plan.committers * plan.appendsPerCommitter * Plan.smallBatchBytes
        let inFlightBytes = plan.committers * Plan.smallBatchBytes
        let bigBatch = try RecordBatch(buffer: BatchFactory.exactBatch(sizeInBytes: Plan.batchBytes, seed: 12))
        var strata = Samples()
        var strataUncoalesced = Samples()
        var strataBig = Samples()
        var chunked = Samples()
        var inFlightChunked = Samples()
        var appends = 0
        var syncs = 0
        var strataCPU = Samples()
        var uncoalescedCPU = Samples()
        var baselineCPU = Samples()
        for round in 0...plan.rounds {  // round 0 warms up
            let path = scratch.file("commit.plain")
            let directory = scratch.file("commit-log")
            var cpu = 0.0
            let baseline = try AppendWorkloads.writeSyncBaseline(path: path, totalBytes: total,
                                                                 chunkBytes: Plan.syncChunkBytes, cpuSeconds: &cpu)
            unlink(path)
            let result = try await AppendWorkloads.strataGroupCommit(
                directory: directory, batch: batch, tasks: plan.committers,
                appendsPerTask: plan.appendsPerCommitter, executor: executor)
            removeTree(directory)
            let uncoalesced = try await AppendWorkloads.strataGroupCommit(
                directory: directory, batch: batch, tasks: plan.committers,
                appendsPerTask: plan.appendsPerCommitter, coalesced: false, executor: executor)
            removeTree(directory)
            let big = try await AppendWorkloads.strataGroupCommit(
                directory: directory, batch: bigBatch, tasks: plan.committers,
                appendsPerTask: total / (plan.committers * Plan.batchBytes), executor: executor)
            removeTree(directory)
            // The most the pipeline can reach: its writer and sync jobs alternate two groups, each about
            // half of what is in flight.
            let small = try AppendWorkloads.writeSyncBaseline(path: path, totalBytes: total,
                                                              chunkBytes: inFlightBytes / 2)
            unlink(path)
            guard round > 0 else { continue }
            chunked.append(baseline)
            strata.append(result.seconds)
            strataUncoalesced.append(uncoalesced.seconds)
            strataCPU.append(result.cpuSeconds)
            uncoalescedCPU.append(uncoalesced.cpuSeconds)
            baselineCPU.append(cpu)
            strataBig.append(big.seconds)
            inFlightChunked.append(small)
            appends += result.appends
            syncs += result.syncs
        }
        let ratio = chunked.median / strata.median
        report.add(ResultRow(
            target: "2", measurement: "group commit: \(plan.committers) tasks × 1 KiB batches, each awaiting "
                + "appendDurably (\(Format.mebibytes(total)) per round)",
            strata: Format.rate(bytes: total, seconds: strata.median) + " ("
                + Format.fixed(Double(appends) / Double(syncs), 1) + " appends/fdatasync, CPU "
                + Format.fixed(strataCPU.median / Double(total >> 10) * 1e6, 2) + " µs/append, wall "
                + Format.fixed(strata.median / Double(total >> 10) * 1e6, 2) + " µs/append)",
            baseline: "write+fdatasync per 1 MiB " + Format.rate(bytes: total, seconds: chunked.median)
                + " (CPU " + Format.fixed(baselineCPU.median / Double(total >> 10) * 1e6, 2) + " µs, wall "
                + Format.fixed(chunked.median / Double(total >> 10) * 1e6, 2) + " µs per KiB)",
            ratio: Format.percent(ratio), goal: "≥ 80 %", passed: ratio >= 0.8))
        let uncoalescedRatio = chunked.median / strataUncoalesced.median
        report.add(ResultRow(
            target: "2", measurement: "same with append + await flush(through:) (one pwritev per append)",
            strata: Format.rate(bytes: total, seconds: strataUncoalesced.median) + " (CPU "
                + Format.fixed(uncoalescedCPU.median / Double(total >> 10) * 1e6, 2) + " µs/append)",
            baseline: "write+fdatasync per 1 MiB " + Format.rate(bytes: total, seconds: chunked.median),
            ratio: Format.percent(uncoalescedRatio), goal: "(before)", passed: nil))
        let inFlightRatio = inFlightChunked.median / strata.median
        report.add(ResultRow(
            target: "2", measurement: "group commit vs syncs of half of the \(plan.committers) × 1 KiB in flight "
                + "(the write/sync pipeline's two alternating groups)",
            strata: Format.rate(bytes: total, seconds: strata.median),
            baseline: "write+fdatasync per \(inFlightBytes >> 11) KiB "
                + Format.rate(bytes: total, seconds: inFlightChunked.median),
            ratio: Format.percent(inFlightRatio), goal: "(ceiling)", passed: nil))
        let bigRatio = chunked.median / strataBig.median
        report.add(ResultRow(
            target: "2", measurement: "group commit with \(Format.mebibytes(plan.committers * Plan.batchBytes)) in "
                + "flight: \(plan.committers) tasks × 16 KiB batches",
            strata: Format.rate(bytes: total, seconds: strataBig.median),
            baseline: "write+fdatasync per 1 MiB " + Format.rate(bytes: total, seconds: chunked.median),
            ratio: Format.percent(bigRatio), goal: "(mechanism)", passed: nil))
    }
}

import Foundation
import NIOCore
import StorageBenchKit
import StrataRecords

/// Target 4: record iteration and LZ4 decoding, CPU only (no files but the `lz4 -b` input).
struct CPUSections {
    let plan: Plan
    let scratch: ScratchDirectory
    let report: Report

    /// 4a: records/s iterating uncompressed 100-byte records vs one byte-sum pass over the same buffer.
    func recordIteration() throws {
        let buffers = BatchFactory.exactBatches(count: plan.iterationBatches, sizeInBytes: Plan.batchBytes)
        var fetched = ByteBufferAllocator().buffer(capacity: buffers.count * Plan.batchBytes)
        var nextOffset: Int64 = 0
        for buffer in buffers {
            // Stamp consecutive offsets, as batches fetched from one partition have them.
            let start = fetched.writerIndex
            fetched.writeImmutableBuffer(buffer)
            fetched.setInteger(nextOffset, at: start)
            nextOffset += Int64(try RecordBatch(buffer: buffer).header().recordCount)
        }
        let records = try RecordWorkloads.iterateRecords(fetched)
        precondition(records == Int(nextOffset), "iterated \(records) of \(nextOffset) records")
        let passes = plan.iterationPasses
        let results = try alternate(rounds: plan.rounds, [
            { secondsTaken { for _ in 0..<passes { _ = RecordWorkloads.byteSum(fetched) } } },
            { try secondsTaken { for _ in 0..<passes { _ = try RecordWorkloads.iterateRecords(fetched) } } },
        ])
        let baselineRate = Double(records * passes) / results[0].median
        let strataRate = Double(records * passes) / results[1].median
        let bytes = fetched.readableBytes * passes
        report.add(ResultRow(
            target: "4a", measurement: "iterate uncompressed 100-byte records (16 KiB batches, "
                + "\(Format.mebibytes(fetched.readableBytes)))",
            strata: Format.fixed(strataRate / 1e6) + " M rec/s (" + Format.fixed(1e9 / strataRate, 0) + " ns/record)",
            baseline: "byte-sum loop " + Format.rate(bytes: bytes, seconds: results[0].median)
                + " (= " + Format.fixed(baselineRate / 1e6) + " M rec/s)",
            ratio: Format.percent(strataRate / baselineRate), goal: "≥ 15 M rec/s", passed: strataRate >= 15e6))
    }

    /// 4b: LZ4 decompression (alone, and with record iteration) vs `lz4 -b1` on the same records.
    func lz4() throws {
        let (buffers, uncompressed) = BatchFactory.lz4Batches(count: plan.lz4Batches)
        let batches = try LogFixture.recordBatches(buffers)
        let compressedBytes = buffers.reduce(0) { $0 + $1.readableBytes }
        let file = scratch.file("lz4-records.bin")
        try Data(uncompressed.readableBytesView).write(to: URL(fileURLWithPath: file))
        let decompressed = try RecordWorkloads.decompressLZ4(batches)
        precondition(decompressed == uncompressed.readableBytes, "decompressed \(decompressed) bytes")
        report.note("LZ4 data: \(batches.count) batches of JSON event lines, "
            + "\(Format.mebibytes(uncompressed.readableBytes)) uncompressed, ratio "
            + Format.fixed(Double(uncompressed.readableBytes) / Double(compressedBytes), 2)
            + ". `lz4 -b1` reports its fastest run, so Strata's rows use the fastest of \(plan.rounds) rounds "
            + "(median in brackets). MB = 10^6 bytes of decompressed output.")
        progress("lz4 -b1 -i\(plan.lz4Seconds) on \(file)")
        let command = try RecordWorkloads.lz4CommandDecompression(file: file, seconds: plan.lz4Seconds)
        let results = try alternate(rounds: plan.rounds, [
            { try secondsTaken { _ = try RecordWorkloads.decompressLZ4(batches) } },
            { try secondsTaken { _ = try RecordWorkloads.iterateLZ4(batches) } },
            { try secondsTaken { _ = try RecordWorkloads.iterateLZ4Owning(batches) } },
            { try secondsTaken { _ = try RecordWorkloads.decompressLZ4Reused(batches) } },
            { try secondsTaken { _ = try RecordWorkloads.skipLZ4Records(batches) } },
        ])
        progress("lz4 -b1 -i\(plan.lz4Seconds) -B65536 on \(file)")
        let commandBlocks = try RecordWorkloads.lz4CommandDecompression(
            file: file, seconds: plan.lz4Seconds, extra: ["-B65536"])
        let bytes = Double(uncompressed.readableBytes)
        func speed(_ samples: Samples) -> (best: Double, median: Double) {
            (bytes / samples.minimum / 1e6, bytes / samples.median / 1e6)
        }
        let labels = [
            "LZ4Frame.decompress per batch", "decompress + visit every record's value (forEachRecord)",
            "decompress + iterate owning Records (makeRecordIterator)",
            "decompress alone into the reused buffer (LZ4Frame.withDecompressed)",
            "floor: decompress into the reused buffer + follow record length prefixes only",
        ]
        for (index, label) in labels.enumerated() {
            let (best, median) = speed(results[index])
            let scored = index < 2
            report.add(ResultRow(
                target: "4b", measurement: "LZ4 decode: " + label,
                strata: Format.fixed(best, 0) + " MB/s (" + Format.fixed(median, 0) + ")",
                baseline: "`lz4 -b1 -i\(plan.lz4Seconds)` " + Format.fixed(command, 0) + " MB/s",
                ratio: Format.percent(best / command), goal: scored ? "≥ 80 %" : "(diagnostic)",
                passed: scored ? best / command >= 0.8 : nil))
        }
        let (best, _) = speed(results[0])
        report.add(ResultRow(
            target: "4b", measurement: "LZ4 decode: decompress alone vs lz4 cut in 64 KiB blocks like Kafka frames",
            strata: Format.fixed(best, 0) + " MB/s",
            baseline: "`lz4 -b1 -B65536` " + Format.fixed(commandBlocks, 0) + " MB/s",
            ratio: Format.percent(best / commandBlocks), goal: "(like for like)", passed: nil))
        removeTree(file)
    }
}

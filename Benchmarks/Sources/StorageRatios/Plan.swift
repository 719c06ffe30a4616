import StrataStorage

/// Sizes and repetition counts of one run. `full` is what the storage issue specifies; `quick`
/// scales the data down (for trying the harness, not for reporting).
struct Plan {
    var rounds: Int
    /// 16 KiB batches appended per append measurement.
    var appendBatches: Int
    /// Group commit: concurrent appenders and appends each.
    var committers: Int
    var appendsPerCommitter: Int
    /// 16 KiB batches in the read/lookup/recovery partition (65536 = 1 GiB in one segment).
    var logBatches: Int
    /// Segment size and segment count of the reopen partition.
    var reopenSegmentBytes: Int
    var reopenSegments: Int
    /// Random lookups per round.
    var lookups: Int
    /// 16 KiB batches in the record-iteration buffer, and passes over it per measurement.
    var iterationBatches: Int
    var iterationPasses: Int
    /// LZ4 batches (64 KiB uncompressed each) and the `lz4 -b` evaluation time.
    var lz4Batches: Int
    var lz4Seconds: Int
    /// MiB of 1 KiB keyed records compacted per cleaner round, and durable appends timed alone.
    var compactionMebibytes: Int
    var latencyAppends: Int

    static let batchBytes = 16 << 10
    static let smallBatchBytes = 1 << 10
    static let readBytesMax = 1 << 20
    static let syncChunkBytes = 1 << 20

    static let full = Plan(rounds: 5, appendBatches: 8192, committers: 1024, appendsPerCommitter: 16,
                           logBatches: 65536, reopenSegmentBytes: 1 << 30, reopenSegments: 10, lookups: 200_000,
                           iterationBatches: 2048, iterationPasses: 4, lz4Batches: 1024, lz4Seconds: 3,
                           compactionMebibytes: 256, latencyAppends: 2000)

    static let quick = Plan(rounds: 3, appendBatches: 2048, committers: 64, appendsPerCommitter: 32,
                            logBatches: 8192, reopenSegmentBytes: 64 << 20, reopenSegments: 10, lookups: 50_000,
                            iterationBatches: 512, iterationPasses: 2, lz4Batches: 256, lz4Seconds: 1,
                            compactionMebibytes: 64, latencyAppends: 500)

    /// Bytes in the read/lookup/recovery partition.
    var logBytes: Int { logBatches * Plan.batchBytes }
}

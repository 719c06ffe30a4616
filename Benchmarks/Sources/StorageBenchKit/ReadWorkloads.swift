import NIOCore
import StrataRecords
import StrataStorage

/// Reads through Strata and the memory copies and index searches they are compared with
/// (targets 3 and 5). The caller owns the log and the destination buffer.
public enum ReadWorkloads {
    /// Reads the whole log front to back with `read(from:maxBytes:)`, copying every slice into
    /// `destination` (as a socket write would). With `validate`, checks the CRC of every batch in
    /// the slice first; without `copy`, only locates the slices (a diagnostic). Returns the bytes read.
    public static func strataSequentialRead(_ log: PartitionLog, maxBytes: Int,
                                            into destination: UnsafeMutableRawBufferPointer,
                                            validate: Bool, copy: Bool = true) throws -> Int {
        var offset = log.logStartOffset
        let end = log.logEndOffset
        var total = 0
        while offset < end {
            guard let slice = try log.read(from: offset, maxBytes: maxBytes).slice else { break }
            if validate { try validateBatches(slice) }
            if copy { slice.withUnsafeBytes { destination.copyMemory(from: $0) } }
            total += slice.length
            offset = slice.lastOffset + 1
        }
        return total
    }

    /// CRC and header checks of every batch in `slice`, in place.
    @inline(__always)
    static func validateBatches(_ slice: LogSlice) throws {
        try slice.withUnsafeBytes { (bytes) throws(RecordsError) in
            var position = 0
            while position < bytes.count {
                let rest = UnsafeRawBufferPointer(rebasing: bytes[position...])
                position += try RecordBatch.validate(bytes: rest, batchBytesMax: rest.count).sizeInBytes
            }
        }
    }

    /// `memcpy` of `source` into `destination` in `chunkBytes` pieces. Returns the bytes copied.
    public static func memcpyBaseline(_ source: UnsafeRawBufferPointer, chunkBytes: Int,
                                      into destination: UnsafeMutableRawBufferPointer) -> Int {
        var position = 0
        while position < source.count {
            let length = min(chunkBytes, source.count - position)
            destination.baseAddress!.copyMemory(from: source.baseAddress! + position, byteCount: length)
            position += length
        }
        return position
    }

    /// Latencies (nanoseconds) of `count` reads at uniformly random offsets, each asking for
    /// `maxBytes` (the slice holds at least the batch containing the offset).
    public static func strataRandomLookups(_ log: PartitionLog, count: Int, maxBytes: Int, seed: UInt64) throws
        -> Samples {
        var random = SplitMix64(seed: seed)
        let start = log.logStartOffset
        let span = UInt64(log.logEndOffset - start)
        var latencies = [Double](repeating: 0, count: count)
        for index in 0..<count {
            let target = start + Int64(random.next() % span)
            let before = monotonicNanoseconds()
            let slice = try log.read(from: target, maxBytes: maxBytes).slice
            let after = monotonicNanoseconds()
            Sink.consume(slice?.filePosition ?? 0)
            latencies[index] = Double(after - before)
        }
        return Samples(latencies)
    }

    /// Baseline for a lookup: binary search of an in-memory array of batch base offsets for the
    /// batch holding a random offset, then a load of that batch's first word from the mapped file
    /// (what a perfect in-memory index would cost). Latencies in nanoseconds.
    public static func inMemoryLookups(firstOffsets: [Int64], batchBytes: Int, endOffset: Int64,
                                       file: UnsafeRawBufferPointer, count: Int, seed: UInt64) -> Samples {
        var random = SplitMix64(seed: seed)
        let span = UInt64(endOffset)
        var latencies = [Double](repeating: 0, count: count)
        firstOffsets.withUnsafeBufferPointer { offsets in
            for index in 0..<count {
                let target = Int64(random.next() % span)
                let before = monotonicNanoseconds()
                var low = 0
                var high = offsets.count - 1
                while low < high {
                    let mid = (low + high + 1) >> 1
                    if offsets[mid] <= target { low = mid } else { high = mid - 1 }
                }
                let word = file.loadUnaligned(fromByteOffset: low * batchBytes, as: UInt64.self)
                let after = monotonicNanoseconds()
                Sink.consume(word)
                latencies[index] = Double(after - before)
            }
        }
        return Samples(latencies)
    }
}

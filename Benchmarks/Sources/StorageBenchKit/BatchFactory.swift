import NIOCore
import StrataRecords

/// Builds the RecordBatch v2 bytes the benchmarks append, read and decode: batches of an exact
/// total size filled with 100-byte records, and LZ4 batches of JSON event lines.
///
/// Pure value code, deterministic for a given seed; every result is a producer-shaped batch
/// (`baseOffset` 0, valid CRC), as a client would send it.
public enum BatchFactory {
    /// Timestamp of the first record of every generated batch (2023-11-14, milliseconds).
    public static let baseTimestamp: Int64 = 1_700_000_000_000

    /// Encoded size of one record with a null key, a `valueBytes` value and no headers.
    static func recordSize(valueBytes: Int, offsetDelta: Int32, timestampDelta: Int64 = 0) -> Int {
        let body = 1 + Varint.size(timestampDelta) + Varint.size(offsetDelta) + Varint.size(Int32(-1))
            + Varint.size(Int32(valueBytes)) + valueBytes + Varint.size(Int32(0))
        return Varint.size(Int32(body)) + body
    }

    /// Value lengths for a batch of exactly `sizeInBytes` bytes: as many `valueBytes`-byte records as
    /// fit, then one shorter record that fills the remainder exactly.
    static func valueLengths(sizeInBytes: Int, valueBytes: Int) -> [Int] {
        var lengths: [Int] = []
        var used = RecordBatchHeader.Layout.size
        while used + recordSize(valueBytes: valueBytes, offsetDelta: Int32(lengths.count)) <= sizeInBytes {
            used += recordSize(valueBytes: valueBytes, offsetDelta: Int32(lengths.count))
            lengths.append(valueBytes)
        }
        while used < sizeInBytes {
            let remainder = sizeInBytes - used
            let delta = Int32(lengths.count)
            let fits = { (length: Int) in recordSize(valueBytes: length, offsetDelta: delta) == remainder }
            if let fill = (0...remainder).first(where: fits) {
                lengths.append(fill)
                used = sizeInBytes
            } else {
                precondition(!lengths.isEmpty, "cannot fill a batch of \(sizeInBytes) bytes exactly")
                lengths.removeLast()
                used -= recordSize(valueBytes: valueBytes, offsetDelta: Int32(lengths.count))
            }
        }
        return lengths
    }

    /// One uncompressed batch of exactly `sizeInBytes` bytes whose records carry `valueBytes`-byte
    /// pseudo-random values (null keys, no headers).
    public static func exactBatch(sizeInBytes: Int, valueBytes: Int = 100, seed: UInt64) -> ByteBuffer {
        var random = SplitMix64(seed: seed)
        var builder = RecordBatchBuilder(capacity: sizeInBytes)
        var value = ByteBufferAllocator().buffer(capacity: valueBytes)
        for length in valueLengths(sizeInBytes: sizeInBytes, valueBytes: valueBytes) {
            value.clear()
            for _ in 0..<length { value.writeInteger(UInt8(truncatingIfNeeded: random.next())) }
            builder.append(key: nil, value: value, timestamp: baseTimestamp)
        }
        let batch = try! builder.build()  // uncompressed builds cannot fail
        precondition(batch.readableBytes == sizeInBytes, "built \(batch.readableBytes), wanted \(sizeInBytes)")
        return batch
    }

    /// `count` distinct batches of `sizeInBytes` bytes each (seeds 1…count).
    public static func exactBatches(count: Int, sizeInBytes: Int, valueBytes: Int = 100) -> [ByteBuffer] {
        (0..<count).map { exactBatch(sizeInBytes: sizeInBytes, valueBytes: valueBytes, seed: UInt64($0 + 1)) }
    }

    /// One JSON event line of 90–160 bytes, the kind of payload LZ4 is used for.
    static func jsonEvent(_ random: inout SplitMix64, sequence: Int) -> String {
        let events = ["page_view", "add_to_cart", "checkout", "search", "login", "logout"]
        let paths = ["/", "/products", "/cart", "/search", "/account", "/help"]
        let value = random.next()
        let event = events[Int(value % UInt64(events.count))]
        let path = paths[Int((value >> 8) % UInt64(paths.count))]
        return "{\"ts\":\(baseTimestamp + Int64(sequence)),\"user\":\"user-\((value >> 16) % 50_000)\","
            + "\"event\":\"\(event)\",\"path\":\"\(path)/\((value >> 32) % 10_000)\","
            + "\"ms\":\((value >> 48) % 900),\"ok\":\(value & 1 == 0)}"
    }

    /// LZ4 batches of JSON event lines whose uncompressed records section stays within
    /// `recordsBytesMax` (one 64 KiB LZ4 block by default), `count` of them. Also returns each
    /// batch's uncompressed records section, concatenated (the bytes decompression reproduces).
    public static func lz4Batches(count: Int, recordsBytesMax: Int = 64 << 10, seed: UInt64 = 7)
        -> (batches: [ByteBuffer], uncompressed: ByteBuffer) {
        var random = SplitMix64(seed: seed)
        var batches: [ByteBuffer] = []
        var uncompressed = ByteBufferAllocator().buffer(capacity: count * recordsBytesMax)
        var plain = RecordBatchBuilder(capacity: recordsBytesMax)
        var compressed = RecordBatchBuilder(compression: .lz4, capacity: recordsBytesMax)
        var sequence = 0
        var pending = jsonEvent(&random, sequence: sequence)
        for _ in 0..<count {
            plain.reset()
            compressed.reset()
            while true {
                let line = ByteBuffer(string: pending)
                // Timestamp deltas are below `sequence`, so this over-estimates: the bound holds.
                let size = recordSize(valueBytes: line.readableBytes, offsetDelta: Int32(plain.recordCount),
                                      timestampDelta: Int64(sequence))
                if plain.uncompressedRecordBytes + size > recordsBytesMax { break }
                plain.append(key: nil, value: line, timestamp: baseTimestamp + Int64(sequence))
                compressed.append(key: nil, value: line, timestamp: baseTimestamp + Int64(sequence))
                sequence += 1
                pending = jsonEvent(&random, sequence: sequence)
            }
            let plainBatch = try! plain.build()
            uncompressed.writeImmutableBuffer(
                plainBatch.getSlice(at: RecordBatchHeader.Layout.size,
                                    length: plainBatch.readableBytes - RecordBatchHeader.Layout.size)!)
            batches.append(try! compressed.build())  // LZ4 compression of valid input does not fail
        }
        return (batches, uncompressed)
    }
}

/// SplitMix64: a tiny deterministic generator for benchmark data (not for anything secret).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

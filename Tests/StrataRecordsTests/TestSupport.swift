// Shared helpers for the StrataRecords tests: a seeded PRNG, byte hashing, the RecordBatch v2 golden
// vector and small builders for hand-made (possibly malformed) batches.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import StrataRecords

/// SplitMix64: tiny, fast, deterministic. Good enough to drive property tests; not cryptographic.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` random bytes.
    mutating func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { raw in
            var i = 0
            while i < count {
                var word = next()
                let n = Swift.min(8, count - i)
                for k in 0..<n {
                    raw[i + k] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                }
                i += n
            }
        }
        return result
    }
}

/// The seed for a randomized test: `STRATA_TEST_SEED` (decimal or 0x-hex) when set, else the clock.
/// Always printed so a failing run can be replayed.
enum TestSeed {
    static func make(_ test: String = #function) -> UInt64 {
        let seed: UInt64
        if let raw = getenv("STRATA_TEST_SEED"), let parsed = parse(String(cString: raw)) {
            seed = parsed
        } else {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            seed = UInt64(truncatingIfNeeded: now.tv_sec) &* 1_000_000_007 &+ UInt64(truncatingIfNeeded: now.tv_nsec)
        }
        print("[StrataRecordsTests] \(test) seed=\(seed) (replay with STRATA_TEST_SEED=\(seed))")
        return seed
    }

    private static func parse(_ text: String) -> UInt64? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt64(text.dropFirst(2), radix: 16) }
        return UInt64(text)
    }
}

/// FNV-1a 64 over bytes: compare large payloads by count and hash, never element by element in `#expect`.
func fnv1a<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }
    return hash
}

/// Count and hash of a buffer's readable bytes (nil for a nil buffer), printable in a failure message.
struct BytesDigest: Equatable, CustomStringConvertible {
    var count: Int
    var hash: UInt64

    init(_ bytes: [UInt8]) {
        count = bytes.count
        hash = fnv1a(bytes)
    }

    init(_ buffer: ByteBuffer) {
        count = buffer.readableBytes
        hash = fnv1a(buffer.readableBytesView)
    }

    var description: String { "\(count) bytes, fnv1a 0x\(String(hash, radix: 16))" }
}

/// Whether `buffer`'s readable bytes equal `bytes` (memcmp: fast even in debug builds, for tests that
/// compare many large outputs).
func sameBytes(_ buffer: ByteBuffer, _ bytes: [UInt8]) -> Bool {
    guard buffer.readableBytes == bytes.count else { return false }
    return buffer.withUnsafeReadableBytes { raw in
        bytes.withUnsafeBytes { expected in
            raw.isEmpty || memcmp(raw.baseAddress!, expected.baseAddress!, raw.count) == 0
        }
    }
}

func digest(_ buffer: ByteBuffer?) -> BytesDigest? { buffer.map(BytesDigest.init) }
func digest(_ bytes: [UInt8]?) -> BytesDigest? { bytes.map(BytesDigest.init) }

/// Parses whitespace-separated hex into bytes (fixtures written as in kafka-protocol.md).
func hexBytes(_ text: String) -> [UInt8] {
    let digits = text.filter { !$0.isWhitespace }
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    var result: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        result.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return result
}

/// Runs `body` and returns the `RecordsError` it threw, or nil when it returned normally.
func thrownError<T>(_ body: () throws(RecordsError) -> T) -> RecordsError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// True when `error` is `RecordsError.lz4`.
func isLZ4Error(_ error: RecordsError?) -> Bool {
    if case .lz4? = error { return true }
    return false
}

/// The malformed-record field named by `error`, or nil when it is not `malformedRecord`.
func malformedField(_ error: RecordsError?) -> String? {
    if case let .malformedRecord(_, field, _, _)? = error { return field }
    return nil
}

/// The golden RecordBatch v2 of kafka-protocol.md §4.3 (kafka-python, two records, uncompressed).
enum GoldenBatch {
    static let bytes = hexBytes(
        """
        00000000 00000000 0000004e 00000000 02 b1267df6 0000 00000001
        0000018bcfe56800 0000018bcfe56805 ffffffffffffffff ffff ffffffff 00000002
        20 00 00 00 02 6b 0a 68656c6c6f 02 02 68 02 76
        16 00 0a 02 01 0a 776f726c64 00
        """)
    static let crc: UInt32 = 0xB126_7DF6
    static let baseTimestamp: Int64 = 1_700_000_000_000
    static var buffer: ByteBuffer { ByteBuffer(bytes: bytes) }
}

typealias Layout = RecordBatchHeader.Layout

/// Writes a big-endian integer into `bytes` at `offset`.
func patch<T: FixedWidthInteger>(_ bytes: inout [UInt8], at offset: Int, _ value: T) {
    withUnsafeBytes(of: value.bigEndian) { raw in
        for (k, byte) in raw.enumerated() { bytes[offset + k] = byte }
    }
}

/// Recomputes and stores the CRC of a whole batch held in `bytes` (so a test can change CRC-covered
/// fields and still reach the check it means to exercise).
func refreshCRC(_ bytes: inout [UInt8]) {
    let crc = bytes.withUnsafeBytes { RecordBatchHeader.computeCRC(batchBytes: $0) }
    patch(&bytes, at: Layout.crc, crc)
}

/// A batch around a hand-made records section: a correct header (lengths, counts, CRC) unless the
/// caller overrides `recordCount` / `lastOffsetDelta`. Used to feed malformed records to the iterator.
func handMadeBatch(
    records: [UInt8], recordCount: Int32, lastOffsetDelta: Int32? = nil, attributes: Int16 = 0,
    baseOffset: Int64 = 0, baseTimestamp: Int64 = 1_000
) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: Layout.size)
    patch(&bytes, at: Layout.baseOffset, baseOffset)
    patch(&bytes, at: Layout.batchLength, Int32(Layout.size - Layout.logOverhead + records.count))
    patch(&bytes, at: Layout.partitionLeaderEpoch, Int32(0))
    bytes[Layout.magic] = 2
    patch(&bytes, at: Layout.attributes, attributes)
    patch(&bytes, at: Layout.lastOffsetDelta, lastOffsetDelta ?? (recordCount - 1))
    patch(&bytes, at: Layout.baseTimestamp, baseTimestamp)
    patch(&bytes, at: Layout.maxTimestamp, baseTimestamp)
    patch(&bytes, at: Layout.producerId, Int64(-1))
    patch(&bytes, at: Layout.producerEpoch, Int16(-1))
    patch(&bytes, at: Layout.baseSequence, Int32(-1))
    patch(&bytes, at: Layout.recordCount, recordCount)
    bytes += records
    refreshCRC(&bytes)
    return bytes
}

/// Zig-zag varint bytes of `value` (via the module's own writer).
func varintBytes(_ value: Int32) -> [UInt8] {
    var buffer = ByteBuffer()
    Varint.write(value, to: &buffer)
    return Array(buffer.readableBytesView)
}

/// Zig-zag varlong bytes of `value`.
func varlongBytes(_ value: Int64) -> [UInt8] {
    var buffer = ByteBuffer()
    Varint.write(value, to: &buffer)
    return Array(buffer.readableBytesView)
}

/// Encodes one record body by hand (independently of `RecordBatchBuilder`), length prefix included.
func handMadeRecord(
    timestampDelta: Int64 = 0, offsetDelta: Int32, key: [UInt8]?, value: [UInt8]?,
    headers: [(String, [UInt8]?)] = []
) -> [UInt8] {
    var body: [UInt8] = [0]
    body += varlongBytes(timestampDelta)
    body += varintBytes(offsetDelta)
    body += varintBytes(Int32(key?.count ?? -1)) + (key ?? [])
    body += varintBytes(Int32(value?.count ?? -1)) + (value ?? [])
    body += varintBytes(Int32(headers.count))
    for (headerKey, headerValue) in headers {
        body += varintBytes(Int32(headerKey.utf8.count)) + Array(headerKey.utf8)
        body += varintBytes(Int32(headerValue?.count ?? -1)) + (headerValue ?? [])
    }
    return varintBytes(Int32(body.count)) + body
}

/// Decodes every record of a batch held in `bytes`.
func decodeAll(_ bytes: [UInt8], decompressedBytesMax: Int = 64 << 20) throws(RecordsError) -> [Record] {
    let batch = try RecordBatch(buffer: ByteBuffer(bytes: bytes))
    var iterator = try batch.makeRecordIterator(decompressedBytesMax: decompressedBytesMax)
    var result: [Record] = []
    while let record = try iterator.next() { result.append(record) }
    return result
}

extension ByteBuffer {
    /// The readable bytes as an array (small buffers only).
    var array: [UInt8] { Array(readableBytesView) }
}

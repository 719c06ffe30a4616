import NIOCore

/// Compression codec in bits 0–2 of the batch attributes.
public enum CompressionCodec: Int, Sendable, CaseIterable {
    case none = 0
    case gzip = 1
    case snappy = 2
    case lz4 = 3
    case zstd = 4

    /// Kafka's name for the codec (`kafka-dump-log` prints these).
    public var name: String {
        switch self {
        case .none: return "none"
        case .gzip: return "gzip"
        case .snappy: return "snappy"
        case .lz4: return "lz4"
        case .zstd: return "zstd"
        }
    }
}

/// Timestamp type in bit 3 of the batch attributes.
public enum TimestampType: Int, Sendable {
    case createTime = 0
    case logAppendTime = 1
}

/// The fixed 61-byte header of a RecordBatch v2, decoded into plain values.
///
/// Byte layout (big-endian):
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | baseOffset |
/// | 8 | 4 | batchLength (bytes after this field) |
/// | 12 | 4 | partitionLeaderEpoch (not covered by the CRC) |
/// | 16 | 1 | magic = 2 |
/// | 17 | 4 | crc (CRC-32C of bytes 21..<end) |
/// | 21 | 2 | attributes |
/// | 23 | 4 | lastOffsetDelta |
/// | 27 | 8 | baseTimestamp |
/// | 35 | 8 | maxTimestamp |
/// | 43 | 8 | producerId |
/// | 51 | 2 | producerEpoch |
/// | 53 | 4 | baseSequence |
/// | 57 | 4 | recordCount |
/// | 61 | … | records (one compressed blob when compressed) |
public struct RecordBatchHeader: Sendable, Equatable {
    public enum Layout {
        public static let baseOffset = 0
        public static let batchLength = 8
        public static let partitionLeaderEpoch = 12
        public static let magic = 16
        public static let crc = 17
        public static let attributes = 21
        public static let lastOffsetDelta = 23
        public static let baseTimestamp = 27
        public static let maxTimestamp = 35
        public static let producerId = 43
        public static let producerEpoch = 51
        public static let baseSequence = 53
        public static let recordCount = 57
        /// Size of the fixed header; records start here.
        public static let size = 61
        /// baseOffset + batchLength: the bytes not counted by batchLength.
        public static let logOverhead = 12
        /// Smallest legal batchLength (header without records).
        public static let batchLengthMin = size - logOverhead
    }

    public var baseOffset: Int64
    public var batchLength: Int32
    public var partitionLeaderEpoch: Int32
    public var magic: Int8
    public var crc: UInt32
    public var attributes: Int16
    public var lastOffsetDelta: Int32
    public var baseTimestamp: Int64
    public var maxTimestamp: Int64
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
    public var recordCount: Int32

    /// Whole batch size in bytes, header included.
    @inlinable public var sizeInBytes: Int { Int(batchLength) + Layout.logOverhead }
    /// Offset of the last record slot (kept across compaction even if that record is gone).
    /// Wrapping arithmetic: a corrupt `baseOffset` (outside the CRC) must not trap; `checkBounds`
    /// rejects such headers.
    @inlinable public var lastOffset: Int64 { baseOffset &+ Int64(lastOffsetDelta) }
    /// Next offset after this batch.
    @inlinable public var nextOffset: Int64 { lastOffset &+ 1 }
    /// Raw codec number (bits 0–2).
    @inlinable public var compressionCodecRaw: Int { Int(attributes & 0x7) }
    /// Codec, nil for the undefined values 5–7.
    @inlinable public var compression: CompressionCodec? { CompressionCodec(rawValue: compressionCodecRaw) }
    @inlinable public var timestampType: TimestampType { attributes & 0x8 != 0 ? .logAppendTime : .createTime }
    @inlinable public var isTransactional: Bool { attributes & 0x10 != 0 }
    @inlinable public var isControl: Bool { attributes & 0x20 != 0 }
    @inlinable public var hasDeleteHorizon: Bool { attributes & 0x40 != 0 }
    /// Last sequence number, or -1 when the batch has no sequence.
    @inlinable public var lastSequence: Int32 {
        baseSequence < 0
            ? -1 : Int32(truncatingIfNeeded: (Int64(baseSequence) + Int64(lastOffsetDelta)) % (Int64(Int32.max) + 1))
    }

    /// Decodes the header from the first 61 bytes of `bytes`.
    /// Checks only that the bytes are there and that magic is 2; see `RecordBatch.validate`.
    @inlinable
    public init(parsing bytes: UnsafeRawBufferPointer) throws(RecordsError) {
        guard bytes.count >= Layout.size else {
            throw .truncated(field: "batch header", position: 0, needed: Layout.size, available: bytes.count)
        }
        magic = Int8(bitPattern: bytes[Layout.magic])
        guard magic == 2 else { throw .unsupportedMagic(magic) }
        baseOffset = Self.load(bytes, Layout.baseOffset)
        batchLength = Self.load(bytes, Layout.batchLength)
        partitionLeaderEpoch = Self.load(bytes, Layout.partitionLeaderEpoch)
        crc = Self.load(bytes, Layout.crc)
        attributes = Self.load(bytes, Layout.attributes)
        lastOffsetDelta = Self.load(bytes, Layout.lastOffsetDelta)
        baseTimestamp = Self.load(bytes, Layout.baseTimestamp)
        maxTimestamp = Self.load(bytes, Layout.maxTimestamp)
        producerId = Self.load(bytes, Layout.producerId)
        producerEpoch = Self.load(bytes, Layout.producerEpoch)
        baseSequence = Self.load(bytes, Layout.baseSequence)
        recordCount = Self.load(bytes, Layout.recordCount)
    }

    /// Reads `baseOffset` and `batchLength` only (the 12-byte log overhead), without the magic check.
    /// Returns nil when fewer than 12 bytes are available.
    @inlinable
    public static func peekOffsetAndSize(_ bytes: UnsafeRawBufferPointer) -> (baseOffset: Int64, batchLength: Int32)? {
        guard bytes.count >= Layout.logOverhead else { return nil }
        return (load(bytes, Layout.baseOffset), load(bytes, Layout.batchLength))
    }

    @inlinable
    static func load<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> T {
        T(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Checks header invariants that hold for every stored batch: length within `[49, limit]`,
    /// `recordCount >= 0` (compaction may empty a batch), `baseOffset` in range, and
    /// `lastOffsetDelta >= recordCount - 1` (compaction can leave gaps, so equality is only required of
    /// produced batches — see `checkProducedShape`).
    public func checkBounds(batchBytesMax: Int) throws(RecordsError) {
        guard batchLength >= Layout.batchLengthMin, sizeInBytes <= batchBytesMax else {
            throw .invalidBatchLength(length: Int64(batchLength), limit: batchBytesMax - Layout.logOverhead)
        }
        guard recordCount >= 0, lastOffsetDelta >= 0, recordCount == 0 || lastOffsetDelta >= recordCount - 1 else {
            throw .invalidRecordCount(recordCount: recordCount, lastOffsetDelta: lastOffsetDelta)
        }
        guard baseOffset >= 0, baseOffset <= Self.baseOffsetMax else { throw .invalidBaseOffset(baseOffset) }
    }

    /// Largest acceptable `baseOffset`: leaves room for any `lastOffsetDelta` without overflow.
    public static let baseOffsetMax = Int64.max - Int64(Int32.max) - 1

    /// Stricter shape required of batches arriving from producers: `recordCount > 0` and
    /// `lastOffsetDelta + 1 == recordCount`.
    public func checkProducedShape() throws(RecordsError) {
        guard recordCount > 0, Int64(lastOffsetDelta) + 1 == Int64(recordCount) else {
            throw .invalidRecordCount(recordCount: recordCount, lastOffsetDelta: lastOffsetDelta)
        }
    }

    /// Computes CRC-32C of a whole batch's bytes 21..<end (`bytes` starts at the batch).
    @inlinable
    public static func computeCRC(batchBytes bytes: UnsafeRawBufferPointer) -> UInt32 {
        CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[Layout.attributes...]))
    }
}

import NIOCore

/// A zero-copy view of one RecordBatch v2 held in a `ByteBuffer` slice.
///
/// The buffer's readable bytes are exactly one batch. Header fields are read in place;
/// `validate` checks sizes, magic, counts and the CRC; `stamped` patches `baseOffset` and
/// `partitionLeaderEpoch` (both outside the CRC range, so the CRC stays valid). Records are decoded
/// lazily by `makeRecordIterator`, decompressing LZ4 batches first.
public struct RecordBatch: Sendable {
    /// Default upper bound on one batch (Kafka's `message.max.bytes` default, 1048588) plus the
    /// 12-byte log overhead. Callers pass their own limit where they have one.
    public static let batchBytesMaxDefault = 1_048_588 + RecordBatchHeader.Layout.logOverhead

    /// The batch bytes (readable region).
    public private(set) var buffer: ByteBuffer

    /// Wraps `buffer`, whose readable bytes must be exactly one batch. Only checks that the header is
    /// present and that magic is 2; call `validate` for the rest.
    public init(buffer: ByteBuffer) throws(RecordsError) {
        self.buffer = buffer
        _ = try header()
        let declared = try header().sizeInBytes
        guard declared == buffer.readableBytes else {
            throw .truncated(field: "batch", position: 0, needed: declared, available: buffer.readableBytes)
        }
    }

    /// Splits the next whole batch off the front of `buffer` (advancing its reader index) without
    /// copying. Returns nil when `buffer` has no readable bytes. Throws when the bytes cannot be a
    /// batch (bad length or magic) or the batch is cut short.
    public static func next(
        from buffer: inout ByteBuffer, batchBytesMax: Int = batchBytesMaxDefault
    )
        throws(RecordsError) -> RecordBatch?
    {
        let available = buffer.readableBytes
        if available == 0 { return nil }
        let peek = buffer.withUnsafeReadableBytes { RecordBatchHeader.peekOffsetAndSize($0) }
        guard let (_, length) = peek else {
            throw .truncated(field: "batch log overhead", position: 0, needed: 12, available: available)
        }
        let size = Int64(length) + Int64(RecordBatchHeader.Layout.logOverhead)
        guard length >= RecordBatchHeader.Layout.batchLengthMin, size <= Int64(batchBytesMax) else {
            throw .invalidBatchLength(
                length: Int64(length), limit: batchBytesMax - RecordBatchHeader.Layout.logOverhead)
        }
        guard Int(size) <= available else {
            throw .truncated(field: "batch", position: 0, needed: Int(size), available: available)
        }
        let slice = buffer.readSlice(length: Int(size))!
        return try RecordBatch(buffer: slice)
    }

    /// The decoded fixed header.
    @inlinable
    public func header() throws(RecordsError) -> RecordBatchHeader {
        try buffer.withUnsafeReadableBytes { (bytes) throws(RecordsError) in try RecordBatchHeader(parsing: bytes) }
    }

    /// Total size in bytes.
    public var sizeInBytes: Int { buffer.readableBytes }

    /// Validates what a stored batch must satisfy: length in bounds and matching the buffer, magic 2,
    /// sane counts and a matching CRC-32C (unless `checkCRC` is false: a consumer's `check.crcs`).
    /// Returns the header.
    @discardableResult
    public func validate(
        batchBytesMax: Int = batchBytesMaxDefault, checkCRC: Bool = true
    ) throws(RecordsError) -> RecordBatchHeader {
        try buffer.withUnsafeReadableBytes { (bytes) throws(RecordsError) in
            try Self.validate(bytes: bytes, batchBytesMax: batchBytesMax, checkCRC: checkCRC)
        }
    }

    /// Validation over raw bytes (used by storage over memory-mapped segments). `bytes` must start at
    /// the batch and may extend past it.
    @inlinable
    public static func validate(
        bytes: UnsafeRawBufferPointer, batchBytesMax: Int, checkCRC: Bool = true
    ) throws(RecordsError)
        -> RecordBatchHeader
    {
        let header = try RecordBatchHeader(parsing: bytes)
        try header.checkBounds(batchBytesMax: batchBytesMax)
        guard header.sizeInBytes <= bytes.count else {
            throw .truncated(field: "batch", position: 0, needed: header.sizeInBytes, available: bytes.count)
        }
        guard checkCRC else { return header }
        let computed = RecordBatchHeader.computeCRC(
            batchBytes: UnsafeRawBufferPointer(rebasing: bytes[..<header.sizeInBytes]))
        guard computed == header.crc else {
            throw .crcMismatch(stored: header.crc, computed: computed, baseOffset: header.baseOffset)
        }
        return header
    }

    /// Replaces `baseOffset` and `partitionLeaderEpoch`. Writes in place when the buffer is uniquely
    /// referenced (ByteBuffer copies on write otherwise). The CRC does not cover
    /// these fields, so it stays valid.
    public mutating func stamp(baseOffset: Int64, partitionLeaderEpoch: Int32) {
        let start = buffer.readerIndex
        buffer.setInteger(baseOffset, at: start + RecordBatchHeader.Layout.baseOffset)
        buffer.setInteger(partitionLeaderEpoch, at: start + RecordBatchHeader.Layout.partitionLeaderEpoch)
    }

    /// Decodes the records: decompresses LZ4 batches (up to `decompressedBytesMax`), then yields
    /// records lazily. gzip/snappy/zstd throw `unsupportedCompression`.
    public func makeRecordIterator(decompressedBytesMax: Int = 64 << 20) throws(RecordsError) -> RecordIterator {
        let header = try header()
        var records = buffer.getSlice(
            at: buffer.readerIndex + RecordBatchHeader.Layout.size,
            length: buffer.readableBytes - RecordBatchHeader.Layout.size
        )!
        switch header.compression {
        case .none?:
            break
        case .lz4?:
            records = try LZ4Frame.decompress(records, decompressedBytesMax: decompressedBytesMax)
        default:
            throw .unsupportedCompression(codec: header.compressionCodecRaw)
        }
        return RecordIterator(records: records, header: header)
    }

    /// All records, decoded eagerly (tests, tools; allocates an array).
    public func records() throws(RecordsError) -> [Record] {
        var iterator = try makeRecordIterator()
        var result: [Record] = []
        while let record = try iterator.next() { result.append(record) }
        return result
    }
}

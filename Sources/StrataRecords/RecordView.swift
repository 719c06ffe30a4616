import NIOCore

/// A borrowed view of one decoded record, handed to the closure of `RecordBatch.forEachRecord`.
///
/// The view owns nothing: `key`, `value` and the header bytes point into the batch's records
/// section (the batch buffer, or a decompression buffer reused for the next batch), so they are
/// valid only until the closure returns. Do not let the pointers escape; copy what must outlive the
/// call (`makeRecord()` copies everything). Being `~Copyable`, a view cannot be stored or passed on
/// by value, and taking none of the section's references costs nothing per record: no allocation,
/// no reference counting.
///
/// Use it where every record is touched once (consumers, scans); use `RecordIterator` and `Record`
/// where records must be kept.
public struct RecordView: ~Copyable {
    /// The records section the positions below point into.
    @usableFromInline let section: UnsafeRawBufferPointer
    @usableFromInline let fields: RecordIterator.Fields

    @inlinable
    init(section: UnsafeRawBufferPointer, fields: RecordIterator.Fields) {
        self.section = section
        self.fields = fields
    }

    /// Absolute offset (batch base offset + offset delta).
    @inlinable public var offset: Int64 { fields.offset }

    /// Absolute timestamp (batch base timestamp + timestamp delta).
    @inlinable public var timestamp: Int64 { fields.timestamp }

    /// Record-level attributes byte (unused by Kafka).
    @inlinable public var attributes: Int8 { fields.attributes }

    /// The key's bytes, nil for a null key. Valid only inside the `forEachRecord` closure.
    @inlinable
    public var key: UnsafeRawBufferPointer? {
        fields.keyLength < 0
            ? nil
            : UnsafeRawBufferPointer(
                start: section.baseAddress.map { $0 + fields.keyStart }, count: Int(fields.keyLength))
    }

    /// The value's bytes, nil for a null value (a tombstone). Valid only inside the `forEachRecord`
    /// closure.
    @inlinable
    public var value: UnsafeRawBufferPointer? {
        fields.valueLength < 0
            ? nil
            : UnsafeRawBufferPointer(
                start: section.baseAddress.map { $0 + fields.valueStart }, count: Int(fields.valueLength))
    }

    /// Number of headers.
    @inlinable public var headerCount: Int { Int(fields.headerCount) }

    /// The encoded headers (already validated), as they appear in the record.
    @inlinable
    public var headerBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(
            start: section.baseAddress.map { $0 + fields.headersStart }, count: fields.end &- fields.headersStart)
    }

    /// Calls `body` with each header's key (UTF-8 bytes) and value (nil for a null value), in order.
    /// The pointers are valid only inside `body`.
    @inlinable
    public func forEachHeader(_ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer?) -> Void) {
        let bytes = headerBytes
        var i = 0
        // The record decoder validated every length: the reads below cannot fail or run past the end.
        for _ in 0..<headerCount {
            let keyLength = Int(RecordIterator.varint32(bytes, at: &i, limit: bytes.count) ?? 0)
            let key = UnsafeRawBufferPointer(rebasing: bytes[i..<i &+ keyLength])
            i &+= keyLength
            let valueLength = Int(RecordIterator.varint32(bytes, at: &i, limit: bytes.count) ?? -1)
            if valueLength < 0 {
                body(key, nil)
            } else {
                body(key, UnsafeRawBufferPointer(rebasing: bytes[i..<i &+ valueLength]))
                i &+= valueLength
            }
        }
    }

    /// An owning `Record` with copies of the key, value and headers (one allocation).
    public func makeRecord() -> Record {
        var buffer = ByteBufferAllocator().buffer(capacity: fields.end &- fields.keyStart)
        let keyIndex = UInt32(buffer.writerIndex)
        if let key { buffer.writeBytes(key) }
        let valueIndex = UInt32(buffer.writerIndex)
        if let value { buffer.writeBytes(value) }
        let headersIndex = UInt32(buffer.writerIndex)
        buffer.writeBytes(headerBytes)
        return Record(
            offset: offset, timestamp: timestamp, attributes: attributes, storage: buffer,
            keyIndex: keyIndex, keyLength: fields.keyLength, valueIndex: valueIndex,
            valueLength: fields.valueLength, headersIndex: headersIndex,
            headersLength: UInt32(buffer.writerIndex) - headersIndex, headerCount: fields.headerCount)
    }
}

extension RecordBatch {
    /// Decodes every record in order and calls `body` with a borrowed view of each: the fast way to
    /// touch every record once. LZ4 batches are decompressed (up to `decompressedBytesMax` bytes)
    /// into a buffer the decompression context keeps for its next use, so no call allocates once warm,
    /// and no record takes a reference. The view and its pointers are valid only inside `body`.
    ///
    /// Validation is exactly `makeRecordIterator`'s: records before a malformed one are visited, then
    /// the error it would throw is thrown. gzip/snappy/zstd throw `unsupportedCompression`.
    @inlinable
    public func forEachRecord(
        decompressedBytesMax: Int = 64 << 20, _ body: (borrowing RecordView) -> Void
    ) throws(RecordsError) {
        try buffer.withUnsafeReadableBytes { (bytes) throws(RecordsError) in
            try Self.forEachRecord(batchBytes: bytes, decompressedBytesMax: decompressedBytesMax, body)
        }
    }

    /// `forEachRecord` over raw batch bytes (for example a memory-mapped segment): `batchBytes` must
    /// start at the batch and may extend past it. Only the header's magic and length are checked
    /// here; call `validate` first for the CRC.
    @inlinable
    public static func forEachRecord(
        batchBytes: UnsafeRawBufferPointer, decompressedBytesMax: Int = 64 << 20,
        _ body: (borrowing RecordView) -> Void
    ) throws(RecordsError) {
        let header = try RecordBatchHeader(parsing: batchBytes)
        let size = header.sizeInBytes
        guard header.batchLength >= RecordBatchHeader.Layout.batchLengthMin else {
            throw .invalidBatchLength(
                length: Int64(header.batchLength), limit: batchBytes.count - RecordBatchHeader.Layout.logOverhead)
        }
        guard size <= batchBytes.count else {
            throw .truncated(field: "batch", position: 0, needed: size, available: batchBytes.count)
        }
        let section = UnsafeRawBufferPointer(rebasing: batchBytes[RecordBatchHeader.Layout.size..<size])
        switch header.compression {
        case .none?:
            try RecordIterator.visit(section: section, header: header, body)
        case .lz4?:
            try LZ4Frame.withDecompressed(section, decompressedBytesMax: decompressedBytesMax) {
                (decompressed) throws(RecordsError) in
                try RecordIterator.visit(section: decompressed, header: header, body)
            }
        default:
            throw .unsupportedCompression(codec: header.compressionCodecRaw)
        }
    }
}

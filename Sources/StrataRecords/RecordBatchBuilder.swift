import NIOCore

/// Builds one RecordBatch v2 from records (tests, fixtures, the Swift client's producer).
///
/// Offset deltas are 0..<n, `baseTimestamp` is the first record's timestamp, `maxTimestamp` the
/// largest. With `.lz4` the records section is compressed as one LZ4 frame. The result has
/// `baseOffset` 0 (the broker assigns offsets) and a valid CRC.
public struct RecordBatchBuilder: Sendable {
    public var compression: CompressionCodec
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
    public var partitionLeaderEpoch: Int32
    public var isTransactional: Bool
    public var timestampType: TimestampType

    /// The records section, preceded by `Layout.size` bytes reserved for the batch header (the
    /// reader index sits after them): an uncompressed batch is finished in place by ``finish()``.
    private var records: ByteBuffer
    private var count: Int32 = 0
    private var baseTimestamp: Int64 = 0
    private var maxTimestamp: Int64 = -1
    private var nextOffsetDelta: Int32 = 0
    /// When set (before the first append), `baseTimestamp` is this value instead of the first
    /// record's timestamp — the cleaner stores the delete horizon there.
    public var fixedBaseTimestamp: Int64?
    /// Sets attribute bit 6: `baseTimestamp` is the delete horizon (log cleaner only).
    public var hasDeleteHorizon = false

    public init(
        compression: CompressionCodec = .none, producerId: Int64 = -1, producerEpoch: Int16 = -1,
        baseSequence: Int32 = -1, partitionLeaderEpoch: Int32 = -1, isTransactional: Bool = false,
        timestampType: TimestampType = .createTime, capacity: Int = 1024
    ) {
        self.compression = compression
        self.producerId = producerId
        self.producerEpoch = producerEpoch
        self.baseSequence = baseSequence
        self.partitionLeaderEpoch = partitionLeaderEpoch
        self.isTransactional = isTransactional
        self.timestampType = timestampType
        var records = ByteBufferAllocator().buffer(capacity: RecordBatchHeader.Layout.size + capacity)
        records.moveWriterIndex(forwardBy: RecordBatchHeader.Layout.size)
        records.moveReaderIndex(forwardBy: RecordBatchHeader.Layout.size)
        self.records = records
    }

    /// Number of records appended so far.
    public var recordCount: Int { Int(count) }
    /// Bytes the records buffer holds without growing (header space included).
    public var bufferCapacity: Int { records.capacity }
    /// Uncompressed size of the records section so far.
    public var uncompressedRecordBytes: Int { records.readableBytes }
    /// Estimated batch size if built now (uncompressed).
    public var estimatedSizeInBytes: Int { RecordBatchHeader.Layout.size + records.readableBytes }

    /// Appends a record. `headers` values may be nil. Timestamps are milliseconds since the epoch.
    public mutating func append(
        key: ByteBuffer?, value: ByteBuffer?, headers: [RecordHeader] = [], timestamp: Int64
    ) {
        append(offsetDelta: nextOffsetDelta, key: key, value: value, headers: headers, timestamp: timestamp)
    }

    /// Appends a record at an explicit offset delta (the log cleaner rebuilding a batch keeps the
    /// surviving records' original offsets). Deltas must increase.
    public mutating func append(
        offsetDelta: Int32, key: ByteBuffer?, value: ByteBuffer?, headers: [RecordHeader] = [], timestamp: Int64
    ) {
        appendRecord(
            offsetDelta: offsetDelta, keyLength: key?.readableBytes ?? -1, valueLength: value?.readableBytes ?? -1,
            headers: headers, timestamp: timestamp,
            writeKey: { if let key { $0.writeImmutableBuffer(key) } },
            writeValue: { if let value { $0.writeImmutableBuffer(value) } })
    }

    /// Convenience for byte arrays: the bytes are copied straight into the batch (no intermediate
    /// buffers: this is the producer's per-record path).
    public mutating func append(key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = [], timestamp: Int64) {
        appendRecord(
            offsetDelta: nextOffsetDelta, keyLength: key?.count ?? -1, valueLength: value?.count ?? -1,
            headers: headers, timestamp: timestamp,
            writeKey: { if let key { $0.writeBytes(key) } },
            writeValue: { if let value { $0.writeBytes(value) } })
    }

    /// Writes one record: the varint fields go through one small write each side of the key, so a
    /// record costs a handful of buffer operations rather than one per byte.
    @inline(__always)
    private mutating func appendRecord(
        offsetDelta: Int32, keyLength: Int, valueLength: Int, headers: [RecordHeader], timestamp: Int64,
        writeKey: (inout ByteBuffer) -> Void, writeValue: (inout ByteBuffer) -> Void
    ) {
        precondition(offsetDelta >= nextOffsetDelta, "offset deltas must increase")
        if count == 0 { baseTimestamp = fixedBaseTimestamp ?? timestamp }
        maxTimestamp = Swift.max(maxTimestamp, timestamp)
        nextOffsetDelta = offsetDelta + 1
        let timestampDelta = timestamp &- baseTimestamp
        let keyLength32 = Int32(keyLength)
        let valueLength32 = Int32(valueLength)
        var bodySize = 1 + Varint.size(timestampDelta) + Varint.size(offsetDelta)
        bodySize += Varint.size(keyLength32) + Swift.max(0, keyLength)
        bodySize += Varint.size(valueLength32) + Swift.max(0, valueLength)
        bodySize += Varint.size(Int32(headers.count))
        for header in headers {
            let hk = Int32(header.key.utf8.count)
            let hv = Int32(header.value?.readableBytes ?? -1)
            bodySize += Varint.size(hk) + Int(hk) + Varint.size(hv) + Swift.max(0, Int(hv))
        }
        records.reserveCapacity(minimumWritableBytes: bodySize + 5)
        // length, attributes, timestampDelta, offsetDelta, keyLength: at most 5 + 1 + 10 + 5 + 5 bytes.
        records.writeWithUnsafeMutableBytes(minimumWritableBytes: 26) { out in
            var at = 0
            Varint.encode(UInt64(Varint.zigZag32(Int32(bodySize))), into: out, at: &at)
            out[at] = 0
            at += 1
            Varint.encode(Varint.zigZag64(timestampDelta), into: out, at: &at)
            Varint.encode(UInt64(Varint.zigZag32(offsetDelta)), into: out, at: &at)
            Varint.encode(UInt64(Varint.zigZag32(keyLength32)), into: out, at: &at)
            return at
        }
        writeKey(&records)
        records.writeWithUnsafeMutableBytes(minimumWritableBytes: 5) { out in
            var at = 0
            Varint.encode(UInt64(Varint.zigZag32(valueLength32)), into: out, at: &at)
            return at
        }
        writeValue(&records)
        Varint.write(Int32(headers.count), to: &records)
        for header in headers {
            Varint.write(Int32(header.key.utf8.count), to: &records)
            records.writeString(header.key)
            Varint.write(Int32(header.value?.readableBytes ?? -1), to: &records)
            if let value = header.value { records.writeImmutableBuffer(value) }
        }
        count += 1
    }

    /// Encodes the batch into a new buffer, leaving the builder as it was. Precondition: at least one
    /// record was appended. `lastOffsetDelta` defaults to the last record's delta; the cleaner passes
    /// the original batch's to keep its offset range.
    public func build(lastOffsetDelta: Int32? = nil) throws(RecordsError) -> ByteBuffer {
        let lastDelta = checkedLastDelta(lastOffsetDelta)
        typealias L = RecordBatchHeader.Layout
        var out: ByteBuffer
        switch compression {
        case .none:
            out = ByteBufferAllocator().buffer(capacity: L.size + records.readableBytes)
            out.moveWriterIndex(forwardBy: L.size)
            out.writeImmutableBuffer(records)
        case .lz4:
            out = ByteBufferAllocator().buffer(capacity: L.size + records.readableBytes / 2 + 64)
            out.moveWriterIndex(forwardBy: L.size)
            try LZ4Frame.compress(records, into: &out)
        default:
            throw .unsupportedCompression(codec: compression.rawValue)
        }
        writeHeader(into: &out, lastDelta: lastDelta)
        return out
    }

    /// Encodes the batch like ``build(lastOffsetDelta:)``, but an uncompressed batch is not copied: the
    /// header goes into the space reserved in front of the records and the result shares the
    /// builder's storage (a later change to the builder copies that storage first, so the result
    /// stays as it was). May be called again after changing the producer fields (a retry under a new
    /// sequence). The producer's path: a batch's bytes are written once, at append time.
    public mutating func finish(lastOffsetDelta: Int32? = nil) throws(RecordsError) -> ByteBuffer {
        guard compression == .none else { return try build(lastOffsetDelta: lastOffsetDelta) }
        let lastDelta = checkedLastDelta(lastOffsetDelta)
        records.moveReaderIndex(to: records.readerIndex - RecordBatchHeader.Layout.size)
        // Taken out of `self` for the write: passing `&records` to a method of `self` would make the
        // compiler copy `self`, and the buffer, no longer uniquely referenced, would be copied whole.
        var out = records
        records = ByteBuffer()
        writeHeader(into: &out, lastDelta: lastDelta)
        records = out
        records.moveReaderIndex(forwardBy: RecordBatchHeader.Layout.size)
        return out
    }

    private func checkedLastDelta(_ lastOffsetDelta: Int32?) -> Int32 {
        precondition(count > 0, "a RecordBatch needs at least one record")
        let lastDelta = lastOffsetDelta ?? (nextOffsetDelta - 1)
        precondition(lastDelta >= nextOffsetDelta - 1, "lastOffsetDelta below the last record")
        return lastDelta
    }

    /// Writes the header into the `Layout.size` bytes at `out.readerIndex` (the records section, as
    /// it will be sent, follows them up to the writer index), CRC last.
    private func writeHeader(into out: inout ByteBuffer, lastDelta: Int32) {
        typealias L = RecordBatchHeader.Layout
        var attributes = Int16(compression.rawValue)
        if timestampType == .logAppendTime { attributes |= 0x8 }
        if isTransactional { attributes |= 0x10 }
        if hasDeleteHorizon { attributes |= 0x40 }
        let start = out.readerIndex
        out.setInteger(Int64(0), at: start + L.baseOffset)
        out.setInteger(Int32(out.readableBytes - L.logOverhead), at: start + L.batchLength)
        out.setInteger(partitionLeaderEpoch, at: start + L.partitionLeaderEpoch)
        out.setInteger(Int8(2), at: start + L.magic)
        out.setInteger(attributes, at: start + L.attributes)
        out.setInteger(lastDelta, at: start + L.lastOffsetDelta)
        out.setInteger(baseTimestamp, at: start + L.baseTimestamp)
        out.setInteger(maxTimestamp, at: start + L.maxTimestamp)
        out.setInteger(producerId, at: start + L.producerId)
        out.setInteger(producerEpoch, at: start + L.producerEpoch)
        out.setInteger(baseSequence, at: start + L.baseSequence)
        out.setInteger(count, at: start + L.recordCount)
        let crc = out.withUnsafeReadableBytes { RecordBatchHeader.computeCRC(batchBytes: $0) }
        out.setInteger(crc, at: start + L.crc)
    }

    /// Clears the records so the builder can be reused (keeps its buffer capacity).
    public mutating func reset() {
        records.clear()
        records.moveWriterIndex(forwardBy: RecordBatchHeader.Layout.size)
        records.moveReaderIndex(forwardBy: RecordBatchHeader.Layout.size)
        count = 0
        baseTimestamp = 0
        maxTimestamp = -1
        nextOffsetDelta = 0
    }
}

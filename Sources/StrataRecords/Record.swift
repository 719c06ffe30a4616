import NIOCore

/// One record of a batch, with absolute offset and timestamp. Key, value and header bytes are
/// slices of the batch's buffer (or of its decompressed records section): no copies.
public struct Record: Sendable {
    public var offset: Int64
    public var timestamp: Int64
    /// nil for a null key.
    public var key: ByteBuffer?
    /// nil for a null value (a tombstone on compacted topics).
    public var value: ByteBuffer?
    public var headers: RecordHeaders
    /// Record-level attributes byte (unused by Kafka, kept for round trips).
    public var attributes: Int8
}

/// One record header: a UTF-8 key and a nullable value.
public struct RecordHeader: Sendable, Equatable {
    public var key: String
    public var value: ByteBuffer?

    public init(key: String, value: ByteBuffer?) {
        self.key = key
        self.value = value
    }
}

/// The headers of one record, decoded lazily from their already-validated bytes.
public struct RecordHeaders: Sequence, Sendable {
    /// Number of headers.
    public let count: Int
    @usableFromInline let bytes: ByteBuffer

    init(count: Int, bytes: ByteBuffer) {
        self.count = count
        self.bytes = bytes
    }

    public struct Iterator: IteratorProtocol {
        var remaining: Int
        var bytes: ByteBuffer

        public mutating func next() -> RecordHeader? {
            guard remaining > 0 else { return nil }
            remaining -= 1
            // The record iterator validated these lengths, so the reads below cannot fail.
            let keyLength = Int(readVarint(&bytes))
            let key = bytes.readString(length: keyLength) ?? ""
            let valueLength = Int(readVarint(&bytes))
            let value = valueLength < 0 ? nil : bytes.readSlice(length: valueLength)
            return RecordHeader(key: key, value: value)
        }

        private func readVarint(_ buffer: inout ByteBuffer) -> Int32 {
            var index = 0
            let value = buffer.withUnsafeReadableBytes { Varint.read32($0, at: &index) }
            buffer.moveReaderIndex(forwardBy: index)
            return value ?? 0
        }
    }

    public func makeIterator() -> Iterator { Iterator(remaining: count, bytes: bytes) }
}

/// Decodes records one at a time from an uncompressed records section.
///
/// Every length is checked against the record's declared `length` and the section end; a bad record
/// throws `RecordsError.malformedRecord` naming the record index, field and byte position.
public struct RecordIterator {
    @usableFromInline var records: ByteBuffer
    @usableFromInline var position: Int = 0
    @usableFromInline var index: Int = 0
    public let header: RecordBatchHeader

    init(records: ByteBuffer, header: RecordBatchHeader) {
        self.records = records
        self.header = header
    }

    /// Next record, nil after `recordCount` records. Throws on malformed bytes, or if the section has
    /// fewer or more records than the header says.
    public mutating func next() throws(RecordsError) -> Record? {
        let total = records.readableBytes
        guard index < Int(header.recordCount) else {
            if position != total {
                throw .malformedRecord(
                    index: index, field: "records", recordsPosition: position,
                    reason: "\(total - position) bytes after the last of \(header.recordCount) records")
            }
            return nil
        }
        let start = position
        let recordIndex = index
        let parsed = try records.withUnsafeReadableBytes { (bytes) throws(RecordsError) -> ParsedRecord in
            try Self.parse(bytes, at: start, index: recordIndex)
        }
        // baseOffset is not covered by the CRC: a corrupt one must not trap on overflow.
        let (offset, overflow) = header.baseOffset.addingReportingOverflow(Int64(parsed.offsetDelta))
        if overflow {
            throw .malformedRecord(
                index: recordIndex, field: "offsetDelta", recordsPosition: start,
                reason: "baseOffset \(header.baseOffset) + offsetDelta \(parsed.offsetDelta) overflows")
        }
        position = parsed.end
        index += 1
        let base = records.readerIndex
        return Record(
            offset: offset,
            timestamp: header.baseTimestamp &+ parsed.timestampDelta,
            key: parsed.keyLength < 0 ? nil : records.getSlice(at: base + parsed.keyStart, length: parsed.keyLength),
            value: parsed.valueLength < 0
                ? nil : records.getSlice(at: base + parsed.valueStart, length: parsed.valueLength),
            headers: RecordHeaders(
                count: parsed.headerCount,
                bytes: records.getSlice(at: base + parsed.headersStart, length: parsed.end - parsed.headersStart)!),
            attributes: parsed.attributes
        )
    }

    @usableFromInline
    struct ParsedRecord {
        var end: Int
        var attributes: Int8
        var timestampDelta: Int64
        var offsetDelta: Int32
        var keyStart: Int
        var keyLength: Int
        var valueStart: Int
        var valueLength: Int
        var headersStart: Int
        var headerCount: Int
    }

    @usableFromInline
    static func parse(_ bytes: UnsafeRawBufferPointer, at start: Int, index: Int) throws(RecordsError) -> ParsedRecord {
        var i = start
        func fail(_ field: String, _ reason: String) -> RecordsError {
            .malformedRecord(index: index, field: field, recordsPosition: i, reason: reason)
        }
        guard let length = Varint.read32(bytes, at: &i) else { throw fail("length", "bad or truncated varint") }
        guard length > 0, Int(length) <= bytes.count - i else {
            throw fail("length", "declared \(length) bytes, \(bytes.count - i) remain")
        }
        let end = i + Int(length)
        let body = UnsafeRawBufferPointer(rebasing: bytes[..<end])
        let attributes = Int8(bitPattern: body[i])
        i += 1
        guard let timestampDelta = Varint.read64(body, at: &i) else { throw fail("timestampDelta", "bad varlong") }
        guard let offsetDelta = Varint.read32(body, at: &i) else { throw fail("offsetDelta", "bad varint") }
        guard let keyLength = Varint.read32(body, at: &i), keyLength >= -1, Int(keyLength) <= end - i else {
            throw fail("keyLength", "bad key length")
        }
        let keyStart = i
        i += max(0, Int(keyLength))
        guard let valueLength = Varint.read32(body, at: &i), valueLength >= -1, Int(valueLength) <= end - i else {
            throw fail("valueLength", "bad value length")
        }
        let valueStart = i
        i += max(0, Int(valueLength))
        guard let headerCount = Varint.read32(body, at: &i), headerCount >= 0 else {
            throw fail("headerCount", "bad header count")
        }
        let headersStart = i
        for _ in 0..<Int(headerCount) {
            guard let hk = Varint.read32(body, at: &i), hk >= 0, Int(hk) <= end - i else {
                throw fail("headerKeyLength", "bad header key length")
            }
            i += Int(hk)
            guard let hv = Varint.read32(body, at: &i), hv >= -1, Int(hv) <= end - i else {
                throw fail("headerValueLength", "bad header value length")
            }
            i += max(0, Int(hv))
        }
        guard i == end else { throw fail("length", "record declares \(length) bytes but its fields end earlier") }
        return ParsedRecord(
            end: end, attributes: attributes, timestampDelta: timestampDelta, offsetDelta: offsetDelta,
            keyStart: keyStart, keyLength: Int(keyLength), valueStart: valueStart, valueLength: Int(valueLength),
            headersStart: headersStart, headerCount: Int(headerCount))
    }
}

import NIOCore

/// One record of a batch, with absolute offset and timestamp.
///
/// A record holds one reference to its records section (the batch's buffer, or its decompressed
/// records section) and the positions of its key, value and headers in it. `key`, `value` and
/// `headers` are slices made on access: no copies, and one reference taken per record while
/// iterating instead of one per field. Holding a record keeps its whole records section alive, as
/// the slices did.
///
/// Setting `key`, `value` or `headers` copies the three into a fresh buffer owned by this record
/// (rare: decoded records are normally read, not edited).
public struct Record: Sendable {
    /// The records section the indices below point into. Stored first, at an aligned offset: after
    /// the Int64 fields, copies of the buffer's packed fields stalled on store forwarding (see
    /// Benchmarks/RESULTS.md, 4a / 4b).
    @usableFromInline var storage: ByteBuffer
    public var offset: Int64
    public var timestamp: Int64
    /// Index of the key in `storage`; `keyLength` is -1 for a null key.
    @usableFromInline var keyIndex: UInt32
    @usableFromInline var keyLength: Int32
    /// Index of the value in `storage`; `valueLength` is -1 for a null value.
    @usableFromInline var valueIndex: UInt32
    @usableFromInline var valueLength: Int32
    /// Index and size of the encoded headers (already validated) in `storage`.
    @usableFromInline var headersIndex: UInt32
    @usableFromInline var headersLength: UInt32
    @usableFromInline var headerCountStored: Int32
    /// Record-level attributes byte (unused by Kafka, kept for round trips).
    public var attributes: Int8

    @inlinable
    init(
        offset: Int64, timestamp: Int64, attributes: Int8, storage: ByteBuffer,
        keyIndex: UInt32, keyLength: Int32, valueIndex: UInt32, valueLength: Int32,
        headersIndex: UInt32, headersLength: UInt32, headerCount: Int32
    ) {
        self.offset = offset
        self.timestamp = timestamp
        self.attributes = attributes
        self.storage = storage
        self.keyIndex = keyIndex
        self.keyLength = keyLength
        self.valueIndex = valueIndex
        self.valueLength = valueLength
        self.headersIndex = headersIndex
        self.headersLength = headersLength
        self.headerCountStored = headerCount
    }

    /// nil for a null key.
    @inlinable
    public var key: ByteBuffer? {
        get { keyLength < 0 ? nil : storage.getSlice(at: Int(keyIndex), length: Int(keyLength)) }
        set { replaceBytes(key: newValue, value: value, headers: headers) }
    }

    /// nil for a null value (a tombstone on compacted topics).
    @inlinable
    public var value: ByteBuffer? {
        get { valueLength < 0 ? nil : storage.getSlice(at: Int(valueIndex), length: Int(valueLength)) }
        set { replaceBytes(key: key, value: newValue, headers: headers) }
    }

    /// Number of headers (without slicing them out as `headers` does).
    @inlinable
    public var headerCount: Int { Int(headerCountStored) }

    /// The record's headers, decoded lazily.
    @inlinable
    public var headers: RecordHeaders {
        get {
            RecordHeaders(
                count: Int(headerCount),
                bytes: storage.getSlice(at: Int(headersIndex), length: Int(headersLength)) ?? ByteBuffer())
        }
        set { replaceBytes(key: key, value: value, headers: newValue) }
    }

    /// Copies `key`, `value` and the encoded `headers` into a new buffer and points this record at it.
    @usableFromInline
    mutating func replaceBytes(key: ByteBuffer?, value: ByteBuffer?, headers: RecordHeaders) {
        let keyBytes = key?.readableBytes ?? 0
        let valueBytes = value?.readableBytes ?? 0
        let headerBytes = headers.bytes.readableBytes
        precondition(
            keyBytes <= Int(Int32.max) && valueBytes <= Int(Int32.max)
                && keyBytes + valueBytes + headerBytes
                    <= Int(UInt32.max),
            "record key, value or headers too large")
        var buffer = ByteBufferAllocator().buffer(capacity: keyBytes + valueBytes + headerBytes)
        keyIndex = UInt32(buffer.writerIndex)
        keyLength = key == nil ? -1 : Int32(keyBytes)
        if let key { buffer.writeImmutableBuffer(key) }
        valueIndex = UInt32(buffer.writerIndex)
        valueLength = value == nil ? -1 : Int32(valueBytes)
        if let value { buffer.writeImmutableBuffer(value) }
        headersIndex = UInt32(buffer.writerIndex)
        headersLength = UInt32(headerBytes)
        headerCountStored = Int32(headers.count)
        buffer.writeImmutableBuffer(headers.bytes)
        storage = buffer
    }
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

    @inlinable
    init(count: Int, bytes: ByteBuffer) {
        self.count = count
        self.bytes = bytes
    }

    /// Walks the headers in order; each `next()` decodes one header.
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
///
/// Each record is parsed in one pass over the section's raw bytes, with inlined one- and two-byte
/// varint fast paths (longer encodings take `Varint`'s general path). The iterator owns a reference
/// to the section (`records`, never mutated) and reads it through `bytes`, a pointer that reference
/// keeps valid. It is a value for one thread at a time; `Record`s it returns are `Sendable`.
public struct RecordIterator {
    /// The records section. Never mutated: holding it keeps `bytes` valid and unchanged.
    @usableFromInline let records: ByteBuffer
    /// The readable bytes of `records`.
    @usableFromInline let bytes: UnsafeRawBufferPointer
    /// `records.readerIndex`: record field positions plus this are indices into `records`.
    @usableFromInline let baseIndex: Int
    @usableFromInline let recordCount: Int
    /// Position of the next record in `bytes`.
    @usableFromInline var position: Int = 0
    /// Index of the next record.
    @usableFromInline var index: Int = 0
    public let header: RecordBatchHeader

    init(records: ByteBuffer, header: RecordBatchHeader) {
        self.records = records
        // The pointer outlives the closure: `self.records` holds the same storage (in place of the
        // `retain()` the Unmanaged reference offers) and is never mutated, so it is never reallocated.
        self.bytes = records.withUnsafeReadableBytesWithStorageManagement { bytes, _ in bytes }
        self.baseIndex = records.readerIndex
        self.recordCount = Int(header.recordCount)
        self.header = header
    }

    /// Next record, nil after `recordCount` records. Throws on malformed bytes, or if the section has
    /// fewer or more records than the header says.
    @inlinable @inline(__always)
    public mutating func next() throws(RecordsError) -> Record? {
        guard index < recordCount else {
            if position != bytes.count {
                throw Self.trailingBytes(index: index, position: position, total: bytes.count, recordCount: recordCount)
            }
            return nil
        }
        let fields = try Self.decode(bytes, at: &position, index: index, header: header)
        index &+= 1
        // Every position is below `records.writerIndex`, so the indices fit in UInt32.
        let base = baseIndex
        return Record(
            offset: fields.offset,
            timestamp: fields.timestamp,
            attributes: fields.attributes,
            storage: records,
            keyIndex: UInt32(truncatingIfNeeded: base &+ fields.keyStart),
            keyLength: fields.keyLength,
            valueIndex: UInt32(truncatingIfNeeded: base &+ fields.valueStart),
            valueLength: fields.valueLength,
            headersIndex: UInt32(truncatingIfNeeded: base &+ fields.headersStart),
            headersLength: UInt32(truncatingIfNeeded: fields.end &- fields.headersStart),
            headerCount: fields.headerCount)
    }

    /// Where one decoded record's fields lie in its records section, plus its absolute offset and
    /// timestamp. Shared by `next()` and `RecordBatch.forEachRecord`.
    @usableFromInline
    struct Fields {
        @usableFromInline var offset: Int64
        @usableFromInline var timestamp: Int64
        @usableFromInline var keyStart: Int
        @usableFromInline var valueStart: Int
        @usableFromInline var headersStart: Int
        /// Position just past the record (and its headers).
        @usableFromInline var end: Int
        @usableFromInline var keyLength: Int32
        @usableFromInline var valueLength: Int32
        @usableFromInline var headerCount: Int32
        @usableFromInline var attributes: Int8

        @inlinable
        init(
            offset: Int64, timestamp: Int64, keyStart: Int, valueStart: Int, headersStart: Int, end: Int,
            keyLength: Int32, valueLength: Int32, headerCount: Int32, attributes: Int8
        ) {
            self.offset = offset
            self.timestamp = timestamp
            self.keyStart = keyStart
            self.valueStart = valueStart
            self.headersStart = headersStart
            self.end = end
            self.keyLength = keyLength
            self.valueLength = valueLength
            self.headerCount = headerCount
            self.attributes = attributes
        }
    }

    /// Decodes and validates the record `index` at `position` of the records section `bytes` (one pass,
    /// inlined varint fast paths) and moves `position` past it.
    @inlinable @inline(__always)
    static func decode(
        _ bytes: UnsafeRawBufferPointer, at position: inout Int, index: Int, header: RecordBatchHeader
    ) throws(RecordsError) -> Fields {
        let total = bytes.count
        let start = position
        var i = start
        guard let length = Self.varint32(bytes, at: &i, limit: total) else {
            throw Self.malformed(.lengthVarint, index: index, position: i)
        }
        guard length > 0, Int(length) <= total &- i else {
            throw Self.malformed(.lengthRange, index: index, position: i, length: Int(length), remaining: total &- i)
        }
        let end = i &+ Int(length)
        let attributes = Int8(bitPattern: bytes[i])
        i &+= 1
        guard let timestampDelta = Self.varint64(bytes, at: &i, limit: end) else {
            throw Self.malformed(.timestampDelta, index: index, position: i)
        }
        guard let offsetDelta = Self.varint32(bytes, at: &i, limit: end) else {
            throw Self.malformed(.offsetDelta, index: index, position: i)
        }
        guard let keyLength = Self.varint32(bytes, at: &i, limit: end), keyLength >= -1, Int(keyLength) <= end &- i
        else {
            throw Self.malformed(.keyLength, index: index, position: i)
        }
        let keyStart = i
        if keyLength > 0 { i &+= Int(keyLength) }
        guard let valueLength = Self.varint32(bytes, at: &i, limit: end), valueLength >= -1,
            Int(valueLength) <= end &- i
        else {
            throw Self.malformed(.valueLength, index: index, position: i)
        }
        let valueStart = i
        if valueLength > 0 { i &+= Int(valueLength) }
        guard let headerCount = Self.varint32(bytes, at: &i, limit: end), headerCount >= 0 else {
            throw Self.malformed(.headerCount, index: index, position: i)
        }
        let headersStart = i
        if headerCount > 0 {
            try Self.skipHeaders(bytes, at: &i, limit: end, count: Int(headerCount), index: index)
        }
        guard i == end else {
            throw Self.malformed(.fieldsEndEarly, index: index, position: i, length: Int(length))
        }
        // baseOffset is not covered by the CRC: a corrupt one must not trap on overflow.
        let (offset, overflow) = header.baseOffset.addingReportingOverflow(Int64(offsetDelta))
        if overflow {
            throw Self.offsetOverflow(index: index, position: start, baseOffset: header.baseOffset, delta: offsetDelta)
        }
        position = end
        return Fields(
            offset: offset, timestamp: header.baseTimestamp &+ timestampDelta, keyStart: keyStart,
            valueStart: valueStart, headersStart: headersStart, end: end, keyLength: keyLength,
            valueLength: valueLength, headerCount: headerCount, attributes: attributes)
    }

    /// Decodes every record of the records section `bytes` in order, calling `body` with a view of
    /// each, then checks that no bytes follow the last one. Records before a malformed one are
    /// visited, as `next()` would have returned them.
    @inlinable @inline(__always)
    static func visit(
        section bytes: UnsafeRawBufferPointer, header: RecordBatchHeader, _ body: (borrowing RecordView) -> Void
    ) throws(RecordsError) {
        let recordCount = Int(header.recordCount)
        var position = 0
        var index = 0
        while index < recordCount {
            let fields = try decode(bytes, at: &position, index: index, header: header)
            index &+= 1
            body(RecordView(section: bytes, fields: fields))
        }
        if position != bytes.count {
            throw trailingBytes(index: index, position: position, total: bytes.count, recordCount: recordCount)
        }
    }

    // MARK: varints

    /// Zig-zag varint at `i` of `bytes[..<limit]`: one- and two-byte encodings inline, the rest (and
    /// every failure) through `Varint.read32Slow`, which applies the same rules to any length.
    @inlinable @inline(__always)
    static func varint32(_ bytes: UnsafeRawBufferPointer, at i: inout Int, limit: Int) -> Int32? {
        let p = i
        if p < limit {
            let first = bytes[p]
            if first < 0x80 {
                i = p &+ 1
                return Varint.decodeZigZag32(UInt32(truncatingIfNeeded: first))
            }
            if p &+ 1 < limit {
                let second = bytes[p &+ 1]
                if second < 0x80 {
                    i = p &+ 2
                    return Varint.decodeZigZag32(UInt32(first & 0x7f) | UInt32(second) << 7)
                }
            }
        }
        return Varint.read32Slow(bytes, at: &i, limit: limit)
    }

    /// Zig-zag varlong at `i` of `bytes[..<limit]`, with the same fast paths as `varint32`.
    @inlinable @inline(__always)
    static func varint64(_ bytes: UnsafeRawBufferPointer, at i: inout Int, limit: Int) -> Int64? {
        let p = i
        if p < limit {
            let first = bytes[p]
            if first < 0x80 {
                i = p &+ 1
                return Varint.decodeZigZag64(UInt64(truncatingIfNeeded: first))
            }
            if p &+ 1 < limit {
                let second = bytes[p &+ 1]
                if second < 0x80 {
                    i = p &+ 2
                    return Varint.decodeZigZag64(UInt64(first & 0x7f) | UInt64(second) << 7)
                }
            }
        }
        return Varint.read64Slow(bytes, at: &i, limit: limit)
    }

    /// Validates `count` headers starting at `i` and moves `i` past them.
    @usableFromInline
    static func skipHeaders(
        _ bytes: UnsafeRawBufferPointer, at i: inout Int, limit end: Int, count: Int, index: Int
    ) throws(RecordsError) {
        for _ in 0..<count {
            guard let keyLength = varint32(bytes, at: &i, limit: end), keyLength >= 0, Int(keyLength) <= end &- i else {
                throw malformed(.headerKeyLength, index: index, position: i)
            }
            i &+= Int(keyLength)
            guard let valueLength = varint32(bytes, at: &i, limit: end), valueLength >= -1,
                Int(valueLength) <= end &- i
            else {
                throw malformed(.headerValueLength, index: index, position: i)
            }
            if valueLength > 0 { i &+= Int(valueLength) }
        }
    }

    // MARK: errors (out of line: the messages are built only when a record is bad)

    /// What was wrong with a record, for `malformed`.
    @usableFromInline
    enum Fault {
        case lengthVarint, lengthRange, timestampDelta, offsetDelta, keyLength, valueLength, headerCount
        case headerKeyLength, headerValueLength, fieldsEndEarly
    }

    @usableFromInline @inline(never)
    static func malformed(
        _ fault: Fault, index: Int, position: Int, length: Int = 0, remaining: Int = 0
    )
        -> RecordsError
    {
        let field: String
        let reason: String
        switch fault {
        case .lengthVarint: (field, reason) = ("length", "bad or truncated varint")
        case .lengthRange: (field, reason) = ("length", "declared \(length) bytes, \(remaining) remain")
        case .timestampDelta: (field, reason) = ("timestampDelta", "bad varlong")
        case .offsetDelta: (field, reason) = ("offsetDelta", "bad varint")
        case .keyLength: (field, reason) = ("keyLength", "bad key length")
        case .valueLength: (field, reason) = ("valueLength", "bad value length")
        case .headerCount: (field, reason) = ("headerCount", "bad header count")
        case .headerKeyLength: (field, reason) = ("headerKeyLength", "bad header key length")
        case .headerValueLength: (field, reason) = ("headerValueLength", "bad header value length")
        case .fieldsEndEarly: (field, reason) = ("length", "record declares \(length) bytes but its fields end earlier")
        }
        return .malformedRecord(index: index, field: field, recordsPosition: position, reason: reason)
    }

    @usableFromInline @inline(never)
    static func trailingBytes(index: Int, position: Int, total: Int, recordCount: Int) -> RecordsError {
        .malformedRecord(
            index: index, field: "records", recordsPosition: position,
            reason: "\(total - position) bytes after the last of \(recordCount) records")
    }

    @usableFromInline @inline(never)
    static func offsetOverflow(index: Int, position: Int, baseOffset: Int64, delta: Int32) -> RecordsError {
        .malformedRecord(
            index: index, field: "offsetDelta", recordsPosition: position,
            reason: "baseOffset \(baseOffset) + offsetDelta \(delta) overflows")
    }
}

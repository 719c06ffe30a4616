import NIOCore

/// Decodes Kafka wire fields from a `ByteBuffer`, throwing a located ``ProtocolError`` on bad bytes.
///
/// Owns a copy of the caller's buffer (sharing its storage, so nothing is copied); `bytes` and `records`
/// fields come back as slices of it. Keeps the path of arrays it is inside so an error names the field as
/// `topic_data[0].partition_data[2].records`. Hostile lengths and counts are checked against the named
/// limits and against the bytes actually left before anything is allocated. Single-owner value, used on one
/// thread for the duration of one decode.
public struct ProtocolReader: ProtocolCoder {
    public typealias Failure = ProtocolError

    /// Longest string accepted, in bytes (Kafka's own limit, `Short.MAX_VALUE`, also for compact strings).
    public static let stringBytesMax = Int(Int16.max)
    /// Most elements accepted in one array or tagged-field section.
    public static let arrayCountMax = 1 << 20
    /// At most this many elements are reserved up front; larger arrays grow as elements actually decode.
    static let arrayReserveMax = 1024

    /// The bytes not yet decoded.
    public private(set) var buffer: ByteBuffer
    public let version: Int16
    public let isFlexible: Bool
    public var isDecoding: Bool { true }
    /// Names the message in errors: `"Produce"`.
    let subject: String
    /// `"request"`, `"response"` or empty.
    let role: String
    private var path: [(name: StaticString, index: Int)] = []

    /// Creates a reader positioned at `buffer.readerIndex`.
    public init(buffer: ByteBuffer, version: Int16, isFlexible: Bool, subject: String, role: String = "") {
        self.buffer = buffer
        self.version = version
        self.isFlexible = isFlexible
        self.subject = subject
        self.role = role
    }

    // MARK: Fixed-width

    public mutating func int8(_ value: inout Int8, _ field: StaticString) throws(ProtocolError) {
        value = try fixed(field)
    }

    public mutating func int16(_ value: inout Int16, _ field: StaticString) throws(ProtocolError) {
        value = try fixed(field)
    }

    public mutating func int32(_ value: inout Int32, _ field: StaticString) throws(ProtocolError) {
        value = try fixed(field)
    }

    public mutating func int64(_ value: inout Int64, _ field: StaticString) throws(ProtocolError) {
        value = try fixed(field)
    }

    public mutating func bool(_ value: inout Bool, _ field: StaticString) throws(ProtocolError) {
        let byte: UInt8 = try fixed(field)
        value = byte != 0
    }

    private mutating func fixed<Value: FixedWidthInteger>(_ field: StaticString) throws(ProtocolError) -> Value {
        guard let value = buffer.readInteger(as: Value.self) else {
            throw error(.truncated(needed: MemoryLayout<Value>.size, available: buffer.readableBytes), field)
        }
        return value
    }

    // MARK: Strings and bytes

    public mutating func string(_ value: inout String, _ field: StaticString) throws(ProtocolError) {
        let start = buffer.readerIndex
        guard let length = try length(field, classic: Int16.self) else {
            throw error(.invalidLength(-1), field, at: start)
        }
        value = try stringBody(length, field, start)
    }

    public mutating func nullableString(_ value: inout String?, _ field: StaticString) throws(ProtocolError) {
        let start = buffer.readerIndex
        guard let length = try length(field, classic: Int16.self) else {
            value = nil
            return
        }
        value = try stringBody(length, field, start)
    }

    private mutating func stringBody(
        _ length: Int, _ field: StaticString, _ start: Int
    ) throws(ProtocolError) -> String {
        guard length <= Self.stringBytesMax else {
            throw error(.lengthOverLimit(length: length, limit: Self.stringBytesMax), field, at: start)
        }
        guard let string = buffer.readString(length: length) else {
            throw error(.truncated(needed: length, available: buffer.readableBytes), field, at: start)
        }
        return string
    }

    public mutating func bytes(_ value: inout ByteBuffer, _ field: StaticString) throws(ProtocolError) {
        let start = buffer.readerIndex
        guard let slice = try bytesBody(field) else { throw error(.invalidLength(-1), field, at: start) }
        value = slice
    }

    public mutating func nullableBytes(_ value: inout ByteBuffer?, _ field: StaticString) throws(ProtocolError) {
        value = try bytesBody(field)
    }

    public mutating func externalBytes(length: Int, _ field: StaticString) throws(ProtocolError) {
        _ = try bytesBody(field)
    }

    private mutating func bytesBody(_ field: StaticString) throws(ProtocolError) -> ByteBuffer? {
        let start = buffer.readerIndex
        guard let length = try length(field, classic: Int32.self) else { return nil }
        guard let slice = buffer.readSlice(length: length) else {
            throw error(.truncated(needed: length, available: buffer.readableBytes), field, at: start)
        }
        return slice
    }

    // MARK: Arrays

    public mutating func array<Element: ProtocolValue>(
        _ value: inout [Element], _ field: StaticString
    ) throws(ProtocolError) {
        let start = buffer.readerIndex
        guard let elements: [Element] = try arrayBody(field) else {
            throw error(.invalidLength(-1), field, at: start)
        }
        value = elements
    }

    public mutating func nullableArray<Element: ProtocolValue>(
        _ value: inout [Element]?, _ field: StaticString
    ) throws(ProtocolError) {
        value = try arrayBody(field)
    }

    private mutating func arrayBody<Element: ProtocolValue>(_ field: StaticString) throws(ProtocolError) -> [Element]? {
        guard let count = try count(field, classic: Int32.self) else { return nil }
        var elements: [Element] = []
        elements.reserveCapacity(Swift.min(count, Self.arrayReserveMax))
        let tagged = isFlexible && Element.hasTaggedFields
        for index in 0..<count {
            path.append((field, index))
            var element = Element()
            try element.code(&self)
            if tagged { try taggedFields() }
            path.removeLast()
            elements.append(element)
        }
        return elements
    }

    // MARK: Tagged fields

    public mutating func taggedFields() throws(ProtocolError) {
        guard isFlexible else { return }
        let countStart = buffer.readerIndex
        let count = try boundedCount(Int(try unsignedVarint("tagged_fields")), "tagged_fields", at: countStart)
        var previous: Int64 = -1
        for _ in 0..<count {
            let start = buffer.readerIndex
            let tag = try unsignedVarint("tagged_fields")
            guard Int64(tag) > previous else {
                throw error(.tagOutOfOrder(tag: tag, previous: UInt32(previous)), "tagged_fields", at: start)
            }
            previous = Int64(tag)
            let size = Int(try unsignedVarint("tagged_fields"))
            guard buffer.readableBytes >= size else {
                throw error(.truncated(needed: size, available: buffer.readableBytes), "tagged_fields", at: start)
            }
            buffer.moveReaderIndex(forwardBy: size)
        }
    }

    // MARK: Lengths

    /// A string or bytes length: classic (`Classic`-wide, −1 = null) or compact (varint length + 1, 0 = null).
    private mutating func length<Classic: FixedWidthInteger & SignedInteger>(
        _ field: StaticString, classic: Classic.Type
    ) throws(ProtocolError) -> Int? {
        let start = buffer.readerIndex
        let raw: Int
        if isFlexible {
            raw = Int(try unsignedVarint(field)) - 1
        } else {
            let value: Classic = try fixed(field)
            raw = Int(value)
        }
        if raw == -1 { return nil }
        guard raw >= 0 else { throw error(.invalidLength(raw), field, at: start) }
        return raw
    }

    /// An array count, checked against ``arrayCountMax`` and the bytes left (every element takes at least one).
    private mutating func count<Classic: FixedWidthInteger & SignedInteger>(
        _ field: StaticString, classic: Classic.Type
    ) throws(ProtocolError) -> Int? {
        let start = buffer.readerIndex
        guard let raw = try length(field, classic: classic) else { return nil }
        return try boundedCount(raw, field, at: start)
    }

    private func boundedCount(_ count: Int, _ field: StaticString, at start: Int) throws(ProtocolError) -> Int {
        guard count <= Self.arrayCountMax else {
            throw error(.lengthOverLimit(length: count, limit: Self.arrayCountMax), field, at: start)
        }
        guard count <= buffer.readableBytes else {
            throw error(.truncated(needed: count, available: buffer.readableBytes), field, at: start)
        }
        return count
    }

    /// An unsigned LEB128 varint of at most 32 bits (5 bytes).
    public mutating func unsignedVarint(_ field: StaticString) throws(ProtocolError) -> UInt32 {
        let start = buffer.readerIndex
        var result: UInt64 = 0
        for shift in stride(from: UInt64(0), through: 28, by: 7) {
            guard let byte = buffer.readInteger(as: UInt8.self) else {
                throw error(.truncated(needed: 1, available: 0), field, at: start)
            }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 {
                guard result <= UInt64(UInt32.max) else { throw error(.malformedVarint, field, at: start) }
                return UInt32(result)
            }
        }
        throw error(.malformedVarint, field, at: start)
    }

    // MARK: Errors

    /// A ``ProtocolError`` naming this message, the current field path and a position (default: now).
    public func error(_ reason: ProtocolError.Reason, _ field: StaticString, at position: Int? = nil) -> ProtocolError {
        var name = ""
        for component in path {
            if !name.isEmpty { name += "." }
            name += "\(component.name)[\(component.index)]"
        }
        let leaf = "\(field)"
        if !leaf.isEmpty { name += name.isEmpty ? leaf : ".\(leaf)" }
        let context = role.isEmpty ? "\(subject) v\(version)" : "\(subject) v\(version) \(role)"
        return ProtocolError(reason, context: context, field: name, position: position ?? buffer.readerIndex)
    }
}

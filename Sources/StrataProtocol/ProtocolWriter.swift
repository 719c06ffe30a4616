import NIOCore

/// Encodes Kafka wire fields by appending to a `ByteBuffer`; cannot fail.
///
/// Values the protocol cannot express (a string over ``ProtocolReader/stringBytesMax`` bytes, an array
/// over `Int32.max` elements) are programming errors and trap. `bytes`/`records` slices are appended as
/// they are. Single-owner value; ``KafkaMessage/encode(into:version:)`` moves the caller's buffer in and
/// back out so no copy-on-write copy happens.
public struct ProtocolWriter: ProtocolCoder {
    public typealias Failure = Never

    /// Everything written so far (and whatever the buffer held before).
    public var buffer: ByteBuffer
    public let version: Int16
    public let isFlexible: Bool
    public var isDecoding: Bool { false }
    /// Bytes left out of ``buffer`` by ``externalBytes(length:_:)``, in order: each belongs at
    /// `position` (a writer index of ``buffer``) and is `length` bytes long.
    public private(set) var externals: [ExternalBytes] = []
    /// `bytes`/`records` values at least this long are not copied into ``buffer`` but left in
    /// ``detached`` (the producer's batches: a frame is then written as several buffers).
    public var detachBytesMin = Int.max
    /// Values left out of ``buffer`` because of ``detachBytesMin``, in order: each belongs after
    /// `position` (a writer index of ``buffer``).
    public private(set) var detached: [(position: Int, bytes: ByteBuffer)] = []

    /// Creates a writer appending to `buffer`.
    public init(buffer: ByteBuffer = ByteBuffer(), version: Int16, isFlexible: Bool) {
        self.buffer = buffer
        self.version = version
        self.isFlexible = isFlexible
    }

    public mutating func int8(_ value: inout Int8, _ field: StaticString) { buffer.writeInteger(value) }
    public mutating func int16(_ value: inout Int16, _ field: StaticString) { buffer.writeInteger(value) }
    public mutating func int32(_ value: inout Int32, _ field: StaticString) { buffer.writeInteger(value) }
    public mutating func int64(_ value: inout Int64, _ field: StaticString) { buffer.writeInteger(value) }
    public mutating func bool(_ value: inout Bool, _ field: StaticString) { buffer.writeInteger(UInt8(value ? 1 : 0)) }

    public mutating func string(_ value: inout String, _ field: StaticString) {
        let length = value.utf8.count
        precondition(length <= ProtocolReader.stringBytesMax, "\(field): string of \(length) bytes is too long")
        writeLength(length, classic: Int16.self)
        buffer.writeString(value)
    }

    public mutating func nullableString(_ value: inout String?, _ field: StaticString) {
        guard var string = value else { return writeLength(nil, classic: Int16.self) }
        self.string(&string, field)
    }

    public mutating func bytes(_ value: inout ByteBuffer, _ field: StaticString) {
        writeLength(value.readableBytes, classic: Int32.self)
        if value.readableBytes >= detachBytesMin {
            detached.append((buffer.writerIndex, value))
        } else {
            buffer.writeImmutableBuffer(value)
        }
    }

    public mutating func nullableBytes(_ value: inout ByteBuffer?, _ field: StaticString) {
        guard var bytes = value else { return writeLength(nil, classic: Int32.self) }
        self.bytes(&bytes, field)
    }

    public mutating func externalBytes(length: Int, _ field: StaticString) {
        writeLength(length, classic: Int32.self)
        externals.append(ExternalBytes(position: buffer.writerIndex, length: length))
    }

    public mutating func array<Element: ProtocolValue>(_ value: inout [Element], _ field: StaticString) {
        writeLength(value.count, classic: Int32.self)
        let tagged = isFlexible && Element.hasTaggedFields
        for var element in value {
            element.code(&self)
            if tagged { taggedFields() }
        }
    }

    public mutating func nullableArray<Element: ProtocolValue>(_ value: inout [Element]?, _ field: StaticString) {
        guard var elements = value else { return writeLength(nil, classic: Int32.self) }
        array(&elements, field)
    }

    /// Writes an empty tagged-field section in flexible versions.
    public mutating func taggedFields() {
        if isFlexible { writeUnsignedVarint(0) }
    }

    /// Appends `value` as an unsigned LEB128 varint.
    public mutating func writeUnsignedVarint(_ value: UInt32) {
        var rest = value
        while rest >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        buffer.writeInteger(UInt8(rest))
    }

    /// Writes a length or count (nil = null) in the classic or compact form.
    private mutating func writeLength<Classic: FixedWidthInteger & SignedInteger>(
        _ length: Int?, classic: Classic.Type
    ) {
        if isFlexible {
            writeUnsignedVarint(length.map { UInt32($0) + 1 } ?? 0)
        } else {
            buffer.writeInteger(length.map { Classic($0) } ?? -1)
        }
    }
}

/// Bytes of a message that the encoder left out, to be sent after `position` of the encoded buffer.
public struct ExternalBytes: Sendable, Equatable {
    /// Writer index in the encoded buffer after which the bytes go.
    public var position: Int
    public var length: Int

    public init(position: Int, length: Int) {
        self.position = position
        self.length = length
    }
}

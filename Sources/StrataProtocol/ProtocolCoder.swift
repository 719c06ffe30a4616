import NIOCore

/// One direction of the Kafka wire codec: ``ProtocolReader`` decodes, ``ProtocolWriter`` encodes.
///
/// Every message describes its fields once, in wire order, in ``ProtocolValue/code(_:)``; the same
/// description drives both directions, so encoder and decoder cannot drift apart. Each call takes the
/// field by `inout`: the reader overwrites it, the writer reads it. Whether a string, bytes or array uses
/// the classic (int16/int32 length) or compact (unsigned varint length + 1) encoding follows from
/// ``isFlexible``; callers only decide which fields exist in ``version``.
public protocol ProtocolCoder {
    /// `ProtocolError` for the reader, `Never` for the writer.
    associatedtype Failure: Error
    /// The API version being coded.
    var version: Int16 { get }
    /// True for flexible versions (KIP-482): compact lengths and tagged-field sections.
    var isFlexible: Bool { get }
    /// True when fields are being filled in from bytes.
    var isDecoding: Bool { get }

    /// Big-endian fixed-width integers; `field` is the schema's snake_case name, used in errors.
    mutating func int8(_ value: inout Int8, _ field: StaticString) throws(Failure)
    mutating func int16(_ value: inout Int16, _ field: StaticString) throws(Failure)
    mutating func int32(_ value: inout Int32, _ field: StaticString) throws(Failure)
    mutating func int64(_ value: inout Int64, _ field: StaticString) throws(Failure)
    /// One byte; any non-zero byte decodes as true.
    mutating func bool(_ value: inout Bool, _ field: StaticString) throws(Failure)
    /// UTF-8 string: int16 length (classic) or uvarint length + 1 (compact); null is invalid here.
    mutating func string(_ value: inout String, _ field: StaticString) throws(Failure)
    /// As ``string(_:_:)``, with length −1 (classic) or 0 (compact) for null.
    mutating func nullableString(_ value: inout String?, _ field: StaticString) throws(Failure)
    /// Non-null `bytes`, carried as a slice of the input buffer (never copied on decode).
    mutating func bytes(_ value: inout ByteBuffer, _ field: StaticString) throws(Failure)
    /// Nullable `bytes` or `records`, carried as a slice of the input buffer.
    mutating func nullableBytes(_ value: inout ByteBuffer?, _ field: StaticString) throws(Failure)
    /// int32 count (classic) or uvarint count + 1 (compact), then the elements; struct elements end with
    /// their own tagged-field section in flexible versions.
    mutating func array<Element: ProtocolValue>(_ value: inout [Element], _ field: StaticString) throws(Failure)
    /// As ``array(_:_:)``, with count −1 (classic) or 0 (compact) for null.
    mutating func nullableArray<Element: ProtocolValue>(
        _ value: inout [Element]?, _ field: StaticString
    ) throws(Failure)
    /// A `bytes`/`records` field whose `length` bytes are not in the message: the writer writes the
    /// length prefix and records where the bytes belong (``ProtocolWriter/externals``), so they can be
    /// sent from elsewhere — the broker's zero-copy fetch sends them from the segment file. The reader
    /// reads (and drops) an ordinary field; messages only call this when encoding.
    mutating func externalBytes(length: Int, _ field: StaticString) throws(Failure)
    /// The tagged-field section closing a struct in flexible versions; nothing in classic versions.
    /// The reader skips every tag (none are modelled); the writer writes an empty section.
    mutating func taggedFields() throws(Failure)
}

/// A value with a Kafka wire shape: a message, a struct nested in one, or a bare array element
/// (`Int32`, `Int64`, `String`).
///
/// `init()` must give the schema defaults, because decoding starts from it and fields absent from
/// the decoded version keep those defaults.
public protocol ProtocolValue: Sendable, Equatable {
    /// The schema defaults.
    init()
    /// Codes every field present in `coder.version`, in wire order.
    mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure)
    /// Whether each element ends with a tagged-field section in flexible versions (structs do,
    /// bare integers and strings do not).
    static var hasTaggedFields: Bool { get }
}

extension ProtocolValue {
    public static var hasTaggedFields: Bool { true }
}

extension Int32: ProtocolValue {
    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.int32(&self, "")
    }
    public static var hasTaggedFields: Bool { false }
}

extension Int64: ProtocolValue {
    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.int64(&self, "")
    }
    public static var hasTaggedFields: Bool { false }
}

extension String: ProtocolValue {
    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.string(&self, "")
    }
    public static var hasTaggedFields: Bool { false }
}

extension ProtocolCoder {
    /// An error code field, kept as its raw value so codes newer than this build survive a round trip.
    public mutating func errorCode(_ value: inout KafkaErrorCode, _ field: StaticString) throws(Failure) {
        var raw = value.rawValue
        try int16(&raw, field)
        value = KafkaErrorCode(rawValue: raw)
    }

    /// An array that may be null only from version `nullableSince`; in earlier versions nil is written
    /// as an empty array and decoding always yields an array.
    public mutating func array<Element: ProtocolValue>(
        _ value: inout [Element]?, _ field: StaticString, nullableSince: Int16
    ) throws(Failure) {
        if version >= nullableSince {
            try nullableArray(&value, field)
        } else {
            var elements = value ?? []
            try array(&elements, field)
            value = elements
        }
    }
}

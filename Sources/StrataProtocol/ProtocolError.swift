/// Every way Kafka wire bytes can be wrong, located by message, field path and byte position.
///
/// The one error type of `StrataProtocol`. Decoders never trap on bad input: they throw this, and the
/// broker closes the offending connection after logging ``description``, for example
/// `Produce v8 request: truncated field topic_data[0].name at byte 37 (need 5 bytes, 2 available)`.
/// Positions are reader indices of the buffer being decoded; for a frame from ``KafkaFrameHandler`` that is
/// the byte offset after the 4-byte size prefix (framing errors give the offset in the connection's stream).
public struct ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was wrong.
    public enum Reason: Equatable, Sendable {
        /// Fewer bytes than the field needs.
        case truncated(needed: Int, available: Int)
        /// A length or count below −1, or −1 (null) where null is not allowed.
        case invalidLength(Int)
        /// A length or count above the named limit.
        case lengthOverLimit(length: Int, limit: Int)
        /// An unsigned varint longer than its type allows.
        case malformedVarint
        /// Tagged fields out of ascending order or repeated.
        case tagOutOfOrder(tag: UInt32, previous: UInt32)
        /// An API version outside what this codec implements.
        case unsupportedVersion(Int16)
        /// An api_key this codec does not know.
        case unknownApiKey(Int16)
        /// A frame whose size prefix exceeds `frameBytesMax`.
        case frameTooLarge(size: Int, limit: Int)
        /// A frame whose size prefix is negative.
        case negativeFrameSize(Int32)
        /// The connection ended inside a frame.
        case truncatedFrame(size: Int, available: Int)
    }

    /// What was wrong.
    public var reason: Reason
    /// What was being decoded: `"Produce v8 request"`, `"request header"`, `"frame"`.
    public var context: String
    /// Dotted field path with array indices, e.g. `topic_data[0].name`; nil when not inside a field.
    public var field: String?
    /// Reader index where the failing field started; nil when not meaningful.
    public var position: Int?

    /// Creates an error; decoders normally build these through ``ProtocolReader``.
    public init(_ reason: Reason, context: String, field: String? = nil, position: Int? = nil) {
        self.reason = reason
        self.context = context
        self.field = field
        self.position = position
    }

    public var description: String {
        var text = "\(context): "
        switch reason {
        case .truncated: text += "truncated"
        case .invalidLength(let length): text += "invalid length \(length) in"
        case .lengthOverLimit(let length, let limit): text += "length \(length) over limit \(limit) in"
        case .malformedVarint: text += "malformed unsigned varint in"
        case .tagOutOfOrder(let tag, let previous): text += "tag \(tag) not above previous tag \(previous) in"
        case .unsupportedVersion(let version): text += "unsupported version \(version)"
        case .unknownApiKey(let key): text += "unknown api_key \(key)"
        case .frameTooLarge(let size, let limit): text += "frame of \(size) bytes exceeds limit of \(limit) bytes"
        case .negativeFrameSize(let size): text += "negative frame size \(size)"
        case .truncatedFrame(let size, let available):
            text += "connection closed inside a frame of \(size) bytes (\(available) received)"
        }
        if let field { text += " field \(field)" }
        if let position { text += " at byte \(position)" }
        if case .truncated(let needed, let available) = reason {
            text += " (need \(needed) bytes, \(available) available)"
        }
        return text
    }
}

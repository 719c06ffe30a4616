import NIOCore

/// The header before every request body (request header v1, or v2 for flexible versions).
///
/// | field | type | versions |
/// |---|---|---|
/// | api_key | int16 | all |
/// | api_version | int16 | all |
/// | correlation_id | int32 | all |
/// | client_id | nullable string, **always int16-length** | all |
/// | tagged fields | uvarint section | v2 |
///
/// `apiKey` stays a raw value so that a request for an API this codec does not know still parses and
/// can be reported. Header v0 (ControlledShutdown v0) is not supported.
public struct RequestHeader: Sendable, Equatable {
    public var apiKey: Int16
    public var apiVersion: Int16
    public var correlationId: Int32
    /// Null is treated as `""` by Kafka.
    public var clientId: String?

    public init(apiKey: Int16, apiVersion: Int16, correlationId: Int32, clientId: String?) {
        self.apiKey = apiKey
        self.apiVersion = apiVersion
        self.correlationId = correlationId
        self.clientId = clientId
    }

    /// The API, or nil when the api_key is not one this codec knows.
    public var api: ApiKey? { ApiKey(rawValue: apiKey) }

    /// 2 when the API version is flexible, else 1; 1 for unknown APIs (their body is never parsed).
    public var headerVersion: Int16 { api?.requestHeaderVersion(apiVersion) ?? 1 }

    /// Decodes a header at the start of a frame, leaving `buffer` at the body.
    public init(from buffer: inout ByteBuffer) throws(ProtocolError) {
        var reader = ProtocolReader(buffer: buffer, version: 1, isFlexible: false, subject: "RequestHeader")
        var apiKey: Int16 = 0
        var apiVersion: Int16 = 0
        var correlationId: Int32 = 0
        var clientId: String?
        try reader.int16(&apiKey, "api_key")
        try reader.int16(&apiVersion, "api_version")
        try reader.int32(&correlationId, "correlation_id")
        try reader.nullableString(&clientId, "client_id")
        self.init(apiKey: apiKey, apiVersion: apiVersion, correlationId: correlationId, clientId: clientId)
        if headerVersion == 2 {
            var tags = ProtocolReader(buffer: reader.buffer, version: 2, isFlexible: true, subject: "RequestHeader")
            try tags.taggedFields()
            reader = tags
        }
        buffer.moveReaderIndex(to: reader.buffer.readerIndex)
    }

    /// Appends the header in ``headerVersion``.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(apiKey)
        buffer.writeInteger(apiVersion)
        buffer.writeInteger(correlationId)
        var writer = ProtocolWriter(version: 1, isFlexible: false)
        swap(&writer.buffer, &buffer)
        var clientId = clientId
        writer.nullableString(&clientId, "client_id")
        if headerVersion == 2 { writer.writeUnsignedVarint(0) }
        swap(&writer.buffer, &buffer)
    }
}

/// The header before every response body: correlation_id int32, plus an (empty) tagged-field section
/// in version 1. Use ``ApiKey/responseHeaderVersion(_:)`` for the version: ApiVersions is always v0.
public struct ResponseHeader: Sendable, Equatable {
    /// Copied from the request being answered.
    public var correlationId: Int32

    public init(correlationId: Int32) {
        self.correlationId = correlationId
    }

    /// Decodes a header of `version` (0 or 1) at the start of a response frame, leaving `buffer` at the body.
    public init(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        var reader = ProtocolReader(
            buffer: buffer, version: version, isFlexible: version >= 1,
            subject: "ResponseHeader")
        var correlationId: Int32 = 0
        try reader.int32(&correlationId, "correlation_id")
        try reader.taggedFields()
        self.init(correlationId: correlationId)
        buffer.moveReaderIndex(to: reader.buffer.readerIndex)
    }

    /// Appends the header in `version` (0 or 1).
    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        buffer.writeInteger(correlationId)
        if version >= 1 { buffer.writeInteger(UInt8(0)) }
    }
}

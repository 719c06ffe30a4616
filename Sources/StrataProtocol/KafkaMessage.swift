import NIOCore

/// A Kafka request or response body of one API, codable at every version in ``ApiKey/codecVersions``.
///
/// Conformers describe their fields once in ``ProtocolValue/code(_:)``; this protocol adds the entry points
/// `init(from:version:)` and `encode(into:version:)`, which choose classic or flexible encoding from the
/// version and handle the body's closing tagged-field section.
public protocol KafkaMessage: ProtocolValue {
    /// The API this message belongs to.
    static var apiKey: ApiKey { get }
    /// `"request"` or `"response"`, for error messages.
    static var role: String { get }
}

/// A request body; `Response` is the body that answers it.
public protocol KafkaRequest: KafkaMessage {
    associatedtype Response: KafkaResponse
}

/// A response body.
public protocol KafkaResponse: KafkaMessage {}

extension KafkaRequest {
    public static var role: String { "request" }
}

extension KafkaResponse {
    public static var role: String { "response" }
}

extension KafkaMessage {
    /// Decodes the body at `buffer.readerIndex`, advancing the reader index past it. `bytes` and `records`
    /// fields are slices of `buffer`. Bytes after the body are left unread.
    ///
    /// - Throws: ``ProtocolError`` with reason `.unsupportedVersion` for a version outside
    ///   ``ApiKey/codecVersions``, or naming the field and byte position that was malformed.
    public init(from buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) {
        let key = Self.apiKey
        guard key.codecVersions.contains(version) else {
            throw ProtocolError(
                .unsupportedVersion(version), context: "\(key.name) v\(version) \(Self.role)",
                position: buffer.readerIndex)
        }
        var reader = ProtocolReader(
            buffer: buffer, version: version, isFlexible: key.isFlexible(version),
            subject: key.name, role: Self.role)
        self.init()
        try code(&reader)
        try reader.taggedFields()
        buffer.moveReaderIndex(to: reader.buffer.readerIndex)
    }

    /// Appends the body encoded at `version`, which must lie in ``ApiKey/codecVersions`` (a caller bug
    /// otherwise: versions come from the negotiated table).
    public func encode(into buffer: inout ByteBuffer, version: Int16) {
        let key = Self.apiKey
        precondition(key.codecVersions.contains(version), "\(key.name) v\(version) is not supported by the codec")
        var writer = ProtocolWriter(version: version, isFlexible: key.isFlexible(version))
        swap(&writer.buffer, &buffer)
        var fields = self
        fields.code(&writer)
        writer.taggedFields()
        swap(&writer.buffer, &buffer)
    }
}

extension KafkaRequest {
    /// Appends a whole request frame: int32 size, request header (v1, or v2 when flexible), body.
    public func encodeFrame(
        into buffer: inout ByteBuffer, version: Int16, correlationId: Int32,
        clientId: String?
    ) {
        let header = RequestHeader(
            apiKey: Self.apiKey.rawValue, apiVersion: version, correlationId: correlationId,
            clientId: clientId)
        KafkaFrame.writeSizePrefixed(into: &buffer) { body in
            header.encode(into: &body)
            encode(into: &body, version: version)
        }
    }
}

extension KafkaRequest {
    /// The bytes of ``encodeFrame(into:version:correlationId:clientId:)``, in pieces to be written in
    /// order: `bytes`/`records` fields of at least `detachBytesMin` bytes are not copied but are pieces
    /// of their own (a produce request's batches go to the socket from the producer's buffers).
    public func encodeFramePieces(
        version: Int16, correlationId: Int32, clientId: String?, detachBytesMin: Int
    ) -> [ByteBuffer] {
        let key = Self.apiKey
        precondition(key.codecVersions.contains(version), "\(key.name) v\(version) is not supported by the codec")
        var writer = ProtocolWriter(
            buffer: ByteBufferAllocator().buffer(capacity: 256), version: version,
            isFlexible: key.isFlexible(version))
        writer.detachBytesMin = detachBytesMin
        writer.buffer.writeInteger(Int32(0))
        RequestHeader(apiKey: key.rawValue, apiVersion: version, correlationId: correlationId, clientId: clientId)
            .encode(into: &writer.buffer)
        var fields = self
        fields.code(&writer)
        writer.taggedFields()
        let detachedBytes = writer.detached.reduce(0) { $0 + $1.bytes.readableBytes }
        let size = writer.buffer.writerIndex - KafkaFrame.sizePrefixBytes + detachedBytes
        precondition(size <= Int(Int32.max), "frame of \(size) bytes cannot be size-prefixed")
        writer.buffer.setInteger(Int32(size), at: 0)
        guard !writer.detached.isEmpty else { return [writer.buffer] }
        var pieces: [ByteBuffer] = []
        var from = 0
        for (position, bytes) in writer.detached {
            if position > from { pieces.append(writer.buffer.getSlice(at: from, length: position - from)!) }
            pieces.append(bytes)
            from = position
        }
        if writer.buffer.writerIndex > from {
            pieces.append(writer.buffer.getSlice(at: from, length: writer.buffer.writerIndex - from)!)
        }
        return pieces
    }
}

extension KafkaResponse {
    /// Appends a whole response frame: int32 size, response header (v0, or v1 when flexible except for
    /// ApiVersions), body encoded at `version`.
    public func encodeFrame(into buffer: inout ByteBuffer, version: Int16, correlationId: Int32) {
        let header = ResponseHeader(correlationId: correlationId)
        let headerVersion = Self.apiKey.responseHeaderVersion(version)
        KafkaFrame.writeSizePrefixed(into: &buffer) { body in
            header.encode(into: &body, version: headerVersion)
            encode(into: &body, version: version)
        }
    }
}

extension KafkaResponse {
    /// Encodes a whole response frame in which some `bytes`/`records` fields are external (see
    /// ``ProtocolCoder/externalBytes(length:_:)``): returns the frame without them and where each goes.
    /// The size prefix counts the external bytes, so sending `buffer` with each external range inserted
    /// at its position gives exactly the frame ``encodeFrame(into:version:correlationId:)`` would.
    public func encodeFrameWithExternals(
        version: Int16, correlationId: Int32
    ) -> (
        buffer: ByteBuffer, externals: [ExternalBytes]
    ) {
        let key = Self.apiKey
        precondition(key.codecVersions.contains(version), "\(key.name) v\(version) is not supported by the codec")
        var writer = ProtocolWriter(version: version, isFlexible: key.isFlexible(version))
        writer.buffer.writeInteger(Int32(0))
        ResponseHeader(correlationId: correlationId).encode(
            into: &writer.buffer, version: key.responseHeaderVersion(version))
        var fields = self
        fields.code(&writer)
        writer.taggedFields()
        let external = writer.externals.reduce(0) { $0 + $1.length }
        let size = writer.buffer.writerIndex - KafkaFrame.sizePrefixBytes + external
        precondition(size <= Int(Int32.max), "frame of \(size) bytes cannot be size-prefixed")
        writer.buffer.setInteger(Int32(size), at: 0)
        return (writer.buffer, writer.externals)
    }
}

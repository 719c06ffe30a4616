import NIOCore

/// ApiVersions (key 18) request, v0–v4. Empty body before v3; v3+ (flexible) names the client software.
public struct ApiVersionsRequest: KafkaRequest {
    public typealias Response = ApiVersionsResponse
    public static var apiKey: ApiKey { .apiVersions }

    /// v3+.
    public var clientSoftwareName = ""
    /// v3+.
    public var clientSoftwareVersion = ""

    public init() {}

    public init(clientSoftwareName: String, clientSoftwareVersion: String) {
        self.clientSoftwareName = clientSoftwareName
        self.clientSoftwareVersion = clientSoftwareVersion
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 3 {
            try coder.string(&clientSoftwareName, "client_software_name")
            try coder.string(&clientSoftwareVersion, "client_software_version")
        }
    }
}

/// ApiVersions (key 18) response, v0–v4. Always sent with response header v0, even when the body is
/// flexible (v3+). The v3+ tagged feature fields are skipped on decode and not written.
///
/// A broker answers a too-new request version with ``ApiVersionsTable/unsupportedApiVersionsResponse``
/// encoded at v0; a client decodes answers with ``decodeAnswer(from:requestedVersion:)``, which handles that.
public struct ApiVersionsResponse: KafkaResponse {
    public static var apiKey: ApiKey { .apiVersions }

    /// One supported API and its version range.
    public struct ApiVersion: ProtocolValue {
        public var apiKey: Int16 = 0
        public var minVersion: Int16 = 0
        public var maxVersion: Int16 = 0

        public init() {}

        public init(apiKey: Int16, minVersion: Int16, maxVersion: Int16) {
            self.apiKey = apiKey
            self.minVersion = minVersion
            self.maxVersion = maxVersion
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int16(&apiKey, "api_key")
            try coder.int16(&minVersion, "min_version")
            try coder.int16(&maxVersion, "max_version")
        }
    }

    public var errorCode = KafkaErrorCode.noError
    public var apiKeys: [ApiVersion] = []
    /// v1+.
    public var throttleTimeMs: Int32 = 0

    public init() {}

    public init(errorCode: KafkaErrorCode, apiKeys: [ApiVersion], throttleTimeMs: Int32 = 0) {
        self.errorCode = errorCode
        self.apiKeys = apiKeys
        self.throttleTimeMs = throttleTimeMs
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.errorCode(&errorCode, "error_code")
        try coder.array(&apiKeys, "api_keys")
        if coder.version >= 1 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
    }

    /// Decodes the answer to a request sent at `requestedVersion`. A non-zero error code (the first field
    /// in every version) means the broker may have fallen back to a v0 body, so such answers are decoded
    /// as v0, as Kafka's own clients do (KIP-511). Returns the response and the version it was decoded at.
    public static func decodeAnswer(
        from buffer: inout ByteBuffer, requestedVersion: Int16
    ) throws(ProtocolError) -> (response: ApiVersionsResponse, version: Int16) {
        let errorCode = buffer.getInteger(at: buffer.readerIndex, as: Int16.self)
        let version = (errorCode ?? 0) != 0 ? 0 : requestedVersion
        return (try ApiVersionsResponse(from: &buffer, version: version), version)
    }
}

/// FindCoordinator (key 10) request, v0–v2.
public struct FindCoordinatorRequest: KafkaRequest {
    public typealias Response = FindCoordinatorResponse
    public static var apiKey: ApiKey { .findCoordinator }

    /// ``keyType`` of a consumer group.
    public static let keyTypeGroup: Int8 = 0
    /// ``keyType`` of a transactional id.
    public static let keyTypeTransaction: Int8 = 1

    /// The group id (or transactional id).
    public var key = ""
    /// v1+: 0 group, 1 transaction.
    public var keyType: Int8 = 0

    public init() {}

    public init(key: String, keyType: Int8 = FindCoordinatorRequest.keyTypeGroup) {
        self.key = key
        self.keyType = keyType
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.string(&key, "key")
        if coder.version >= 1 { try coder.int8(&keyType, "key_type") }
    }
}

/// FindCoordinator (key 10) response, v0–v2. Throttle time is the first field (v1+).
public struct FindCoordinatorResponse: KafkaResponse {
    public static var apiKey: ApiKey { .findCoordinator }

    /// v1+.
    public var throttleTimeMs: Int32 = 0
    public var errorCode = KafkaErrorCode.noError
    /// v1+.
    public var errorMessage: String?
    public var nodeId: Int32 = 0
    public var host = ""
    public var port: Int32 = 0

    public init() {}

    public init(
        throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode = .noError, errorMessage: String? = nil,
        nodeId: Int32, host: String, port: Int32
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.nodeId = nodeId
        self.host = host
        self.port = port
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 1 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        try coder.errorCode(&errorCode, "error_code")
        if coder.version >= 1 { try coder.nullableString(&errorMessage, "error_message") }
        try coder.int32(&nodeId, "node_id")
        try coder.string(&host, "host")
        try coder.int32(&port, "port")
    }
}

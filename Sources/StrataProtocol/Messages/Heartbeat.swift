/// Heartbeat (key 12) request, v0–v3.
public struct HeartbeatRequest: KafkaRequest {
    public typealias Response = HeartbeatResponse
    public static var apiKey: ApiKey { .heartbeat }

    public var groupId = ""
    public var generationId: Int32 = 0
    public var memberId = ""
    /// v3+.
    public var groupInstanceId: String?

    public init() {}

    public init(groupId: String, generationId: Int32, memberId: String, groupInstanceId: String? = nil) {
        self.groupId = groupId
        self.generationId = generationId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.string(&groupId, "group_id")
        try coder.int32(&generationId, "generation_id")
        try coder.string(&memberId, "member_id")
        if coder.version >= 3 { try coder.nullableString(&groupInstanceId, "group_instance_id") }
    }
}

/// Heartbeat (key 12) response, v0–v3. Throttle time is the first field (v1+).
public struct HeartbeatResponse: KafkaResponse {
    public static var apiKey: ApiKey { .heartbeat }

    /// v1+.
    public var throttleTimeMs: Int32 = 0
    public var errorCode = KafkaErrorCode.noError

    public init() {}

    public init(throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 1 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        try coder.errorCode(&errorCode, "error_code")
    }
}

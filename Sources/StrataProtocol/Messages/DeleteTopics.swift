/// DeleteTopics (key 20) request, v0–v3.
public struct DeleteTopicsRequest: KafkaRequest {
    public typealias Response = DeleteTopicsResponse
    public static var apiKey: ApiKey { .deleteTopics }

    public var topicNames: [String] = []
    public var timeoutMs: Int32 = 0

    public init() {}

    public init(topicNames: [String], timeoutMs: Int32) {
        self.topicNames = topicNames
        self.timeoutMs = timeoutMs
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.array(&topicNames, "topic_names")
        try coder.int32(&timeoutMs, "timeout_ms")
    }
}

/// DeleteTopics (key 20) response, v0–v3. Throttle time is the first field (v1+).
public struct DeleteTopicsResponse: KafkaResponse {
    public static var apiKey: ApiKey { .deleteTopics }

    /// v1+.
    public var throttleTimeMs: Int32 = 0
    /// Topic name and error code per topic.
    public var responses: [NamedResult] = []

    public init() {}

    public init(throttleTimeMs: Int32 = 0, responses: [NamedResult]) {
        self.throttleTimeMs = throttleTimeMs
        self.responses = responses
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 1 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        try coder.array(&responses, "responses")
    }
}

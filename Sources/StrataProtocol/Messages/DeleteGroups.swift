/// DeleteGroups (key 42) request, v0–v1.
public struct DeleteGroupsRequest: KafkaRequest {
    public typealias Response = DeleteGroupsResponse
    public static var apiKey: ApiKey { .deleteGroups }

    /// `groups_names` on the wire.
    public var groupNames: [String] = []

    public init() {}

    public init(groupNames: [String]) {
        self.groupNames = groupNames
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.array(&groupNames, "groups_names")
    }
}

/// DeleteGroups (key 42) response, v0–v1. Throttle time is the first field.
public struct DeleteGroupsResponse: KafkaResponse {
    public static var apiKey: ApiKey { .deleteGroups }

    public var throttleTimeMs: Int32 = 0
    /// Group id and error code per group.
    public var results: [NamedResult] = []

    public init() {}

    public init(throttleTimeMs: Int32 = 0, results: [NamedResult]) {
        self.throttleTimeMs = throttleTimeMs
        self.results = results
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.int32(&throttleTimeMs, "throttle_time_ms")
        try coder.array(&results, "results")
    }
}

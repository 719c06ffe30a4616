/// ListGroups (key 16) request, v0–v2: an empty body.
public struct ListGroupsRequest: KafkaRequest {
    public typealias Response = ListGroupsResponse
    public static var apiKey: ApiKey { .listGroups }

    public init() {}

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {}
}

/// ListGroups (key 16) response, v0–v2. Throttle time is the first field (v1+).
public struct ListGroupsResponse: KafkaResponse {
    public static var apiKey: ApiKey { .listGroups }

    /// One group.
    public struct ListedGroup: ProtocolValue {
        public var groupId = ""
        public var protocolType = ""

        public init() {}

        public init(groupId: String, protocolType: String) {
            self.groupId = groupId
            self.protocolType = protocolType
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.string(&groupId, "group_id")
            try coder.string(&protocolType, "protocol_type")
        }
    }

    /// v1+.
    public var throttleTimeMs: Int32 = 0
    public var errorCode = KafkaErrorCode.noError
    public var groups: [ListedGroup] = []

    public init() {}

    public init(throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode = .noError, groups: [ListedGroup]) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.groups = groups
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 1 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        try coder.errorCode(&errorCode, "error_code")
        try coder.array(&groups, "groups")
    }
}

import NIOCore

/// JoinGroup (key 11) request, v0–v5. Protocol metadata is opaque to the broker (a
/// ConsumerProtocolSubscription for `protocol_type == "consumer"`) and stays a slice of the frame.
public struct JoinGroupRequest: KafkaRequest {
    public typealias Response = JoinGroupResponse
    public static var apiKey: ApiKey { .joinGroup }

    /// One assignment protocol the member supports, in preference order.
    public struct GroupProtocol: ProtocolValue {
        public var name = ""
        public var metadata = ByteBuffer()

        public init() {}

        public init(name: String, metadata: ByteBuffer) {
            self.name = name
            self.metadata = metadata
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.string(&name, "name")
            try coder.bytes(&metadata, "metadata")
        }
    }

    public var groupId = ""
    public var sessionTimeoutMs: Int32 = 0
    /// v1+; v0 members use the session timeout.
    public var rebalanceTimeoutMs: Int32 = -1
    /// Empty on the first join.
    public var memberId = ""
    /// v5+: static membership.
    public var groupInstanceId: String?
    public var protocolType = ""
    public var protocols: [GroupProtocol] = []

    public init() {}

    public init(
        groupId: String, sessionTimeoutMs: Int32, rebalanceTimeoutMs: Int32 = -1, memberId: String,
        groupInstanceId: String? = nil, protocolType: String, protocols: [GroupProtocol]
    ) {
        self.groupId = groupId
        self.sessionTimeoutMs = sessionTimeoutMs
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.protocolType = protocolType
        self.protocols = protocols
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.string(&groupId, "group_id")
        try coder.int32(&sessionTimeoutMs, "session_timeout_ms")
        if coder.version >= 1 { try coder.int32(&rebalanceTimeoutMs, "rebalance_timeout_ms") }
        try coder.string(&memberId, "member_id")
        if coder.version >= 5 { try coder.nullableString(&groupInstanceId, "group_instance_id") }
        try coder.string(&protocolType, "protocol_type")
        try coder.array(&protocols, "protocols")
    }
}

/// JoinGroup (key 11) response, v0–v5. Throttle time is the first field (v2+). Only the leader gets
/// a non-empty ``members`` list.
public struct JoinGroupResponse: KafkaResponse {
    public static var apiKey: ApiKey { .joinGroup }

    /// A member as the leader sees it.
    public struct Member: ProtocolValue {
        public var memberId = ""
        /// v5+.
        public var groupInstanceId: String?
        public var metadata = ByteBuffer()

        public init() {}

        public init(memberId: String, groupInstanceId: String? = nil, metadata: ByteBuffer) {
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
            self.metadata = metadata
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.string(&memberId, "member_id")
            if coder.version >= 5 { try coder.nullableString(&groupInstanceId, "group_instance_id") }
            try coder.bytes(&metadata, "metadata")
        }
    }

    /// v2+.
    public var throttleTimeMs: Int32 = 0
    public var errorCode = KafkaErrorCode.noError
    public var generationId: Int32 = -1
    public var protocolName = ""
    public var leader = ""
    public var memberId = ""
    public var members: [Member] = []

    public init() {}

    public init(
        throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode = .noError, generationId: Int32,
        protocolName: String, leader: String, memberId: String, members: [Member] = []
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.generationId = generationId
        self.protocolName = protocolName
        self.leader = leader
        self.memberId = memberId
        self.members = members
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 2 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        try coder.errorCode(&errorCode, "error_code")
        try coder.int32(&generationId, "generation_id")
        try coder.string(&protocolName, "protocol_name")
        try coder.string(&leader, "leader")
        try coder.string(&memberId, "member_id")
        try coder.array(&members, "members")
    }
}

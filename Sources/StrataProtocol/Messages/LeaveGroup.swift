/// LeaveGroup (key 13) request, v0–v3. v0–v2 carry one ``memberId``; v3+ a batch of ``members``.
public struct LeaveGroupRequest: KafkaRequest {
    public typealias Response = LeaveGroupResponse
    public static var apiKey: ApiKey { .leaveGroup }

    /// A leaving member (v3+).
    public struct MemberIdentity: ProtocolValue {
        public var memberId = ""
        public var groupInstanceId: String?

        public init() {}

        public init(memberId: String, groupInstanceId: String? = nil) {
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.string(&memberId, "member_id")
            try coder.nullableString(&groupInstanceId, "group_instance_id")
        }
    }

    public var groupId = ""
    /// v0–v2.
    public var memberId = ""
    /// v3+.
    public var members: [MemberIdentity] = []

    public init() {}

    public init(groupId: String, memberId: String = "", members: [MemberIdentity] = []) {
        self.groupId = groupId
        self.memberId = memberId
        self.members = members
    }

    /// The leaving members whatever the version: ``members`` if any, else the single ``memberId``.
    public var leavingMembers: [MemberIdentity] {
        members.isEmpty && !memberId.isEmpty ? [MemberIdentity(memberId: memberId)] : members
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.string(&groupId, "group_id")
        if coder.version <= 2 { try coder.string(&memberId, "member_id") }
        if coder.version >= 3 { try coder.array(&members, "members") }
    }
}

/// LeaveGroup (key 13) response, v0–v3. Throttle time is the first field (v1+).
public struct LeaveGroupResponse: KafkaResponse {
    public static var apiKey: ApiKey { .leaveGroup }

    /// One leaving member's outcome (v3+).
    public struct MemberResponse: ProtocolValue {
        public var memberId = ""
        public var groupInstanceId: String?
        public var errorCode = KafkaErrorCode.noError

        public init() {}

        public init(memberId: String, groupInstanceId: String? = nil, errorCode: KafkaErrorCode = .noError) {
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
            self.errorCode = errorCode
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.string(&memberId, "member_id")
            try coder.nullableString(&groupInstanceId, "group_instance_id")
            try coder.errorCode(&errorCode, "error_code")
        }
    }

    /// v1+.
    public var throttleTimeMs: Int32 = 0
    public var errorCode = KafkaErrorCode.noError
    /// v3+.
    public var members: [MemberResponse] = []

    public init() {}

    public init(throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode = .noError, members: [MemberResponse] = []) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.members = members
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 1 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        try coder.errorCode(&errorCode, "error_code")
        if coder.version >= 3 { try coder.array(&members, "members") }
    }
}

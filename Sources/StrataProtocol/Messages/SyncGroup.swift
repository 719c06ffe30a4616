import NIOCore

/// SyncGroup (key 14) request, v0–v3. Only the leader sends assignments.
public struct SyncGroupRequest: KafkaRequest {
    public typealias Response = SyncGroupResponse
    public static var apiKey: ApiKey { .syncGroup }

    /// The leader's assignment for one member (opaque ConsumerProtocolAssignment bytes).
    public struct Assignment: ProtocolValue {
        public var memberId = ""
        public var assignment = ByteBuffer()

        public init() {}

        public init(memberId: String, assignment: ByteBuffer) {
            self.memberId = memberId
            self.assignment = assignment
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.string(&memberId, "member_id")
            try coder.bytes(&assignment, "assignment")
        }
    }

    public var groupId = ""
    public var generationId: Int32 = 0
    public var memberId = ""
    /// v3+.
    public var groupInstanceId: String?
    public var assignments: [Assignment] = []

    public init() {}

    public init(
        groupId: String, generationId: Int32, memberId: String, groupInstanceId: String? = nil,
        assignments: [Assignment] = []
    ) {
        self.groupId = groupId
        self.generationId = generationId
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.assignments = assignments
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.string(&groupId, "group_id")
        try coder.int32(&generationId, "generation_id")
        try coder.string(&memberId, "member_id")
        if coder.version >= 3 { try coder.nullableString(&groupInstanceId, "group_instance_id") }
        try coder.array(&assignments, "assignments")
    }
}

/// SyncGroup (key 14) response, v0–v3. Throttle time is the first field (v1+).
public struct SyncGroupResponse: KafkaResponse {
    public static var apiKey: ApiKey { .syncGroup }

    /// v1+.
    public var throttleTimeMs: Int32 = 0
    public var errorCode = KafkaErrorCode.noError
    /// This member's assignment.
    public var assignment = ByteBuffer()

    public init() {}

    public init(throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode = .noError, assignment: ByteBuffer) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.assignment = assignment
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 1 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        try coder.errorCode(&errorCode, "error_code")
        try coder.bytes(&assignment, "assignment")
    }
}

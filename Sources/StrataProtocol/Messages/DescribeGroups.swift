import NIOCore

/// DescribeGroups (key 15) request, v0–v4.
public struct DescribeGroupsRequest: KafkaRequest {
    public typealias Response = DescribeGroupsResponse
    public static var apiKey: ApiKey { .describeGroups }

    public var groups: [String] = []
    /// v3+.
    public var includeAuthorizedOperations = false

    public init() {}

    public init(groups: [String], includeAuthorizedOperations: Bool = false) {
        self.groups = groups
        self.includeAuthorizedOperations = includeAuthorizedOperations
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.array(&groups, "groups")
        if coder.version >= 3 { try coder.bool(&includeAuthorizedOperations, "include_authorized_operations") }
    }
}

/// DescribeGroups (key 15) response, v0–v4. Throttle time is the first field (v1+).
///
/// Group states: Empty, PreparingRebalance, CompletingRebalance, Stable, Dead.
public struct DescribeGroupsResponse: KafkaResponse {
    public static var apiKey: ApiKey { .describeGroups }

    /// One member of a described group.
    public struct Member: ProtocolValue {
        public var memberId = ""
        /// v4+.
        public var groupInstanceId: String?
        public var clientId = ""
        public var clientHost = ""
        public var memberMetadata = ByteBuffer()
        public var memberAssignment = ByteBuffer()

        public init() {}

        public init(
            memberId: String, groupInstanceId: String? = nil, clientId: String, clientHost: String,
            memberMetadata: ByteBuffer, memberAssignment: ByteBuffer
        ) {
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
            self.clientId = clientId
            self.clientHost = clientHost
            self.memberMetadata = memberMetadata
            self.memberAssignment = memberAssignment
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.string(&memberId, "member_id")
            if coder.version >= 4 { try coder.nullableString(&groupInstanceId, "group_instance_id") }
            try coder.string(&clientId, "client_id")
            try coder.string(&clientHost, "client_host")
            try coder.bytes(&memberMetadata, "member_metadata")
            try coder.bytes(&memberAssignment, "member_assignment")
        }
    }

    /// One described group.
    public struct DescribedGroup: ProtocolValue {
        public var errorCode = KafkaErrorCode.noError
        public var groupId = ""
        public var groupState = ""
        public var protocolType = ""
        /// The chosen assignor name.
        public var protocolData = ""
        public var members: [Member] = []
        /// v3+.
        public var authorizedOperations = MetadataResponse.authorizedOperationsOmitted

        public init() {}

        public init(
            errorCode: KafkaErrorCode = .noError, groupId: String, groupState: String, protocolType: String,
            protocolData: String, members: [Member],
            authorizedOperations: Int32 = MetadataResponse.authorizedOperationsOmitted
        ) {
            self.errorCode = errorCode
            self.groupId = groupId
            self.groupState = groupState
            self.protocolType = protocolType
            self.protocolData = protocolData
            self.members = members
            self.authorizedOperations = authorizedOperations
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.errorCode(&errorCode, "error_code")
            try coder.string(&groupId, "group_id")
            try coder.string(&groupState, "group_state")
            try coder.string(&protocolType, "protocol_type")
            try coder.string(&protocolData, "protocol_data")
            try coder.array(&members, "members")
            if coder.version >= 3 { try coder.int32(&authorizedOperations, "authorized_operations") }
        }
    }

    /// v1+.
    public var throttleTimeMs: Int32 = 0
    public var groups: [DescribedGroup] = []

    public init() {}

    public init(throttleTimeMs: Int32 = 0, groups: [DescribedGroup]) {
        self.throttleTimeMs = throttleTimeMs
        self.groups = groups
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 1 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        try coder.array(&groups, "groups")
    }
}

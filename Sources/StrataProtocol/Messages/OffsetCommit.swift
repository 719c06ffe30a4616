/// OffsetCommit (key 8) request, v2–v7.
public struct OffsetCommitRequest: KafkaRequest {
    public typealias Response = OffsetCommitResponse
    public static var apiKey: ApiKey { .offsetCommit }

    /// One partition's committed position.
    public struct Partition: ProtocolValue {
        public var partitionIndex: Int32 = 0
        public var committedOffset: Int64 = 0
        /// v6+.
        public var committedLeaderEpoch: Int32 = -1
        public var committedMetadata: String?

        public init() {}

        public init(
            partitionIndex: Int32, committedOffset: Int64, committedLeaderEpoch: Int32 = -1,
            committedMetadata: String? = nil
        ) {
            self.partitionIndex = partitionIndex
            self.committedOffset = committedOffset
            self.committedLeaderEpoch = committedLeaderEpoch
            self.committedMetadata = committedMetadata
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&partitionIndex, "partition_index")
            try coder.int64(&committedOffset, "committed_offset")
            if coder.version >= 6 { try coder.int32(&committedLeaderEpoch, "committed_leader_epoch") }
            try coder.nullableString(&committedMetadata, "committed_metadata")
        }
    }

    public var groupId = ""
    /// −1 for commits outside group membership (accepted only while the group is Empty).
    public var generationIdOrMemberEpoch: Int32 = -1
    public var memberId = ""
    /// v7+.
    public var groupInstanceId: String?
    /// v2–v4; −1 = broker default.
    public var retentionTimeMs: Int64 = -1
    public var topics: [TopicPartitions<Partition>] = []

    public init() {}

    public init(
        groupId: String, generationIdOrMemberEpoch: Int32 = -1, memberId: String = "",
        groupInstanceId: String? = nil, retentionTimeMs: Int64 = -1, topics: [TopicPartitions<Partition>]
    ) {
        self.groupId = groupId
        self.generationIdOrMemberEpoch = generationIdOrMemberEpoch
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.retentionTimeMs = retentionTimeMs
        self.topics = topics
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.string(&groupId, "group_id")
        try coder.int32(&generationIdOrMemberEpoch, "generation_id_or_member_epoch")
        try coder.string(&memberId, "member_id")
        if coder.version >= 7 { try coder.nullableString(&groupInstanceId, "group_instance_id") }
        if (2...4).contains(coder.version) { try coder.int64(&retentionTimeMs, "retention_time_ms") }
        try coder.array(&topics, "topics")
    }
}

/// OffsetCommit (key 8) response, v2–v7. Throttle time is the first field (v3+).
public struct OffsetCommitResponse: KafkaResponse {
    public static var apiKey: ApiKey { .offsetCommit }

    /// One partition's outcome.
    public struct PartitionResponse: ProtocolValue {
        public var partitionIndex: Int32 = 0
        public var errorCode = KafkaErrorCode.noError

        public init() {}

        public init(partitionIndex: Int32, errorCode: KafkaErrorCode = .noError) {
            self.partitionIndex = partitionIndex
            self.errorCode = errorCode
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&partitionIndex, "partition_index")
            try coder.errorCode(&errorCode, "error_code")
        }
    }

    /// v3+.
    public var throttleTimeMs: Int32 = 0
    public var topics: [TopicPartitions<PartitionResponse>] = []

    public init() {}

    public init(throttleTimeMs: Int32 = 0, topics: [TopicPartitions<PartitionResponse>]) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 3 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        try coder.array(&topics, "topics")
    }
}

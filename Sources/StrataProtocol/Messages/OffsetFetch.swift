/// OffsetFetch (key 9) request, v1–v5.
public struct OffsetFetchRequest: KafkaRequest {
    public typealias Response = OffsetFetchResponse
    public static var apiKey: ApiKey { .offsetFetch }

    public var groupId = ""
    /// Partition indexes per topic; nil (v2+) = every committed partition of the group. At v1, nil is
    /// written as an empty list.
    public var topics: [TopicPartitions<Int32>]?

    public init() {}

    public init(groupId: String, topics: [TopicPartitions<Int32>]?) {
        self.groupId = groupId
        self.topics = topics
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.string(&groupId, "group_id")
        try coder.array(&topics, "topics", nullableSince: 2)
    }
}

/// OffsetFetch (key 9) response, v1–v5. Throttle time is the first field (v3+); the top-level error code
/// is the **last** field (v2+).
public struct OffsetFetchResponse: KafkaResponse {
    public static var apiKey: ApiKey { .offsetFetch }

    /// One partition's committed position; offset −1 and error 0 when nothing was committed.
    public struct Partition: ProtocolValue {
        public var partitionIndex: Int32 = 0
        public var committedOffset: Int64 = -1
        /// v5+.
        public var committedLeaderEpoch: Int32 = -1
        public var metadata: String?
        public var errorCode = KafkaErrorCode.noError

        public init() {}

        public init(
            partitionIndex: Int32, committedOffset: Int64, committedLeaderEpoch: Int32 = -1,
            metadata: String? = nil, errorCode: KafkaErrorCode = .noError
        ) {
            self.partitionIndex = partitionIndex
            self.committedOffset = committedOffset
            self.committedLeaderEpoch = committedLeaderEpoch
            self.metadata = metadata
            self.errorCode = errorCode
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&partitionIndex, "partition_index")
            try coder.int64(&committedOffset, "committed_offset")
            if coder.version >= 5 { try coder.int32(&committedLeaderEpoch, "committed_leader_epoch") }
            try coder.nullableString(&metadata, "metadata")
            try coder.errorCode(&errorCode, "error_code")
        }
    }

    /// v3+.
    public var throttleTimeMs: Int32 = 0
    public var topics: [TopicPartitions<Partition>] = []
    /// v2+, after ``topics``.
    public var errorCode = KafkaErrorCode.noError

    public init() {}

    public init(
        throttleTimeMs: Int32 = 0, topics: [TopicPartitions<Partition>],
        errorCode: KafkaErrorCode = .noError
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
        self.errorCode = errorCode
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 3 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        try coder.array(&topics, "topics")
        if coder.version >= 2 { try coder.errorCode(&errorCode, "error_code") }
    }
}

/// ListOffsets (key 2) request, v1–v5.
///
/// Timestamps: −1 latest (high watermark, or LSO for read_committed), −2 earliest (log start offset);
/// t ≥ 0 asks for the first offset whose timestamp is ≥ t.
public struct ListOffsetsRequest: KafkaRequest {
    public typealias Response = ListOffsetsResponse
    public static var apiKey: ApiKey { .listOffsets }

    /// Special ``Partition/timestamp`` asking for the latest offset.
    public static let latestTimestamp: Int64 = -1
    /// Special ``Partition/timestamp`` asking for the earliest offset.
    public static let earliestTimestamp: Int64 = -2

    /// One partition's query.
    public struct Partition: ProtocolValue {
        public var partitionIndex: Int32 = 0
        /// v4+.
        public var currentLeaderEpoch: Int32 = -1
        public var timestamp: Int64 = 0

        public init() {}

        public init(partitionIndex: Int32, currentLeaderEpoch: Int32 = -1, timestamp: Int64) {
            self.partitionIndex = partitionIndex
            self.currentLeaderEpoch = currentLeaderEpoch
            self.timestamp = timestamp
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&partitionIndex, "partition_index")
            if coder.version >= 4 { try coder.int32(&currentLeaderEpoch, "current_leader_epoch") }
            try coder.int64(&timestamp, "timestamp")
        }
    }

    /// −1 for consumers.
    public var replicaId: Int32 = -1
    /// v2+: 0 read_uncommitted, 1 read_committed.
    public var isolationLevel: Int8 = 0
    public var topics: [TopicPartitions<Partition>] = []

    public init() {}

    public init(replicaId: Int32 = -1, isolationLevel: Int8 = 0, topics: [TopicPartitions<Partition>]) {
        self.replicaId = replicaId
        self.isolationLevel = isolationLevel
        self.topics = topics
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.int32(&replicaId, "replica_id")
        if coder.version >= 2 { try coder.int8(&isolationLevel, "isolation_level") }
        try coder.array(&topics, "topics")
    }
}

/// ListOffsets (key 2) response, v1–v5. Throttle time is the first field (v2+).
public struct ListOffsetsResponse: KafkaResponse {
    public static var apiKey: ApiKey { .listOffsets }

    /// One partition's answer; offset and timestamp −1 when no record matches.
    public struct PartitionResponse: ProtocolValue {
        public var partitionIndex: Int32 = 0
        public var errorCode = KafkaErrorCode.noError
        public var timestamp: Int64 = -1
        public var offset: Int64 = -1
        /// v4+.
        public var leaderEpoch: Int32 = -1

        public init() {}

        public init(
            partitionIndex: Int32, errorCode: KafkaErrorCode = .noError, timestamp: Int64 = -1,
            offset: Int64 = -1, leaderEpoch: Int32 = -1
        ) {
            self.partitionIndex = partitionIndex
            self.errorCode = errorCode
            self.timestamp = timestamp
            self.offset = offset
            self.leaderEpoch = leaderEpoch
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&partitionIndex, "partition_index")
            try coder.errorCode(&errorCode, "error_code")
            try coder.int64(&timestamp, "timestamp")
            try coder.int64(&offset, "offset")
            if coder.version >= 4 { try coder.int32(&leaderEpoch, "leader_epoch") }
        }
    }

    /// v2+.
    public var throttleTimeMs: Int32 = 0
    public var topics: [TopicPartitions<PartitionResponse>] = []

    public init() {}

    public init(throttleTimeMs: Int32 = 0, topics: [TopicPartitions<PartitionResponse>]) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 2 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        try coder.array(&topics, "topics")
    }
}

/// OffsetForLeaderEpoch (key 23) request, v2–v3.
public struct OffsetForLeaderEpochRequest: KafkaRequest {
    public typealias Response = OffsetForLeaderEpochResponse
    public static var apiKey: ApiKey { .offsetForLeaderEpoch }

    /// The epoch whose end offset is wanted for one partition.
    public struct Partition: ProtocolValue {
        public var partition: Int32 = 0
        /// v2+.
        public var currentLeaderEpoch: Int32 = -1
        public var leaderEpoch: Int32 = 0

        public init() {}

        public init(partition: Int32, currentLeaderEpoch: Int32 = -1, leaderEpoch: Int32) {
            self.partition = partition
            self.currentLeaderEpoch = currentLeaderEpoch
            self.leaderEpoch = leaderEpoch
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&partition, "partition")
            if coder.version >= 2 { try coder.int32(&currentLeaderEpoch, "current_leader_epoch") }
            try coder.int32(&leaderEpoch, "leader_epoch")
        }
    }

    /// v3+; −2 for consumers.
    public var replicaId: Int32 = -2
    public var topics: [TopicPartitions<Partition>] = []

    public init() {}

    public init(replicaId: Int32 = -2, topics: [TopicPartitions<Partition>]) {
        self.replicaId = replicaId
        self.topics = topics
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 3 { try coder.int32(&replicaId, "replica_id") }
        try coder.array(&topics, "topics")
    }
}

/// OffsetForLeaderEpoch (key 23) response, v2–v3. Throttle time is the first field (v2+).
public struct OffsetForLeaderEpochResponse: KafkaResponse {
    public static var apiKey: ApiKey { .offsetForLeaderEpoch }

    /// One partition's answer: the largest epoch ≤ the requested one and where it ends.
    public struct EpochEndOffset: ProtocolValue {
        public var errorCode = KafkaErrorCode.noError
        public var partition: Int32 = 0
        /// v1+.
        public var leaderEpoch: Int32 = -1
        public var endOffset: Int64 = -1

        public init() {}

        public init(
            errorCode: KafkaErrorCode = .noError, partition: Int32, leaderEpoch: Int32 = -1,
            endOffset: Int64 = -1
        ) {
            self.errorCode = errorCode
            self.partition = partition
            self.leaderEpoch = leaderEpoch
            self.endOffset = endOffset
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.errorCode(&errorCode, "error_code")
            try coder.int32(&partition, "partition")
            if coder.version >= 1 { try coder.int32(&leaderEpoch, "leader_epoch") }
            try coder.int64(&endOffset, "end_offset")
        }
    }

    /// v2+.
    public var throttleTimeMs: Int32 = 0
    public var topics: [TopicPartitions<EpochEndOffset>] = []

    public init() {}

    public init(throttleTimeMs: Int32 = 0, topics: [TopicPartitions<EpochEndOffset>]) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 2 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        try coder.array(&topics, "topics")
    }
}

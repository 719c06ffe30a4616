import NIOCore

/// Fetch (key 1) request, v4–v11.
public struct FetchRequest: KafkaRequest {
    public typealias Response = FetchResponse
    public static var apiKey: ApiKey { .fetch }

    /// Where to read one partition from.
    public struct Partition: ProtocolValue {
        public var partition: Int32 = 0
        /// v9+.
        public var currentLeaderEpoch: Int32 = -1
        public var fetchOffset: Int64 = 0
        /// v5+; followers only, −1 from consumers.
        public var logStartOffset: Int64 = -1
        public var partitionMaxBytes: Int32 = 0

        public init() {}

        public init(
            partition: Int32, currentLeaderEpoch: Int32 = -1, fetchOffset: Int64, logStartOffset: Int64 = -1,
            partitionMaxBytes: Int32
        ) {
            self.partition = partition
            self.currentLeaderEpoch = currentLeaderEpoch
            self.fetchOffset = fetchOffset
            self.logStartOffset = logStartOffset
            self.partitionMaxBytes = partitionMaxBytes
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&partition, "partition")
            if coder.version >= 9 { try coder.int32(&currentLeaderEpoch, "current_leader_epoch") }
            try coder.int64(&fetchOffset, "fetch_offset")
            if coder.version >= 5 { try coder.int64(&logStartOffset, "log_start_offset") }
            try coder.int32(&partitionMaxBytes, "partition_max_bytes")
        }
    }

    /// −1 for consumers.
    public var replicaId: Int32 = -1
    public var maxWaitMs: Int32 = 0
    public var minBytes: Int32 = 0
    /// v3+.
    public var maxBytes = Int32.max
    /// v4+: 0 read_uncommitted, 1 read_committed.
    public var isolationLevel: Int8 = 0
    /// v7+; 0 = no fetch session.
    public var sessionId: Int32 = 0
    /// v7+; −1 = full fetch without a session.
    public var sessionEpoch: Int32 = -1
    public var topics: [TopicPartitions<Partition>] = []
    /// v7+: partitions to drop from an incremental fetch session.
    public var forgottenTopicsData: [TopicPartitions<Int32>] = []
    /// v11+.
    public var rackId = ""

    public init() {}

    public init(
        replicaId: Int32 = -1, maxWaitMs: Int32, minBytes: Int32, maxBytes: Int32 = .max,
        isolationLevel: Int8 = 0, sessionId: Int32 = 0, sessionEpoch: Int32 = -1,
        topics: [TopicPartitions<Partition>], forgottenTopicsData: [TopicPartitions<Int32>] = [],
        rackId: String = ""
    ) {
        self.replicaId = replicaId
        self.maxWaitMs = maxWaitMs
        self.minBytes = minBytes
        self.maxBytes = maxBytes
        self.isolationLevel = isolationLevel
        self.sessionId = sessionId
        self.sessionEpoch = sessionEpoch
        self.topics = topics
        self.forgottenTopicsData = forgottenTopicsData
        self.rackId = rackId
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.int32(&replicaId, "replica_id")
        try coder.int32(&maxWaitMs, "max_wait_ms")
        try coder.int32(&minBytes, "min_bytes")
        if coder.version >= 3 { try coder.int32(&maxBytes, "max_bytes") }
        if coder.version >= 4 { try coder.int8(&isolationLevel, "isolation_level") }
        if coder.version >= 7 {
            try coder.int32(&sessionId, "session_id")
            try coder.int32(&sessionEpoch, "session_epoch")
        }
        try coder.array(&topics, "topics")
        if coder.version >= 7 { try coder.array(&forgottenTopicsData, "forgotten_topics_data") }
        if coder.version >= 11 { try coder.string(&rackId, "rack_id") }
    }
}

/// Fetch (key 1) response, v4–v11. Throttle time is the first field.
///
/// `records` are whole RecordBatch v2 bytes as a `ByteBuffer` (on decode, a slice of the response frame).
public struct FetchResponse: KafkaResponse {
    public static var apiKey: ApiKey { .fetch }

    /// An aborted transaction in the returned range (v4+; always empty without transactions).
    public struct AbortedTransaction: ProtocolValue {
        public var producerId: Int64 = 0
        public var firstOffset: Int64 = 0

        public init() {}

        public init(producerId: Int64, firstOffset: Int64) {
            self.producerId = producerId
            self.firstOffset = firstOffset
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int64(&producerId, "producer_id")
            try coder.int64(&firstOffset, "first_offset")
        }
    }

    /// One partition's data.
    public struct PartitionData: ProtocolValue {
        public var partitionIndex: Int32 = 0
        public var errorCode = KafkaErrorCode.noError
        public var highWatermark: Int64 = 0
        /// v4+; equals the high watermark without transactions.
        public var lastStableOffset: Int64 = -1
        /// v5+.
        public var logStartOffset: Int64 = -1
        /// v4+; nil or empty without transactions.
        public var abortedTransactions: [AbortedTransaction]?
        /// v11+.
        public var preferredReadReplica: Int32 = -1
        public var records: ByteBuffer?
        /// When set, encoding writes only the length prefix of `records` (this many bytes) and leaves
        /// the bytes to be sent from elsewhere (``KafkaResponse/encodeFrameWithExternals``); `records` is
        /// then ignored. Never set by decoding.
        public var externalRecordsLength: Int?

        public init() {}

        public init(
            partitionIndex: Int32, errorCode: KafkaErrorCode = .noError, highWatermark: Int64,
            lastStableOffset: Int64 = -1, logStartOffset: Int64 = -1,
            abortedTransactions: [AbortedTransaction]? = nil, preferredReadReplica: Int32 = -1,
            records: ByteBuffer?
        ) {
            self.partitionIndex = partitionIndex
            self.errorCode = errorCode
            self.highWatermark = highWatermark
            self.lastStableOffset = lastStableOffset
            self.logStartOffset = logStartOffset
            self.abortedTransactions = abortedTransactions
            self.preferredReadReplica = preferredReadReplica
            self.records = records
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&partitionIndex, "partition_index")
            try coder.errorCode(&errorCode, "error_code")
            try coder.int64(&highWatermark, "high_watermark")
            if coder.version >= 4 { try coder.int64(&lastStableOffset, "last_stable_offset") }
            if coder.version >= 5 { try coder.int64(&logStartOffset, "log_start_offset") }
            if coder.version >= 4 { try coder.nullableArray(&abortedTransactions, "aborted_transactions") }
            if coder.version >= 11 { try coder.int32(&preferredReadReplica, "preferred_read_replica") }
            if let externalRecordsLength, !coder.isDecoding {
                try coder.externalBytes(length: externalRecordsLength, "records")
            } else {
                try coder.nullableBytes(&records, "records")
            }
        }
    }

    /// v1+.
    public var throttleTimeMs: Int32 = 0
    /// v7+: top-level (session) error.
    public var errorCode = KafkaErrorCode.noError
    /// v7+; 0 = no session.
    public var sessionId: Int32 = 0
    public var responses: [TopicPartitions<PartitionData>] = []

    public init() {}

    public init(
        throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode = .noError, sessionId: Int32 = 0,
        responses: [TopicPartitions<PartitionData>]
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.sessionId = sessionId
        self.responses = responses
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 1 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        if coder.version >= 7 {
            try coder.errorCode(&errorCode, "error_code")
            try coder.int32(&sessionId, "session_id")
        }
        try coder.array(&responses, "responses")
    }
}

/// DeleteRecords (key 21) request, v0–v1: raise each partition's log start offset.
public struct DeleteRecordsRequest: KafkaRequest {
    public typealias Response = DeleteRecordsResponse
    public static var apiKey: ApiKey { .deleteRecords }

    /// Delete everything before `offset` (−1 = the high watermark).
    public struct Partition: ProtocolValue {
        public var partitionIndex: Int32 = 0
        public var offset: Int64 = 0

        public init() {}

        public init(partitionIndex: Int32, offset: Int64) {
            self.partitionIndex = partitionIndex
            self.offset = offset
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&partitionIndex, "partition_index")
            try coder.int64(&offset, "offset")
        }
    }

    public var topics: [TopicPartitions<Partition>] = []
    public var timeoutMs: Int32 = 0

    public init() {}

    public init(topics: [TopicPartitions<Partition>], timeoutMs: Int32) {
        self.topics = topics
        self.timeoutMs = timeoutMs
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.array(&topics, "topics")
        try coder.int32(&timeoutMs, "timeout_ms")
    }
}

/// DeleteRecords (key 21) response, v0–v1. Throttle time is the first field.
public struct DeleteRecordsResponse: KafkaResponse {
    public static var apiKey: ApiKey { .deleteRecords }

    /// One partition's new log start offset.
    public struct PartitionResult: ProtocolValue {
        public var partitionIndex: Int32 = 0
        public var lowWatermark: Int64 = 0
        public var errorCode = KafkaErrorCode.noError

        public init() {}

        public init(partitionIndex: Int32, lowWatermark: Int64, errorCode: KafkaErrorCode = .noError) {
            self.partitionIndex = partitionIndex
            self.lowWatermark = lowWatermark
            self.errorCode = errorCode
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&partitionIndex, "partition_index")
            try coder.int64(&lowWatermark, "low_watermark")
            try coder.errorCode(&errorCode, "error_code")
        }
    }

    public var throttleTimeMs: Int32 = 0
    public var topics: [TopicPartitions<PartitionResult>] = []

    public init() {}

    public init(throttleTimeMs: Int32 = 0, topics: [TopicPartitions<PartitionResult>]) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.int32(&throttleTimeMs, "throttle_time_ms")
        try coder.array(&topics, "topics")
    }
}

import NIOCore

/// Produce (key 0) request, v3–v8 (v0–v2 are advertised but rejected: they carry message sets v0/v1).
///
/// Each partition's `records` is a slice of the request frame holding RecordBatch v2 bytes (validate with
/// `StrataRecords.RecordBatch`); nothing is copied. With `acks == 0` the broker must not answer at all.
public struct ProduceRequest: KafkaRequest {
    public typealias Response = ProduceResponse
    public static var apiKey: ApiKey { .produce }

    /// One partition's batch.
    public struct Partition: ProtocolValue {
        public var index: Int32 = 0
        public var records: ByteBuffer?

        public init() {}

        public init(index: Int32, records: ByteBuffer?) {
            self.index = index
            self.records = records
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&index, "index")
            try coder.nullableBytes(&records, "records")
        }
    }

    /// v3+.
    public var transactionalId: String?
    /// 0 (no response), 1 (leader) or −1 (all); anything else is INVALID_REQUIRED_ACKS.
    public var acks: Int16 = 0
    public var timeoutMs: Int32 = 0
    /// `topic_data`.
    public var topics: [TopicPartitions<Partition>] = []

    public init() {}

    public init(transactionalId: String? = nil, acks: Int16, timeoutMs: Int32, topics: [TopicPartitions<Partition>]) {
        self.transactionalId = transactionalId
        self.acks = acks
        self.timeoutMs = timeoutMs
        self.topics = topics
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 3 { try coder.nullableString(&transactionalId, "transactional_id") }
        try coder.int16(&acks, "acks")
        try coder.int32(&timeoutMs, "timeout_ms")
        try coder.array(&topics, "topic_data")
    }
}

/// Produce (key 0) response, v3–v8. **Throttle time is the last field** here.
public struct ProduceResponse: KafkaResponse {
    public static var apiKey: ApiKey { .produce }

    /// Why one batch of a partition was rejected (v8+).
    public struct RecordError: ProtocolValue {
        public var batchIndex: Int32 = 0
        public var batchIndexErrorMessage: String?

        public init() {}

        public init(batchIndex: Int32, batchIndexErrorMessage: String?) {
            self.batchIndex = batchIndex
            self.batchIndexErrorMessage = batchIndexErrorMessage
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&batchIndex, "batch_index")
            try coder.nullableString(&batchIndexErrorMessage, "batch_index_error_message")
        }
    }

    /// One partition's outcome.
    public struct PartitionResponse: ProtocolValue {
        public var index: Int32 = 0
        public var errorCode = KafkaErrorCode.noError
        public var baseOffset: Int64 = 0
        /// v2+; −1 unless the topic uses LogAppendTime.
        public var logAppendTimeMs: Int64 = -1
        /// v5+.
        public var logStartOffset: Int64 = -1
        /// v8+.
        public var recordErrors: [RecordError] = []
        /// v8+.
        public var errorMessage: String?

        public init() {}

        public init(
            index: Int32, errorCode: KafkaErrorCode = .noError, baseOffset: Int64, logAppendTimeMs: Int64 = -1,
            logStartOffset: Int64 = -1, recordErrors: [RecordError] = [], errorMessage: String? = nil
        ) {
            self.index = index
            self.errorCode = errorCode
            self.baseOffset = baseOffset
            self.logAppendTimeMs = logAppendTimeMs
            self.logStartOffset = logStartOffset
            self.recordErrors = recordErrors
            self.errorMessage = errorMessage
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&index, "index")
            try coder.errorCode(&errorCode, "error_code")
            try coder.int64(&baseOffset, "base_offset")
            if coder.version >= 2 { try coder.int64(&logAppendTimeMs, "log_append_time_ms") }
            if coder.version >= 5 { try coder.int64(&logStartOffset, "log_start_offset") }
            if coder.version >= 8 {
                try coder.array(&recordErrors, "record_errors")
                try coder.nullableString(&errorMessage, "error_message")
            }
        }
    }

    public var responses: [TopicPartitions<PartitionResponse>] = []
    /// v1+, after `responses`.
    public var throttleTimeMs: Int32 = 0

    public init() {}

    public init(responses: [TopicPartitions<PartitionResponse>], throttleTimeMs: Int32 = 0) {
        self.responses = responses
        self.throttleTimeMs = throttleTimeMs
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.array(&responses, "responses")
        if coder.version >= 1 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
    }
}

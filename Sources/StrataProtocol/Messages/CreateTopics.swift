/// CreateTopics (key 19) request, v0–v4.
public struct CreateTopicsRequest: KafkaRequest {
    public typealias Response = CreateTopicsResponse
    public static var apiKey: ApiKey { .createTopics }

    /// A manual replica assignment for one partition.
    public struct Assignment: ProtocolValue {
        public var partitionIndex: Int32 = 0
        public var brokerIds: [Int32] = []

        public init() {}

        public init(partitionIndex: Int32, brokerIds: [Int32]) {
            self.partitionIndex = partitionIndex
            self.brokerIds = brokerIds
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&partitionIndex, "partition_index")
            try coder.array(&brokerIds, "broker_ids")
        }
    }

    /// One topic to create.
    public struct Topic: ProtocolValue {
        public var name = ""
        /// −1 = broker default (v4+ clients; earlier clients always give a count).
        public var numPartitions: Int32 = -1
        /// −1 = broker default.
        public var replicationFactor: Int16 = -1
        public var assignments: [Assignment] = []
        public var configs: [ConfigEntry] = []

        public init() {}

        public init(
            name: String, numPartitions: Int32 = -1, replicationFactor: Int16 = -1,
            assignments: [Assignment] = [], configs: [ConfigEntry] = []
        ) {
            self.name = name
            self.numPartitions = numPartitions
            self.replicationFactor = replicationFactor
            self.assignments = assignments
            self.configs = configs
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.string(&name, "name")
            try coder.int32(&numPartitions, "num_partitions")
            try coder.int16(&replicationFactor, "replication_factor")
            try coder.array(&assignments, "assignments")
            try coder.array(&configs, "configs")
        }
    }

    public var topics: [Topic] = []
    public var timeoutMs: Int32 = 60_000
    /// v1+.
    public var validateOnly = false

    public init() {}

    public init(topics: [Topic], timeoutMs: Int32 = 60_000, validateOnly: Bool = false) {
        self.topics = topics
        self.timeoutMs = timeoutMs
        self.validateOnly = validateOnly
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.array(&topics, "topics")
        try coder.int32(&timeoutMs, "timeout_ms")
        if coder.version >= 1 { try coder.bool(&validateOnly, "validate_only") }
    }
}

/// CreateTopics (key 19) response, v0–v4. Throttle time is the first field (v2+).
public struct CreateTopicsResponse: KafkaResponse {
    public static var apiKey: ApiKey { .createTopics }

    /// One topic's outcome.
    public struct Result: ProtocolValue {
        public var name = ""
        public var errorCode = KafkaErrorCode.noError
        /// v1+.
        public var errorMessage: String?

        public init() {}

        public init(name: String, errorCode: KafkaErrorCode = .noError, errorMessage: String? = nil) {
            self.name = name
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.string(&name, "name")
            try coder.errorCode(&errorCode, "error_code")
            if coder.version >= 1 { try coder.nullableString(&errorMessage, "error_message") }
        }
    }

    /// v2+.
    public var throttleTimeMs: Int32 = 0
    public var topics: [Result] = []

    public init() {}

    public init(throttleTimeMs: Int32 = 0, topics: [Result]) {
        self.throttleTimeMs = throttleTimeMs
        self.topics = topics
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 2 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        try coder.array(&topics, "topics")
    }
}

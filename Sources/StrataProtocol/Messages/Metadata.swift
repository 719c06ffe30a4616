/// Metadata (key 3) request, v0–v8.
///
/// ``topics`` is nil for "all topics" in every version: on the wire that is an empty array in v0 and a null
/// array in v1+ (where an empty array means "no topics"). Encoding `[]` at v0 therefore also asks for all.
public struct MetadataRequest: KafkaRequest {
    public typealias Response = MetadataResponse
    public static var apiKey: ApiKey { .metadata }

    /// Topic names; nil = all topics.
    public var topics: [String]?
    /// v4+; earlier versions always auto-create.
    public var allowAutoTopicCreation = true
    /// v8 (to v10).
    public var includeClusterAuthorizedOperations = false
    /// v8+.
    public var includeTopicAuthorizedOperations = false

    public init() {}

    public init(
        topics: [String]?, allowAutoTopicCreation: Bool = true,
        includeClusterAuthorizedOperations: Bool = false, includeTopicAuthorizedOperations: Bool = false
    ) {
        self.topics = topics
        self.allowAutoTopicCreation = allowAutoTopicCreation
        self.includeClusterAuthorizedOperations = includeClusterAuthorizedOperations
        self.includeTopicAuthorizedOperations = includeTopicAuthorizedOperations
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.array(&topics, "topics", nullableSince: 1)
        if coder.version == 0, coder.isDecoding, topics?.isEmpty == true { topics = nil }
        if coder.version >= 4 { try coder.bool(&allowAutoTopicCreation, "allow_auto_topic_creation") }
        if coder.version >= 8 {
            try coder.bool(&includeClusterAuthorizedOperations, "include_cluster_authorized_operations")
            try coder.bool(&includeTopicAuthorizedOperations, "include_topic_authorized_operations")
        }
    }
}

/// Metadata (key 3) response, v0–v8. Throttle time is the first field (v3+).
public struct MetadataResponse: KafkaResponse {
    public static var apiKey: ApiKey { .metadata }

    /// "Authorized operations not requested" marker for the `*_authorized_operations` fields.
    public static let authorizedOperationsOmitted = Int32.min

    /// A broker's advertised address.
    public struct Broker: ProtocolValue {
        public var nodeId: Int32 = 0
        public var host = ""
        public var port: Int32 = 0
        /// v1+.
        public var rack: String?

        public init() {}

        public init(nodeId: Int32, host: String, port: Int32, rack: String? = nil) {
            self.nodeId = nodeId
            self.host = host
            self.port = port
            self.rack = rack
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int32(&nodeId, "node_id")
            try coder.string(&host, "host")
            try coder.int32(&port, "port")
            if coder.version >= 1 { try coder.nullableString(&rack, "rack") }
        }
    }

    /// One partition's leadership.
    public struct Partition: ProtocolValue {
        public var errorCode = KafkaErrorCode.noError
        public var partitionIndex: Int32 = 0
        public var leaderId: Int32 = 0
        /// v7+.
        public var leaderEpoch: Int32 = -1
        public var replicaNodes: [Int32] = []
        public var isrNodes: [Int32] = []
        /// v5+.
        public var offlineReplicas: [Int32] = []

        public init() {}

        public init(
            errorCode: KafkaErrorCode = .noError, partitionIndex: Int32, leaderId: Int32,
            leaderEpoch: Int32 = -1, replicaNodes: [Int32], isrNodes: [Int32], offlineReplicas: [Int32] = []
        ) {
            self.errorCode = errorCode
            self.partitionIndex = partitionIndex
            self.leaderId = leaderId
            self.leaderEpoch = leaderEpoch
            self.replicaNodes = replicaNodes
            self.isrNodes = isrNodes
            self.offlineReplicas = offlineReplicas
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.errorCode(&errorCode, "error_code")
            try coder.int32(&partitionIndex, "partition_index")
            try coder.int32(&leaderId, "leader_id")
            if coder.version >= 7 { try coder.int32(&leaderEpoch, "leader_epoch") }
            try coder.array(&replicaNodes, "replica_nodes")
            try coder.array(&isrNodes, "isr_nodes")
            if coder.version >= 5 { try coder.array(&offlineReplicas, "offline_replicas") }
        }
    }

    /// One topic and its partitions.
    public struct Topic: ProtocolValue {
        public var errorCode = KafkaErrorCode.noError
        public var name = ""
        /// v1+.
        public var isInternal = false
        public var partitions: [Partition] = []
        /// v8+.
        public var topicAuthorizedOperations = MetadataResponse.authorizedOperationsOmitted

        public init() {}

        public init(
            errorCode: KafkaErrorCode = .noError, name: String, isInternal: Bool = false,
            partitions: [Partition],
            topicAuthorizedOperations: Int32 = MetadataResponse.authorizedOperationsOmitted
        ) {
            self.errorCode = errorCode
            self.name = name
            self.isInternal = isInternal
            self.partitions = partitions
            self.topicAuthorizedOperations = topicAuthorizedOperations
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.errorCode(&errorCode, "error_code")
            try coder.string(&name, "name")
            if coder.version >= 1 { try coder.bool(&isInternal, "is_internal") }
            try coder.array(&partitions, "partitions")
            if coder.version >= 8 { try coder.int32(&topicAuthorizedOperations, "topic_authorized_operations") }
        }
    }

    /// v3+.
    public var throttleTimeMs: Int32 = 0
    public var brokers: [Broker] = []
    /// v2+.
    public var clusterId: String?
    /// v1+. Must be a real node id (a −1 controller makes Java admin clients loop).
    public var controllerId: Int32 = -1
    public var topics: [Topic] = []
    /// v8.
    public var clusterAuthorizedOperations = MetadataResponse.authorizedOperationsOmitted

    public init() {}

    public init(
        throttleTimeMs: Int32 = 0, brokers: [Broker], clusterId: String?, controllerId: Int32,
        topics: [Topic], clusterAuthorizedOperations: Int32 = MetadataResponse.authorizedOperationsOmitted
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.brokers = brokers
        self.clusterId = clusterId
        self.controllerId = controllerId
        self.topics = topics
        self.clusterAuthorizedOperations = clusterAuthorizedOperations
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        if coder.version >= 3 { try coder.int32(&throttleTimeMs, "throttle_time_ms") }
        try coder.array(&brokers, "brokers")
        if coder.version >= 2 { try coder.nullableString(&clusterId, "cluster_id") }
        if coder.version >= 1 { try coder.int32(&controllerId, "controller_id") }
        try coder.array(&topics, "topics")
        if coder.version >= 8 { try coder.int32(&clusterAuthorizedOperations, "cluster_authorized_operations") }
    }
}

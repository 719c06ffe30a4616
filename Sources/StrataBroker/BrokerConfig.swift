import StrataStorage

/// Broker settings, named and defaulted as Kafka's server properties where one exists.
public struct BrokerConfig: Sendable {
    /// Address to listen on (`listeners`), default 0.0.0.0:9092. Port 0 picks a free port.
    public var listenHost = "0.0.0.0"
    public var listenPort = 9092
    /// Address clients are told to connect to (`advertised.listeners`). nil: derived from the listen
    /// address (0.0.0.0 becomes the machine's hostname-independent `localhost`).
    public var advertisedHost: String?
    public var advertisedPort: Int?
    /// `node.id`.
    public var nodeId: Int32 = 0
    /// `num.partitions` for auto-created topics.
    public var numPartitions: Int32 = 1
    /// Most partitions one topic may have (`strata.topic.partitions.max`): each holds open files and
    /// maps, so a CreateTopics asking for millions is refused with INVALID_PARTITIONS, not attempted.
    public var partitionsPerTopicMax: Int32 = 10_000
    /// `connections.max.idle.ms`: a connection with no bytes read or written for this long is closed
    /// (Kafka's default, 10 minutes). -1 never closes idle connections.
    public var connectionsMaxIdleMilliseconds: Int64 = 600_000
    /// `auto.create.topics.enable`.
    public var autoCreateTopics = true
    /// `socket.request.max.bytes`: larger frames close the connection.
    public var socketRequestMaxBytes = 104_857_600
    /// Longest a Fetch may wait (`fetchWaitMillisecondsMax`); clients ask for 500 ms by default.
    public var fetchWaitMillisecondsMax: Int32 = 30_000
    /// The cleaner thread's settings (`log.cleaner.*`, `log.retention.check.interval.ms`).
    public var cleaner = CleanerConfig()
    /// Defaults for every topic's log (`log.segment.bytes`, `message.max.bytes`, flush settings…).
    public var logDefaults = LogConfig()
    /// The group coordinator's settings (`group.*`, `offsets.*`).
    public var groups = GroupCoordinatorConfig()

    public init() {}

    /// Host and port put in Metadata and FindCoordinator answers.
    public func advertisedAddress(boundPort: Int) -> (host: String, port: Int) {
        let host = advertisedHost ?? (listenHost == "0.0.0.0" || listenHost == "::" ? "localhost" : listenHost)
        return (host, advertisedPort ?? boundPort)
    }

    /// Applies one Kafka-named server setting; topic-level `log.*` names map onto `logDefaults`.
    public mutating func set(_ key: String, _ value: String) throws(StorageError) {
        func int(_ minimum: Int64) throws(StorageError) -> Int64 {
            guard let parsed = Int64(value), parsed >= minimum else {
                throw .invalidConfig(key: key, value: value, reason: "expected an integer ≥ \(minimum)")
            }
            return parsed
        }
        switch key {
        case "node.id", "broker.id": nodeId = Int32(clamping: try int(0))
        case "num.partitions": numPartitions = Int32(clamping: try int(1))
        case "auto.create.topics.enable":
            guard value == "true" || value == "false" else {
                throw .invalidConfig(key: key, value: value, reason: "expected true or false")
            }
            autoCreateTopics = value == "true"
        case "strata.topic.partitions.max": partitionsPerTopicMax = Int32(clamping: try int(1))
        case "connections.max.idle.ms":
            let milliseconds = try int(-1)
            guard milliseconds != 0 else { throw .invalidConfig(key: key, value: value, reason: "0 is not a timeout") }
            connectionsMaxIdleMilliseconds = milliseconds
        case "socket.request.max.bytes": socketRequestMaxBytes = Int(try int(1024))
        case "message.max.bytes": try logDefaults.set("max.message.bytes", value)
        case "log.segment.bytes": try logDefaults.set("segment.bytes", value)
        case "log.roll.ms": try logDefaults.set("segment.ms", value)
        case "log.roll.hours": try logDefaults.set("segment.ms", String(try int(1) * 3_600_000))
        case "log.index.interval.bytes": try logDefaults.set("index.interval.bytes", value)
        case "log.index.size.max.bytes": try logDefaults.set("segment.index.bytes", value)
        case "log.flush.interval.messages": try logDefaults.set("flush.messages", value)
        case "log.flush.interval.ms": try logDefaults.set("flush.ms", value)
        case "log.retention.ms": try logDefaults.set("retention.ms", value)
        case "log.retention.minutes": try logDefaults.set("retention.ms", String(try int(-1) * 60_000))
        case "log.retention.hours": try logDefaults.set("retention.ms", String(try int(-1) * 3_600_000))
        case "log.retention.bytes": try logDefaults.set("retention.bytes", value)
        case "log.cleanup.policy": try logDefaults.set("cleanup.policy", value)
        case "log.cleaner.enable":
            guard value == "true" || value == "false" else {
                throw .invalidConfig(key: key, value: value, reason: "expected true or false")
            }
            cleaner.enabled = value == "true"
        case "log.retention.check.interval.ms": cleaner.retentionCheckIntervalMilliseconds = try int(1)
        case "log.cleaner.backoff.ms": cleaner.backoffMilliseconds = try int(0)
        case "log.cleaner.dedupe.buffer.size": cleaner.dedupeBufferBytes = Int(try int(1 << 16))
        case "log.cleaner.threads":
            guard try int(1) == 1 else { throw .invalidConfig(key: key, value: value, reason: "only 1 is supported") }
        case "log.cleaner.delete.retention.ms": try logDefaults.set("delete.retention.ms", value)
        case "log.cleaner.min.cleanable.ratio": try logDefaults.set("min.cleanable.dirty.ratio", value)
        case "log.cleaner.min.compaction.lag.ms": try logDefaults.set("min.compaction.lag.ms", value)
        case "log.cleaner.max.compaction.lag.ms": try logDefaults.set("max.compaction.lag.ms", value)
        case "log.segment.delete.delay.ms": try logDefaults.set("file.delete.delay.ms", value)
        case "log.message.timestamp.type": try logDefaults.set("message.timestamp.type", value)
        case "group.initial.rebalance.delay.ms": groups.initialRebalanceDelayMilliseconds = try int(0)
        case "group.min.session.timeout.ms": groups.sessionTimeoutMillisecondsMin = Int32(clamping: try int(1))
        case "group.max.session.timeout.ms": groups.sessionTimeoutMillisecondsMax = Int32(clamping: try int(1))
        case "group.max.size": groups.membersPerGroupMax = Int(try int(1))
        case "offsets.retention.minutes":
            let minutes = try int(1)
            guard minutes <= Int64.max / 60_000 else {
                throw .invalidConfig(key: key, value: value, reason: "too large")
            }
            groups.offsetsRetentionMilliseconds = minutes * 60_000
        case "offsets.topic.replication.factor":
            _ = try int(1)  // a single node has one replica whatever is asked (Kafka quickstarts set 1)
        case "offsets.retention.check.interval.ms": groups.offsetsRetentionCheckIntervalMilliseconds = try int(1)
        case "offsets.topic.num.partitions": groups.offsetsTopicPartitions = Int32(clamping: try int(1))
        case "offset.metadata.max.bytes": groups.offsetMetadataBytesMax = Int(try int(0))
        case "offsets.topic.segment.bytes":
            _ = try LogConfig(overrides: ["segment.bytes": value])
            groups.offsetsTopicSegmentBytes = Int(try int(14))
        default:
            if LogConfig.knownKeys.contains(key) {
                try logDefaults.set(key, value)
            } else {
                throw .invalidConfig(key: key, value: value, reason: "unknown setting")
            }
        }
    }
}

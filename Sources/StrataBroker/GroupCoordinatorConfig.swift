/// Settings of the group coordinator, named and defaulted as Kafka's (`BrokerConfig.set` maps the
/// Kafka names onto these fields).
///
/// | field | Kafka setting | default |
/// |---|---|---|
/// | `initialRebalanceDelayMilliseconds` | `group.initial.rebalance.delay.ms` | 3000 |
/// | `sessionTimeoutMillisecondsMin` | `group.min.session.timeout.ms` | 6000 |
/// | `sessionTimeoutMillisecondsMax` | `group.max.session.timeout.ms` | 1800000 |
/// | `membersPerGroupMax` | `group.max.size` | 10000 (Kafka: unbounded) |
/// | `offsetsRetentionMilliseconds` | `offsets.retention.minutes` × 60000 | 7 days |
/// | `offsetsRetentionCheckIntervalMilliseconds` | `offsets.retention.check.interval.ms` | 600000 |
/// | `offsetsTopicPartitions` | `offsets.topic.num.partitions` | 50 |
/// | `offsetMetadataBytesMax` | `offset.metadata.max.bytes` | 4096 |
/// | `offsetsTopicSegmentBytes` | `offsets.topic.segment.bytes` | 104857600 |
public struct GroupCoordinatorConfig: Sendable, Equatable {
    /// Delay of the first rebalance of an empty group, so that members starting together join one
    /// generation. 0 disables it.
    public var initialRebalanceDelayMilliseconds: Int64 = 3000
    /// Smallest session timeout a JoinGroup may ask for (else INVALID_SESSION_TIMEOUT).
    public var sessionTimeoutMillisecondsMin: Int32 = 6000
    /// Largest session timeout a JoinGroup may ask for (else INVALID_SESSION_TIMEOUT).
    public var sessionTimeoutMillisecondsMax: Int32 = 1_800_000
    /// Members (plus members still to confirm their id) per group (else GROUP_MAX_SIZE_REACHED).
    public var membersPerGroupMax = 10_000
    /// How long the offsets of an empty group are kept (counted from when it became empty).
    public var offsetsRetentionMilliseconds: Int64 = 7 * 24 * 3_600_000
    /// How often expired offsets are looked for.
    public var offsetsRetentionCheckIntervalMilliseconds: Int64 = 600_000
    /// Partitions of `__consumer_offsets` when the coordinator creates it (never changed afterwards).
    public var offsetsTopicPartitions: Int32 = 50
    /// Longest commit metadata string (else OFFSET_METADATA_TOO_LARGE).
    public var offsetMetadataBytesMax = 4096
    /// `segment.bytes` of `__consumer_offsets` when the coordinator creates it. The active segment
    /// is never compacted, so this bounds how much superseded commits the topic can hold.
    public var offsetsTopicSegmentBytes = 104_857_600

    public init() {}
}

import Foundation

/// Per-partition log settings, named and defaulted as Kafka's topic configs.
///
/// Values parse from Kafka's setting names (`segment.bytes`, `flush.ms`, …) via
/// `init(overrides:defaults:)`; unknown names are rejected with `StorageError.invalidConfig`.
public struct LogConfig: Sendable, Equatable {
    /// Roll the active segment when it would exceed this size (`segment.bytes`, 1 GiB).
    public var segmentBytes: Int = 1 << 30
    /// Roll after this long (`segment.ms`, 7 days).
    public var segmentMilliseconds: Int64 = 7 * 24 * 3_600_000
    /// Bytes between sparse index entries (`index.interval.bytes`, 4096).
    public var indexIntervalBytes: Int = 4096
    /// Preallocated size of each index file (`segment.index.bytes`, 10 MiB).
    public var segmentIndexBytes: Int = 10 << 20
    /// Largest batch accepted (`max.message.bytes`, 1048588).
    public var maxMessageBytes: Int = 1_048_588
    /// fsync after this many messages (`flush.messages`, never).
    public var flushMessages: Int64 = Int64.max
    /// fsync at least this often (`flush.ms`; Strata defaults to 1000, Kafka to never).
    public var flushMilliseconds: Int64 = 1000
    /// Delete segments older than this (`retention.ms`, 7 days; -1 = forever).
    public var retentionMilliseconds: Int64 = 7 * 24 * 3_600_000
    /// Delete oldest segments while the log is larger (`retention.bytes`, -1 = no limit).
    public var retentionBytes: Int64 = -1
    /// `delete`, `compact`, or both (`cleanup.policy`).
    public var cleanupPolicy: Set<String> = ["delete"]
    /// How long tombstones survive compaction (`delete.retention.ms`, 1 day).
    public var deleteRetentionMilliseconds: Int64 = 24 * 3_600_000
    /// `min.cleanable.dirty.ratio` (0.5).
    public var minCleanableDirtyRatio: Double = 0.5
    /// `min.compaction.lag.ms` (0).
    public var minCompactionLagMilliseconds: Int64 = 0
    /// `max.compaction.lag.ms` (∞).
    public var maxCompactionLagMilliseconds: Int64 = Int64.max
    /// `file.delete.delay.ms` (60 s).
    public var fileDeleteDelayMilliseconds: Int64 = 60_000
    /// `message.timestamp.type`: CreateTime or LogAppendTime.
    public var messageTimestampType: String = "CreateTime"

    /// `compression.type`: always `producer` (batches are stored as sent, never recompressed).
    public var compressionType = "producer"

    public init() {}

    /// Topic-level config names this struct understands.
    public static let knownKeys: Set<String> = [
        "segment.bytes", "segment.ms", "index.interval.bytes", "segment.index.bytes", "max.message.bytes",
        "flush.messages", "flush.ms", "retention.ms", "retention.bytes", "cleanup.policy", "delete.retention.ms",
        "min.cleanable.dirty.ratio", "min.compaction.lag.ms", "max.compaction.lag.ms", "file.delete.delay.ms",
        "message.timestamp.type", "compression.type", "segment.jitter.ms", "preallocate",
        "message.timestamp.difference.max.ms", "min.insync.replicas", "unclean.leader.election.enable",
    ]

    /// `defaults` with `overrides` (Kafka names → string values) applied.
    public init(overrides: [String: String], defaults: LogConfig = LogConfig()) throws(StorageError) {
        self = defaults
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) { try set(key, value) }
    }

    /// Applies one Kafka-named setting.
    public mutating func set(_ key: String, _ value: String) throws(StorageError) {
        func int(_ minimum: Int64) throws(StorageError) -> Int64 {
            guard let parsed = Int64(value.trimmingCharacters(in: .whitespaces)), parsed >= minimum else {
                throw .invalidConfig(key: key, value: value, reason: "expected an integer ≥ \(minimum)")
            }
            return parsed
        }
        switch key {
        case "segment.bytes":
            segmentBytes = Int(try int(14))
            guard segmentBytes <= Int(Int32.max) else {
                throw .invalidConfig(key: key, value: value, reason: "must fit 32-bit positions")
            }
        case "segment.ms": segmentMilliseconds = try int(1)
        case "index.interval.bytes": indexIntervalBytes = Int(try int(0))
        case "segment.index.bytes": segmentIndexBytes = Int(try int(12))
        case "max.message.bytes": maxMessageBytes = Int(try int(0))
        case "flush.messages": flushMessages = try int(1)
        case "flush.ms": flushMilliseconds = try int(0)
        case "retention.ms": retentionMilliseconds = try int(-1)
        case "retention.bytes": retentionBytes = try int(-1)
        case "delete.retention.ms": deleteRetentionMilliseconds = try int(0)
        case "min.compaction.lag.ms": minCompactionLagMilliseconds = try int(0)
        case "max.compaction.lag.ms": maxCompactionLagMilliseconds = try int(1)
        case "file.delete.delay.ms": fileDeleteDelayMilliseconds = try int(0)
        case "min.cleanable.dirty.ratio":
            guard let ratio = Double(value), ratio >= 0, ratio <= 1 else {
                throw .invalidConfig(key: key, value: value, reason: "expected a number in [0, 1]")
            }
            minCleanableDirtyRatio = ratio
        case "cleanup.policy":
            let policies = Set(value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            guard !policies.isEmpty, policies.isSubset(of: ["delete", "compact"]) else {
                throw .invalidConfig(key: key, value: value, reason: "expected delete, compact or both")
            }
            cleanupPolicy = policies
        case "message.timestamp.type":
            guard value == "CreateTime" || value == "LogAppendTime" else {
                throw .invalidConfig(key: key, value: value, reason: "expected CreateTime or LogAppendTime")
            }
            messageTimestampType = value
        case "compression.type":
            guard value == "producer" else {
                throw .invalidConfig(
                    key: key, value: value,
                    reason: "only 'producer' is supported: batches are stored exactly as producers compressed them")
            }
            compressionType = value
        case _ where Self.knownKeys.contains(key):
            break  // accepted for compatibility, no effect on a single node
        default:
            throw .invalidConfig(key: key, value: value, reason: "unknown topic config")
        }
    }

    /// Whether keyed compaction applies.
    public var isCompacted: Bool { cleanupPolicy.contains("compact") }
}

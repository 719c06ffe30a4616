import NIOCore
import StrataProtocol
import StrataRecords
import StrataStorage

/// The internal `__consumer_offsets` topic: which partition holds a group, the topic's settings, and
/// the record batches the coordinator writes and replays (keys and values use Kafka's schemas via
/// `GroupCoordinatorRecord`, see reference §6.3). Stateless.
enum OffsetsTopic {
    static let name = "__consumer_offsets"

    /// Topic-level settings (reference §6.1): compacted, 100 MiB segments.
    static func configOverrides(segmentBytes: Int) -> [String: String] {
        ["cleanup.policy": "compact", "segment.bytes": "\(segmentBytes)"]
    }

    /// OffsetCommitValue version written (Kafka 4's default; v1 when the commit had a retention time).
    static let offsetCommitValueVersion: Int16 = 3
    /// GroupMetadataValue version written.
    static let groupMetadataValueVersion: Int16 = 3

    /// Bytes read per step while replaying a partition (Kafka's `offsets.load.buffer.size`).
    static let loadChunkBytes = 5 << 20

    /// Java's `String.hashCode` over UTF-16 code units (int32 wrap-around).
    static func javaHashCode(_ text: String) -> Int32 {
        var hash: Int32 = 0
        for unit in text.utf16 { hash = 31 &* hash &+ Int32(unit) }
        return hash
    }

    /// `Utils.abs(groupId.hashCode()) % partitions` (`Utils.abs(Int.min)` is 0).
    static func partition(for groupId: String, partitions: Int32) -> Int32 {
        precondition(partitions > 0)
        let hash = javaHashCode(groupId)
        return (hash == .min ? 0 : abs(hash)) % partitions
    }

    /// One key/value pair to append; a nil value is a tombstone.
    struct Entry: Sendable {
        var key: ByteBuffer
        var value: ByteBuffer?
    }

    static func offsetCommit(group: String, partition: TopicPartition, _ committed: CommittedOffset) -> Entry {
        let key = GroupCoordinatorRecord.encode(
            key: .offsetCommit(
                OffsetCommitKey(group: group, topic: partition.topic, partition: partition.partition), type: 1))
        let fields = OffsetCommitValue(
            offset: committed.offset, leaderEpoch: committed.leaderEpoch,
            metadata: committed.metadata, commitTimestamp: committed.commitTimestamp,
            expireTimestamp: committed.expireTimestamp ?? -1)
        let version: Int16 = committed.expireTimestamp == nil ? offsetCommitValueVersion : 1
        return Entry(key: key, value: GroupCoordinatorRecord.encode(value: .offsetCommit(fields, version: version)))
    }

    static func offsetTombstone(group: String, partition: TopicPartition) -> Entry {
        Entry(
            key: GroupCoordinatorRecord.encode(
                key: .offsetCommit(
                    OffsetCommitKey(group: group, topic: partition.topic, partition: partition.partition), type: 1)),
            value: nil)
    }

    static func groupMetadata(group: String, _ value: GroupMetadataValue) -> Entry {
        Entry(
            key: GroupCoordinatorRecord.encode(key: .groupMetadata(GroupMetadataKey(group: group))),
            value: GroupCoordinatorRecord.encode(value: .groupMetadata(value, version: groupMetadataValueVersion)))
    }

    static func groupTombstone(group: String) -> Entry {
        Entry(key: GroupCoordinatorRecord.encode(key: .groupMetadata(GroupMetadataKey(group: group))), value: nil)
    }

    /// One uncompressed batch holding `entries` in order. Precondition: at least one entry.
    static func batch(_ entries: [Entry], timestamp: Int64) throws(RecordsError) -> RecordBatch {
        var builder = RecordBatchBuilder(
            capacity: entries.reduce(64) {
                $0 + $1.key.readableBytes + ($1.value?.readableBytes ?? 0) + 16
            })
        for entry in entries { builder.append(key: entry.key, value: entry.value, timestamp: timestamp) }
        return try RecordBatch(buffer: try builder.build())
    }

    /// What a replay learned about one group.
    struct LoadedGroup: Sendable {
        var metadata: GroupMetadataValue?
        var offsets: [TopicPartition: CommittedOffset] = [:]
    }

    /// Applies one record to the replay state (last write wins, a tombstone deletes). Records with
    /// key types this coordinator does not model (KIP-848 and later groups) are skipped.
    static func replay(
        key: ByteBuffer, value: ByteBuffer?, into groups: inout [String: LoadedGroup]
    )
        throws(ProtocolError)
    {
        let decodedKey = try GroupCoordinatorRecord.decodeKey(key)
        switch decodedKey {
        case .offsetCommit(let commitKey, _):
            let partition = TopicPartition(commitKey.topic, commitKey.partition)
            guard
                case .offsetCommit(let fields, let version)? = try GroupCoordinatorRecord.decodeValue(
                    value,
                    key: decodedKey)
            else {
                groups[commitKey.group]?.offsets[partition] = nil
                return
            }
            groups[commitKey.group, default: LoadedGroup()].offsets[partition] = CommittedOffset(
                offset: fields.offset, leaderEpoch: fields.leaderEpoch, metadata: fields.metadata,
                commitTimestamp: fields.commitTimestamp,
                expireTimestamp: version == 1 && fields.expireTimestamp >= 0 ? fields.expireTimestamp : nil)
        case .groupMetadata(let groupKey):
            guard case .groupMetadata(let fields, _)? = try GroupCoordinatorRecord.decodeValue(value, key: decodedKey)
            else {
                groups[groupKey.group]?.metadata = nil
                return
            }
            groups[groupKey.group, default: LoadedGroup()].metadata = fields
        case .unsupported:
            return
        }
    }
}

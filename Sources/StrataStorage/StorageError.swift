import StrataRecords

#if canImport(Glibc)
import Glibc
#endif

/// Every storage failure, naming the file, offset or byte position involved and the errno where
/// there is one. The broker maps these to Kafka error codes in one table.
public enum StorageError: Error, Sendable, CustomStringConvertible, Equatable {
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// A batch handed to `append` is invalid (CRC, magic, lengths, counts) — nothing was written.
    case invalidBatch(partition: String, reason: RecordsError)
    /// A batch exceeds `max.message.bytes`.
    case batchTooLarge(partition: String, size: Int, limit: Int)
    /// The batch is a control batch, or has a non-zero baseOffset from a producer, etc.
    case invalidRecord(partition: String, reason: String)
    /// Requested offset outside [logStartOffset, logEndOffset].
    case offsetOutOfRange(partition: String, offset: Int64, logStartOffset: Int64, logEndOffset: Int64)
    /// Bytes on disk that cannot be a batch (found while reading, not during recovery).
    case corruptSegment(path: String, position: Int, reason: String)
    /// An earlier write or fsync failed; the log refuses further appends until reopened.
    case logFailed(partition: String, cause: String)
    /// The log was closed.
    case closed(partition: String)
    /// A topic or partition name that Kafka would refuse.
    case invalidTopicName(name: String, reason: String)
    case topicAlreadyExists(String)
    case unknownTopicOrPartition(topic: String, partition: Int32?)
    case invalidConfig(key: String, value: String, reason: String)
    /// A data-directory file (meta.properties, checkpoint, topic.json) is unreadable.
    case corruptMetadata(path: String, reason: String)

    public var description: String {
        switch self {
        case let .io(operation, path, code):
            return "\(operation) \(path) failed: \(String(cString: strerror(code))) (errno \(code))"
        case let .invalidBatch(partition, reason):
            return "invalid batch for \(partition): \(reason)"
        case let .batchTooLarge(partition, size, limit):
            return "batch of \(size) bytes for \(partition) exceeds max.message.bytes \(limit)"
        case let .invalidRecord(partition, reason):
            return "invalid record for \(partition): \(reason)"
        case let .offsetOutOfRange(partition, offset, start, end):
            return "offset \(offset) out of range for \(partition) (log start \(start), log end \(end))"
        case let .corruptSegment(path, position, reason):
            return "corrupt segment \(path) at byte \(position): \(reason)"
        case let .logFailed(partition, cause):
            return "log \(partition) is failed and read-only until reopened: \(cause)"
        case let .closed(partition):
            return "log \(partition) is closed"
        case let .invalidTopicName(name, reason):
            return "invalid topic name '\(name)': \(reason)"
        case let .topicAlreadyExists(name):
            return "topic '\(name)' already exists"
        case let .unknownTopicOrPartition(topic, partition):
            return "unknown topic or partition \(topic)\(partition.map { "-\($0)" } ?? "")"
        case let .invalidConfig(key, value, reason):
            return "invalid config \(key)=\(value): \(reason)"
        case let .corruptMetadata(path, reason):
            return "corrupt metadata file \(path): \(reason)"
        }
    }
}

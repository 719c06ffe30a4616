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
        case .io(let operation, let path, let code):
            return "\(operation) \(path) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .invalidBatch(let partition, let reason):
            return "invalid batch for \(partition): \(reason)"
        case .batchTooLarge(let partition, let size, let limit):
            return "batch of \(size) bytes for \(partition) exceeds max.message.bytes \(limit)"
        case .invalidRecord(let partition, let reason):
            return "invalid record for \(partition): \(reason)"
        case .offsetOutOfRange(let partition, let offset, let start, let end):
            return "offset \(offset) out of range for \(partition) (log start \(start), log end \(end))"
        case .corruptSegment(let path, let position, let reason):
            return "corrupt segment \(path) at byte \(position): \(reason)"
        case .logFailed(let partition, let cause):
            return "log \(partition) is failed and read-only until reopened: \(cause)"
        case .closed(let partition):
            return "log \(partition) is closed"
        case .invalidTopicName(let name, let reason):
            return "invalid topic name '\(name)': \(reason)"
        case .topicAlreadyExists(let name):
            return "topic '\(name)' already exists"
        case .unknownTopicOrPartition(let topic, let partition):
            return "unknown topic or partition \(topic)\(partition.map { "-\($0)" } ?? "")"
        case .invalidConfig(let key, let value, let reason):
            return "invalid config \(key)=\(value): \(reason)"
        case .corruptMetadata(let path, let reason):
            return "corrupt metadata file \(path): \(reason)"
        }
    }
}

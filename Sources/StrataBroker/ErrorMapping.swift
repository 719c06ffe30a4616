import StrataProtocol
import StrataRecords
import StrataStorage

/// The one table from storage and record errors to Kafka error codes (STYLE: map at the broker
/// boundary, exactly once).
enum ErrorMapping {
    static func code(for error: StorageError) -> KafkaErrorCode {
        switch error {
        case .io: return .kafkaStorageError
        case .invalidBatch(_, let reason): return code(for: reason)
        case .batchTooLarge: return .messageTooLarge
        case .invalidRecord: return .invalidRecord
        case .offsetOutOfRange: return .offsetOutOfRange
        case .corruptSegment: return .kafkaStorageError
        case .logFailed: return .kafkaStorageError
        case .closed: return .notLeaderOrFollower
        case .invalidTopicName: return .invalidTopicException
        case .topicAlreadyExists: return .topicAlreadyExists
        case .unknownTopicOrPartition: return .unknownTopicOrPartition
        case .invalidConfig: return .invalidConfig
        case .corruptMetadata: return .kafkaStorageError
        }
    }

    /// A failed `__consumer_offsets` append or fsync as the group APIs report it (Kafka's
    /// `GroupMetadataManager` mapping: retriable coordinator errors, or a too-large commit).
    static func coordinatorCode(for error: StorageError) -> KafkaErrorCode {
        switch error {
        case .batchTooLarge: return .invalidCommitOffsetSize
        case .closed: return .notCoordinator
        case .unknownTopicOrPartition, .io, .logFailed, .corruptSegment, .corruptMetadata:
            return .coordinatorNotAvailable
        case .invalidBatch, .invalidRecord, .offsetOutOfRange, .invalidTopicName, .topicAlreadyExists, .invalidConfig:
            return .unknownServerError
        }
    }

    static func code(for error: RecordsError) -> KafkaErrorCode {
        switch error {
        case .crcMismatch, .truncated, .invalidBatchLength, .malformedRecord, .lz4: return .corruptMessage
        case .unsupportedMagic: return .unsupportedForMessageFormat
        case .invalidRecordCount, .invalidBaseOffset: return .invalidRecord
        case .unsupportedCompression: return .unsupportedCompressionType
        }
    }
}

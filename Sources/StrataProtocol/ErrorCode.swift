/// A Kafka error code (`Errors.java`), as carried in `error_code` fields.
///
/// A struct rather than a closed enum so that codes newer than this build (from a newer broker, seen by
/// the client) decode and round-trip unchanged; the known codes read like enum cases (`.unknownTopicOrPartition`)
/// and work in `switch` patterns. `.noError` is Kafka's `NONE` (0).
public struct KafkaErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int16

    public init(rawValue: Int16) { self.rawValue = rawValue }

    public static let unknownServerError = KafkaErrorCode(rawValue: -1)
    public static let noError = KafkaErrorCode(rawValue: 0)
    public static let offsetOutOfRange = KafkaErrorCode(rawValue: 1)
    public static let corruptMessage = KafkaErrorCode(rawValue: 2)
    public static let unknownTopicOrPartition = KafkaErrorCode(rawValue: 3)
    public static let invalidFetchSize = KafkaErrorCode(rawValue: 4)
    public static let leaderNotAvailable = KafkaErrorCode(rawValue: 5)
    public static let notLeaderOrFollower = KafkaErrorCode(rawValue: 6)
    public static let requestTimedOut = KafkaErrorCode(rawValue: 7)
    public static let brokerNotAvailable = KafkaErrorCode(rawValue: 8)
    public static let replicaNotAvailable = KafkaErrorCode(rawValue: 9)
    public static let messageTooLarge = KafkaErrorCode(rawValue: 10)
    public static let staleControllerEpoch = KafkaErrorCode(rawValue: 11)
    public static let offsetMetadataTooLarge = KafkaErrorCode(rawValue: 12)
    public static let networkException = KafkaErrorCode(rawValue: 13)
    public static let coordinatorLoadInProgress = KafkaErrorCode(rawValue: 14)
    public static let coordinatorNotAvailable = KafkaErrorCode(rawValue: 15)
    public static let notCoordinator = KafkaErrorCode(rawValue: 16)
    public static let invalidTopicException = KafkaErrorCode(rawValue: 17)
    public static let recordListTooLarge = KafkaErrorCode(rawValue: 18)
    public static let notEnoughReplicas = KafkaErrorCode(rawValue: 19)
    public static let notEnoughReplicasAfterAppend = KafkaErrorCode(rawValue: 20)
    public static let invalidRequiredAcks = KafkaErrorCode(rawValue: 21)
    public static let illegalGeneration = KafkaErrorCode(rawValue: 22)
    public static let inconsistentGroupProtocol = KafkaErrorCode(rawValue: 23)
    public static let invalidGroupId = KafkaErrorCode(rawValue: 24)
    public static let unknownMemberId = KafkaErrorCode(rawValue: 25)
    public static let invalidSessionTimeout = KafkaErrorCode(rawValue: 26)
    public static let rebalanceInProgress = KafkaErrorCode(rawValue: 27)
    public static let invalidCommitOffsetSize = KafkaErrorCode(rawValue: 28)
    public static let topicAuthorizationFailed = KafkaErrorCode(rawValue: 29)
    public static let groupAuthorizationFailed = KafkaErrorCode(rawValue: 30)
    public static let clusterAuthorizationFailed = KafkaErrorCode(rawValue: 31)
    public static let invalidTimestamp = KafkaErrorCode(rawValue: 32)
    public static let unsupportedSaslMechanism = KafkaErrorCode(rawValue: 33)
    public static let illegalSaslState = KafkaErrorCode(rawValue: 34)
    public static let unsupportedVersion = KafkaErrorCode(rawValue: 35)
    public static let topicAlreadyExists = KafkaErrorCode(rawValue: 36)
    public static let invalidPartitions = KafkaErrorCode(rawValue: 37)
    public static let invalidReplicationFactor = KafkaErrorCode(rawValue: 38)
    public static let invalidReplicaAssignment = KafkaErrorCode(rawValue: 39)
    public static let invalidConfig = KafkaErrorCode(rawValue: 40)
    public static let notController = KafkaErrorCode(rawValue: 41)
    public static let invalidRequest = KafkaErrorCode(rawValue: 42)
    public static let unsupportedForMessageFormat = KafkaErrorCode(rawValue: 43)
    public static let policyViolation = KafkaErrorCode(rawValue: 44)
    public static let outOfOrderSequenceNumber = KafkaErrorCode(rawValue: 45)
    public static let duplicateSequenceNumber = KafkaErrorCode(rawValue: 46)
    public static let invalidProducerEpoch = KafkaErrorCode(rawValue: 47)
    public static let invalidTxnState = KafkaErrorCode(rawValue: 48)
    public static let invalidProducerIdMapping = KafkaErrorCode(rawValue: 49)
    public static let invalidTransactionTimeout = KafkaErrorCode(rawValue: 50)
    public static let concurrentTransactions = KafkaErrorCode(rawValue: 51)
    public static let transactionCoordinatorFenced = KafkaErrorCode(rawValue: 52)
    public static let transactionalIdAuthorizationFailed = KafkaErrorCode(rawValue: 53)
    public static let securityDisabled = KafkaErrorCode(rawValue: 54)
    public static let operationNotAttempted = KafkaErrorCode(rawValue: 55)
    public static let kafkaStorageError = KafkaErrorCode(rawValue: 56)
    public static let logDirNotFound = KafkaErrorCode(rawValue: 57)
    public static let saslAuthenticationFailed = KafkaErrorCode(rawValue: 58)
    public static let unknownProducerId = KafkaErrorCode(rawValue: 59)
    public static let reassignmentInProgress = KafkaErrorCode(rawValue: 60)
    public static let delegationTokenAuthDisabled = KafkaErrorCode(rawValue: 61)
    public static let delegationTokenNotFound = KafkaErrorCode(rawValue: 62)
    public static let delegationTokenOwnerMismatch = KafkaErrorCode(rawValue: 63)
    public static let delegationTokenRequestNotAllowed = KafkaErrorCode(rawValue: 64)
    public static let delegationTokenAuthorizationFailed = KafkaErrorCode(rawValue: 65)
    public static let delegationTokenExpired = KafkaErrorCode(rawValue: 66)
    public static let invalidPrincipalType = KafkaErrorCode(rawValue: 67)
    public static let nonEmptyGroup = KafkaErrorCode(rawValue: 68)
    public static let groupIdNotFound = KafkaErrorCode(rawValue: 69)
    public static let fetchSessionIdNotFound = KafkaErrorCode(rawValue: 70)
    public static let invalidFetchSessionEpoch = KafkaErrorCode(rawValue: 71)
    public static let listenerNotFound = KafkaErrorCode(rawValue: 72)
    public static let topicDeletionDisabled = KafkaErrorCode(rawValue: 73)
    public static let fencedLeaderEpoch = KafkaErrorCode(rawValue: 74)
    public static let unknownLeaderEpoch = KafkaErrorCode(rawValue: 75)
    public static let unsupportedCompressionType = KafkaErrorCode(rawValue: 76)
    public static let staleBrokerEpoch = KafkaErrorCode(rawValue: 77)
    public static let offsetNotAvailable = KafkaErrorCode(rawValue: 78)
    public static let memberIdRequired = KafkaErrorCode(rawValue: 79)
    public static let preferredLeaderNotAvailable = KafkaErrorCode(rawValue: 80)
    public static let groupMaxSizeReached = KafkaErrorCode(rawValue: 81)
    public static let fencedInstanceId = KafkaErrorCode(rawValue: 82)
    public static let eligibleLeadersNotAvailable = KafkaErrorCode(rawValue: 83)
    public static let electionNotNeeded = KafkaErrorCode(rawValue: 84)
    public static let noReassignmentInProgress = KafkaErrorCode(rawValue: 85)
    public static let groupSubscribedToTopic = KafkaErrorCode(rawValue: 86)
    public static let invalidRecord = KafkaErrorCode(rawValue: 87)
    public static let unstableOffsetCommit = KafkaErrorCode(rawValue: 88)
    public static let throttlingQuotaExceeded = KafkaErrorCode(rawValue: 89)
    public static let producerFenced = KafkaErrorCode(rawValue: 90)
    public static let unknownTopicId = KafkaErrorCode(rawValue: 100)

    /// Kafka's constant name, e.g. `UNKNOWN_TOPIC_OR_PARTITION`, or `UNKNOWN(<code>)`.
    public var name: String { Self.names[rawValue] ?? "UNKNOWN(\(rawValue))" }

    public var description: String { "\(name) (\(rawValue))" }

    private static let names: [Int16: String] = [
        -1: "UNKNOWN_SERVER_ERROR",
        0: "NONE",
        1: "OFFSET_OUT_OF_RANGE",
        2: "CORRUPT_MESSAGE",
        3: "UNKNOWN_TOPIC_OR_PARTITION",
        4: "INVALID_FETCH_SIZE",
        5: "LEADER_NOT_AVAILABLE",
        6: "NOT_LEADER_OR_FOLLOWER",
        7: "REQUEST_TIMED_OUT",
        8: "BROKER_NOT_AVAILABLE",
        9: "REPLICA_NOT_AVAILABLE",
        10: "MESSAGE_TOO_LARGE",
        11: "STALE_CONTROLLER_EPOCH",
        12: "OFFSET_METADATA_TOO_LARGE",
        13: "NETWORK_EXCEPTION",
        14: "COORDINATOR_LOAD_IN_PROGRESS",
        15: "COORDINATOR_NOT_AVAILABLE",
        16: "NOT_COORDINATOR",
        17: "INVALID_TOPIC_EXCEPTION",
        18: "RECORD_LIST_TOO_LARGE",
        19: "NOT_ENOUGH_REPLICAS",
        20: "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        21: "INVALID_REQUIRED_ACKS",
        22: "ILLEGAL_GENERATION",
        23: "INCONSISTENT_GROUP_PROTOCOL",
        24: "INVALID_GROUP_ID",
        25: "UNKNOWN_MEMBER_ID",
        26: "INVALID_SESSION_TIMEOUT",
        27: "REBALANCE_IN_PROGRESS",
        28: "INVALID_COMMIT_OFFSET_SIZE",
        29: "TOPIC_AUTHORIZATION_FAILED",
        30: "GROUP_AUTHORIZATION_FAILED",
        31: "CLUSTER_AUTHORIZATION_FAILED",
        32: "INVALID_TIMESTAMP",
        33: "UNSUPPORTED_SASL_MECHANISM",
        34: "ILLEGAL_SASL_STATE",
        35: "UNSUPPORTED_VERSION",
        36: "TOPIC_ALREADY_EXISTS",
        37: "INVALID_PARTITIONS",
        38: "INVALID_REPLICATION_FACTOR",
        39: "INVALID_REPLICA_ASSIGNMENT",
        40: "INVALID_CONFIG",
        41: "NOT_CONTROLLER",
        42: "INVALID_REQUEST",
        43: "UNSUPPORTED_FOR_MESSAGE_FORMAT",
        44: "POLICY_VIOLATION",
        45: "OUT_OF_ORDER_SEQUENCE_NUMBER",
        46: "DUPLICATE_SEQUENCE_NUMBER",
        47: "INVALID_PRODUCER_EPOCH",
        48: "INVALID_TXN_STATE",
        49: "INVALID_PRODUCER_ID_MAPPING",
        50: "INVALID_TRANSACTION_TIMEOUT",
        51: "CONCURRENT_TRANSACTIONS",
        52: "TRANSACTION_COORDINATOR_FENCED",
        53: "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
        54: "SECURITY_DISABLED",
        55: "OPERATION_NOT_ATTEMPTED",
        56: "KAFKA_STORAGE_ERROR",
        57: "LOG_DIR_NOT_FOUND",
        58: "SASL_AUTHENTICATION_FAILED",
        59: "UNKNOWN_PRODUCER_ID",
        60: "REASSIGNMENT_IN_PROGRESS",
        61: "DELEGATION_TOKEN_AUTH_DISABLED",
        62: "DELEGATION_TOKEN_NOT_FOUND",
        63: "DELEGATION_TOKEN_OWNER_MISMATCH",
        64: "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED",
        65: "DELEGATION_TOKEN_AUTHORIZATION_FAILED",
        66: "DELEGATION_TOKEN_EXPIRED",
        67: "INVALID_PRINCIPAL_TYPE",
        68: "NON_EMPTY_GROUP",
        69: "GROUP_ID_NOT_FOUND",
        70: "FETCH_SESSION_ID_NOT_FOUND",
        71: "INVALID_FETCH_SESSION_EPOCH",
        72: "LISTENER_NOT_FOUND",
        73: "TOPIC_DELETION_DISABLED",
        74: "FENCED_LEADER_EPOCH",
        75: "UNKNOWN_LEADER_EPOCH",
        76: "UNSUPPORTED_COMPRESSION_TYPE",
        77: "STALE_BROKER_EPOCH",
        78: "OFFSET_NOT_AVAILABLE",
        79: "MEMBER_ID_REQUIRED",
        80: "PREFERRED_LEADER_NOT_AVAILABLE",
        81: "GROUP_MAX_SIZE_REACHED",
        82: "FENCED_INSTANCE_ID",
        83: "ELIGIBLE_LEADERS_NOT_AVAILABLE",
        84: "ELECTION_NOT_NEEDED",
        85: "NO_REASSIGNMENT_IN_PROGRESS",
        86: "GROUP_SUBSCRIBED_TO_TOPIC",
        87: "INVALID_RECORD",
        88: "UNSTABLE_OFFSET_COMMIT",
        89: "THROTTLING_QUOTA_EXCEEDED",
        90: "PRODUCER_FENCED",
        100: "UNKNOWN_TOPIC_ID",
    ]
}

extension KafkaErrorCode {
    /// Whether Kafka clients retry a request that failed with this code (Kafka's `RetriableException`
    /// subclasses): the condition is expected to pass (leader moves, loading, timeouts, transient
    /// storage or network trouble).
    public var isRetriable: Bool {
        switch self {
        case .corruptMessage, .unknownTopicOrPartition, .leaderNotAvailable, .notLeaderOrFollower,
            .requestTimedOut, .networkException, .coordinatorLoadInProgress, .coordinatorNotAvailable,
            .notCoordinator, .notEnoughReplicas, .notEnoughReplicasAfterAppend, .kafkaStorageError:
            return true
        default:
            return false
        }
    }
}

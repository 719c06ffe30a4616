import NIOCore

// The record formats of the `__consumer_offsets` topic (Kafka's group-coordinator JSON schemas,
// non-flexible versions). A record's key is `int16 type` + key struct; its value is `int16 version`
// + value struct; a null value is a tombstone deleting the key.
//
// | key type | key struct | value versions |
// |---|---|---|
// | 0 (legacy), 1 | `OffsetCommitKey`: group, topic, partition | `OffsetCommitValue` v0–v3 |
// | 2 | `GroupMetadataKey`: group | `GroupMetadataValue` v0–v3 |
// | 3+ | KIP-848 / share / streams records | not modelled (`GroupCoordinatorRecordKey.unsupported`) |

/// Key of an offset commit: which group committed which partition's position.
///
/// Layout (key type 0 or 1 precedes it): `group str, topic str, partition i32`.
public struct OffsetCommitKey: ProtocolValue {
    public var group = ""
    public var topic = ""
    public var partition: Int32 = 0

    public init() {}

    public init(group: String, topic: String, partition: Int32) {
        self.group = group
        self.topic = topic
        self.partition = partition
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.string(&group, "group")
        try coder.string(&topic, "topic")
        try coder.int32(&partition, "partition")
    }
}

/// A committed offset (value of an `OffsetCommitKey` record).
///
/// | version | layout |
/// |---|---|
/// | 0, 2 | `offset i64, metadata str, commit_timestamp i64` |
/// | 1 | `offset i64, metadata str, commit_timestamp i64, expire_timestamp i64` |
/// | 3 | `offset i64, leader_epoch i32, metadata str, commit_timestamp i64` (what Kafka 4 writes) |
///
/// Fields absent from a version keep their schema defaults (`leaderEpoch` −1, `expireTimestamp` −1).
/// `metadata` is not nullable here: a null commit metadata is stored as "".
public struct OffsetCommitValue: ProtocolValue {
    public static let versions: ClosedRange<Int16> = 0...3

    public var offset: Int64 = 0
    /// v3 only; −1 when unknown.
    public var leaderEpoch: Int32 = -1
    public var metadata = ""
    public var commitTimestamp: Int64 = 0
    /// v1 only; −1 when the commit carried no explicit retention.
    public var expireTimestamp: Int64 = -1

    public init() {}

    public init(
        offset: Int64, leaderEpoch: Int32 = -1, metadata: String = "", commitTimestamp: Int64,
        expireTimestamp: Int64 = -1
    ) {
        self.offset = offset
        self.leaderEpoch = leaderEpoch
        self.metadata = metadata
        self.commitTimestamp = commitTimestamp
        self.expireTimestamp = expireTimestamp
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.int64(&offset, "offset")
        if coder.version >= 3 { try coder.int32(&leaderEpoch, "leader_epoch") }
        try coder.string(&metadata, "metadata")
        try coder.int64(&commitTimestamp, "commit_timestamp")
        if coder.version == 1 { try coder.int64(&expireTimestamp, "expire_timestamp") }
    }
}

/// Key of a group's metadata record. Layout (key type 2 precedes it): `group str`.
public struct GroupMetadataKey: ProtocolValue {
    public var group = ""

    public init() {}

    public init(group: String) { self.group = group }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.string(&group, "group")
    }
}

/// A classic group's state after a rebalance (value of a `GroupMetadataKey` record).
///
/// Layout: `protocol_type str, generation i32, protocol nstr, leader nstr,
/// current_state_timestamp i64 (v2+), members [Member]`. Kafka 4 writes v3.
public struct GroupMetadataValue: ProtocolValue {
    public static let versions: ClosedRange<Int16> = 0...3

    /// One member of the group.
    ///
    /// Layout: `member_id str, group_instance_id nstr (v3+), client_id str, client_host str,
    /// rebalance_timeout i32 (v1+), session_timeout i32, subscription bytes, assignment bytes`.
    public struct Member: ProtocolValue {
        public var memberId = ""
        /// v3+; static membership id.
        public var groupInstanceId: String?
        public var clientId = ""
        public var clientHost = ""
        /// v1+; −1 when absent.
        public var rebalanceTimeout: Int32 = -1
        public var sessionTimeout: Int32 = 0
        /// ConsumerProtocol subscription bytes, as the member sent them.
        public var subscription = ByteBuffer()
        /// ConsumerProtocol assignment bytes, as the leader computed them.
        public var assignment = ByteBuffer()

        public init() {}

        public init(
            memberId: String, groupInstanceId: String? = nil, clientId: String, clientHost: String,
            rebalanceTimeout: Int32 = -1, sessionTimeout: Int32, subscription: ByteBuffer = ByteBuffer(),
            assignment: ByteBuffer = ByteBuffer()
        ) {
            self.memberId = memberId
            self.groupInstanceId = groupInstanceId
            self.clientId = clientId
            self.clientHost = clientHost
            self.rebalanceTimeout = rebalanceTimeout
            self.sessionTimeout = sessionTimeout
            self.subscription = subscription
            self.assignment = assignment
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.string(&memberId, "member_id")
            if coder.version >= 3 { try coder.nullableString(&groupInstanceId, "group_instance_id") }
            try coder.string(&clientId, "client_id")
            try coder.string(&clientHost, "client_host")
            if coder.version >= 1 { try coder.int32(&rebalanceTimeout, "rebalance_timeout") }
            try coder.int32(&sessionTimeout, "session_timeout")
            try coder.bytes(&subscription, "subscription")
            try coder.bytes(&assignment, "assignment")
        }
    }

    public var protocolType = ""
    public var generation: Int32 = 0
    /// The chosen assignor, nil while no generation completed.
    public var protocolName: String?
    public var leader: String?
    /// v2+; −1 when absent.
    public var currentStateTimestamp: Int64 = -1
    public var members: [Member] = []

    public init() {}

    public init(
        protocolType: String, generation: Int32, protocolName: String?, leader: String?,
        currentStateTimestamp: Int64 = -1, members: [Member]
    ) {
        self.protocolType = protocolType
        self.generation = generation
        self.protocolName = protocolName
        self.leader = leader
        self.currentStateTimestamp = currentStateTimestamp
        self.members = members
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.string(&protocolType, "protocol_type")
        try coder.int32(&generation, "generation")
        try coder.nullableString(&protocolName, "protocol")
        try coder.nullableString(&leader, "leader")
        if coder.version >= 2 { try coder.int64(&currentStateTimestamp, "current_state_timestamp") }
        try coder.array(&members, "members")
    }
}

/// The decoded key of a `__consumer_offsets` record.
public enum GroupCoordinatorRecordKey: Sendable, Equatable {
    /// Key type 0 (legacy) or 1.
    case offsetCommit(OffsetCommitKey, type: Int16)
    /// Key type 2.
    case groupMetadata(GroupMetadataKey)
    /// Key types 3+ (consumer-group protocol, share and streams groups): not modelled here.
    case unsupported(type: Int16)

    /// The `int16` record type that starts the key bytes.
    public var recordType: Int16 {
        switch self {
        case .offsetCommit(_, let type): return type
        case .groupMetadata: return 2
        case .unsupported(let type): return type
        }
    }
}

/// The decoded value of a `__consumer_offsets` record (a null value is a tombstone, not a case here).
public enum GroupCoordinatorRecordValue: Sendable, Equatable {
    case offsetCommit(OffsetCommitValue, version: Int16)
    case groupMetadata(GroupMetadataValue, version: Int16)

    /// The `int16` version that starts the value bytes.
    public var version: Int16 {
        switch self {
        case .offsetCommit(_, let version): return version
        case .groupMetadata(_, let version): return version
        }
    }
}

/// Encoder and decoder of `__consumer_offsets` keys and values (see the table at the top of this
/// file), shared by the group coordinator and `segment-dump`.
///
/// Decoding never traps: bad bytes throw a ``ProtocolError`` naming the schema, field and byte
/// position (relative to the start of the key or value bytes). Bytes after the last field are
/// ignored, as Kafka's readers do. Stateless; safe from any thread.
public enum GroupCoordinatorRecord {
    /// Decodes a record key.
    public static func decodeKey(_ bytes: ByteBuffer) throws(ProtocolError) -> GroupCoordinatorRecordKey {
        var reader = ProtocolReader(buffer: bytes, version: 0, isFlexible: false, subject: "GroupCoordinatorKey")
        var type: Int16 = 0
        try reader.int16(&type, "type")
        switch type {
        case 0, 1:
            var key = OffsetCommitKey()
            var body = ProtocolReader(
                buffer: reader.buffer, version: type, isFlexible: false,
                subject: "OffsetCommitKey")
            try key.code(&body)
            return .offsetCommit(key, type: type)
        case 2:
            var key = GroupMetadataKey()
            var body = ProtocolReader(
                buffer: reader.buffer, version: 0, isFlexible: false,
                subject: "GroupMetadataKey")
            try key.code(&body)
            return .groupMetadata(key)
        default:
            return .unsupported(type: type)
        }
    }

    /// Decodes the value of a record whose key is `key`; nil for a tombstone (null value).
    /// Versions outside 0–3 and keys of unsupported types throw `unsupportedVersion`.
    public static func decodeValue(
        _ bytes: ByteBuffer?, key: GroupCoordinatorRecordKey
    )
        throws(ProtocolError) -> GroupCoordinatorRecordValue?
    {
        guard let bytes else { return nil }
        switch key {
        case .offsetCommit:
            let (version, body) = try versionPrefix(
                bytes, subject: "OffsetCommitValue",
                supported: OffsetCommitValue.versions)
            var value = OffsetCommitValue()
            var reader = ProtocolReader(
                buffer: body, version: version, isFlexible: false,
                subject: "OffsetCommitValue")
            try value.code(&reader)
            return .offsetCommit(value, version: version)
        case .groupMetadata:
            let (version, body) = try versionPrefix(
                bytes, subject: "GroupMetadataValue",
                supported: GroupMetadataValue.versions)
            var value = GroupMetadataValue()
            var reader = ProtocolReader(
                buffer: body, version: version, isFlexible: false,
                subject: "GroupMetadataValue")
            try value.code(&reader)
            return .groupMetadata(value, version: version)
        case .unsupported(let type):
            throw ProtocolError(
                .unsupportedVersion(type), context: "GroupCoordinatorKey", field: "type",
                position: 0)
        }
    }

    /// Reads the `int16` version and returns it with the remaining bytes.
    private static func versionPrefix(
        _ bytes: ByteBuffer, subject: String, supported: ClosedRange<Int16>
    )
        throws(ProtocolError) -> (Int16, ByteBuffer)
    {
        var reader = ProtocolReader(buffer: bytes, version: 0, isFlexible: false, subject: subject)
        var version: Int16 = 0
        try reader.int16(&version, "version")
        guard supported.contains(version) else {
            throw ProtocolError(
                .unsupportedVersion(version), context: subject, field: "version",
                position: bytes.readerIndex)
        }
        return (version, reader.buffer)
    }

    /// Encodes a key: its `int16` type, then the key struct. Preconditions: not `.unsupported`, and an
    /// offset-commit key has type 0 or 1.
    public static func encode(key: GroupCoordinatorRecordKey) -> ByteBuffer {
        if case .offsetCommit(_, let type) = key {
            precondition(type == 0 || type == 1, "an offset commit key has type 0 or 1, not \(type)")
        }
        var writer = ProtocolWriter(version: 0, isFlexible: false)
        var type = key.recordType
        writer.int16(&type, "type")
        switch key {
        case .offsetCommit(var value, _):
            value.code(&writer)
        case .groupMetadata(var value):
            value.code(&writer)
        case .unsupported(let type):
            preconditionFailure("cannot encode an unsupported __consumer_offsets key type \(type)")
        }
        return writer.buffer
    }

    /// Encodes a value: its `int16` version, then the fields of that version.
    /// Precondition: the version is one of 0–3.
    public static func encode(value: GroupCoordinatorRecordValue) -> ByteBuffer {
        var version = value.version
        precondition((0...3).contains(version), "unsupported __consumer_offsets value version \(version)")
        var writer = ProtocolWriter(version: version, isFlexible: false)
        writer.int16(&version, "version")
        switch value {
        case .offsetCommit(var fields, _):
            fields.code(&writer)
        case .groupMetadata(var fields, _):
            fields.code(&writer)
        }
        return writer.buffer
    }
}

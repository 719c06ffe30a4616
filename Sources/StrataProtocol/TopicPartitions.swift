/// The shape most partitioned APIs share: a topic name, then an array of per-partition entries
/// (`Partition` is the API's partition struct, or `Int32` for bare partition-index lists).
///
/// | field | type |
/// |---|---|
/// | name | string |
/// | partitions | `[Partition]` |
public struct TopicPartitions<Partition: ProtocolValue>: ProtocolValue {
    public var name = ""
    public var partitions: [Partition] = []

    public init() {}

    public init(name: String, partitions: [Partition]) {
        self.name = name
        self.partitions = partitions
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.string(&name, "name")
        try coder.array(&partitions, "partitions")
    }
}

/// A config name with its nullable value (CreateTopics and AlterConfigs requests).
public struct ConfigEntry: ProtocolValue {
    public var name = ""
    /// Null means "unset/default".
    public var value: String?

    public init() {}

    public init(name: String, value: String?) {
        self.name = name
        self.value = value
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.string(&name, "name")
        try coder.nullableString(&value, "value")
    }
}

/// A name (topic or group) with its error code (DeleteTopics and DeleteGroups responses).
public struct NamedResult: ProtocolValue {
    public var name = ""
    public var errorCode = KafkaErrorCode.noError

    public init() {}

    public init(name: String, errorCode: KafkaErrorCode) {
        self.name = name
        self.errorCode = errorCode
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.string(&name, "name")
        try coder.errorCode(&errorCode, "error_code")
    }
}

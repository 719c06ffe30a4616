import NIOCore
import NIOPosix
import StrataProtocol

/// A topic as the cluster describes it.
public struct TopicDescription: Sendable, Equatable {
    public struct Partition: Sendable, Equatable {
        public var partition: Int32
        public var leader: Int32
        public var replicas: [Int32]
    }

    public var name: String
    public var isInternal: Bool
    public var partitions: [Partition]
}

/// One config of a topic: its effective value and whether a topic override set it.
public struct TopicConfigEntry: Sendable, Equatable {
    /// Where the value comes from.
    public enum Source: Sendable, Equatable {
        case topic
        case defaultValue
        case other(Int8)
    }

    public var name: String
    public var value: String?
    public var source: Source
}

/// Which offset of a partition `listOffsets` asks for.
public enum OffsetSpec: Sendable, Equatable {
    case earliest
    case latest
    /// The first offset whose timestamp is at or after this (milliseconds since the epoch).
    case timestamp(Int64)

    var wire: Int64 {
        switch self {
        case .earliest: -2
        case .latest: -1
        case .timestamp(let milliseconds): milliseconds
        }
    }
}

/// Admin operations: create, delete, list and describe topics, describe and change their configs,
/// look up offsets. Talks to any broker of the cluster (Strata is one node; with Kafka each call
/// goes to the bootstrap broker, which forwards controller work itself on modern versions).
///
/// ```swift
/// let admin = try await StrataAdmin(bootstrap: ["localhost:9092"])
/// try await admin.createTopic("events", partitions: 3, configs: ["retention.ms": "86400000"])
/// try await admin.alterTopicConfigs("events", set: ["retention.ms": "3600000"])
/// print(try await admin.listOffsets("events", .latest))
/// try await admin.close()
/// ```
///
/// Thread-safe: all state lives in the `Cluster` actor.
public final class StrataAdmin: Sendable {
    let cluster: Cluster
    private let group: EventLoopGroup
    private let ownsGroup: Bool
    private let timeoutMilliseconds: Int32

    /// Connects to one of `bootstrap` (`host:port`).
    public init(
        bootstrap: [String], clientId: String = "strata-admin", timeoutMilliseconds: Int32 = 30_000,
        group: EventLoopGroup? = nil
    ) async throws {
        self.group = group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        ownsGroup = group == nil
        self.timeoutMilliseconds = timeoutMilliseconds
        // The broker may take up to `timeoutMilliseconds` itself (CreateTopics, DeleteTopics).
        cluster = try Cluster(
            bootstrap: bootstrap, group: self.group, clientId: clientId, autoCreateTopics: false,
            requestTimeout: .milliseconds(Int64(timeoutMilliseconds) + 5_000))
        do {
            _ = try await cluster.anyConnection()
        } catch {
            if ownsGroup { try? await self.group.shutdownGracefully() }
            throw error
        }
    }

    /// Creates a topic. Throws `ClientError.broker` with TOPIC_ALREADY_EXISTS, INVALID_CONFIG (the
    /// broker's message names the key), INVALID_PARTITIONS, INVALID_TOPIC_EXCEPTION…
    public func createTopic(
        _ name: String, partitions: Int32 = -1, replicationFactor: Int16 = -1, configs: [String: String] = [:]
    ) async throws {
        var topic = CreateTopicsRequest.Topic()
        topic.name = name
        topic.numPartitions = partitions
        topic.replicationFactor = replicationFactor
        topic.configs = configs.sorted { $0.key < $1.key }.map { ConfigEntry(name: $0.key, value: $0.value) }
        let response = try await cluster.anyConnection().send(
            CreateTopicsRequest(topics: [topic], timeoutMs: timeoutMilliseconds))
        guard let result = response.topics.first(where: { $0.name == name }) else {
            throw ClientError.protocolViolation(broker: "CreateTopics", reason: "no result for \(name)")
        }
        if result.errorCode != .noError {
            throw Self.failure(.createTopics, result.errorCode, topic: name, message: result.errorMessage)
        }
        await cluster.invalidate(name)
    }

    /// Deletes topics; throws for the first that could not be deleted.
    public func deleteTopics(_ names: [String]) async throws {
        let response = try await cluster.anyConnection().send(
            DeleteTopicsRequest(topicNames: names, timeoutMs: timeoutMilliseconds))
        for name in names { await cluster.invalidate(name) }
        if let failed = response.responses.first(where: { $0.errorCode != .noError }) {
            throw ClientError.broker(.deleteTopics, failed.errorCode, topic: failed.name)
        }
    }

    /// Every topic (internal ones only when asked), sorted by name.
    public func listTopics(includeInternal: Bool = false) async throws -> [TopicDescription] {
        try await describe(nil).filter { includeInternal || !$0.isInternal }
    }

    /// The named topics' partitions and leaders; throws for an unknown topic (never creates one).
    public func describeTopics(_ names: [String]) async throws -> [TopicDescription] {
        try await describe(names)
    }

    private func describe(_ names: [String]?) async throws -> [TopicDescription] {
        var request = MetadataRequest()
        request.topics = names
        request.allowAutoTopicCreation = false
        let response = try await cluster.anyConnection().send(request)
        var topics: [TopicDescription] = []
        for topic in response.topics {
            if topic.errorCode != .noError {
                throw ClientError.broker(.metadata, topic.errorCode, topic: topic.name)
            }
            topics.append(
                TopicDescription(
                    name: topic.name, isInternal: topic.isInternal,
                    partitions: topic.partitions.sorted { $0.partitionIndex < $1.partitionIndex }.map {
                        .init(partition: $0.partitionIndex, leader: $0.leaderId, replicas: $0.replicaNodes)
                    }))
        }
        return topics.sorted { $0.name < $1.name }
    }

    /// A topic's effective configs (sorted by name), each with its source.
    public func describeTopicConfigs(_ name: String) async throws -> [TopicConfigEntry] {
        let response = try await cluster.anyConnection().send(
            DescribeConfigsRequest(resources: [.init(resourceType: 2, resourceName: name, configurationKeys: nil)]))
        guard let result = response.results.first else {
            throw ClientError.protocolViolation(broker: "DescribeConfigs", reason: "no result for \(name)")
        }
        if result.errorCode != .noError {
            throw Self.failure(.describeConfigs, result.errorCode, topic: name, message: result.errorMessage)
        }
        return result.configs.map { config in
            let source: TopicConfigEntry.Source =
                switch config.configSource {
                case 1: .topic
                case 5: .defaultValue
                case -1: config.isDefault ? .defaultValue : .topic  // v0: only is_default
                default: .other(config.configSource)
                }
            return TopicConfigEntry(name: config.name, value: config.value, source: source)
        }
        .sorted { $0.name < $1.name }
    }

    /// Changes a topic's configs incrementally (IncrementalAlterConfigs): keys in `set` get those
    /// values, keys in `delete` go back to the default, every other override stays. Validated by the
    /// broker as a whole: an unknown key or bad value changes nothing and throws INVALID_CONFIG with
    /// the broker's message.
    public func alterTopicConfigs(_ name: String, set: [String: String] = [:], delete: [String] = []) async throws {
        let configs =
            set.sorted { $0.key < $1.key }.map {
                IncrementalAlterConfigsRequest.AlterableConfig(name: $0.key, operation: .set, value: $0.value)
            } + delete.map { .init(name: $0, operation: .delete, value: nil) }
        let response = try await cluster.anyConnection().send(
            IncrementalAlterConfigsRequest(resources: [.init(resourceType: 2, resourceName: name, configs: configs)]))
        guard let result = response.responses.first else {
            throw ClientError.protocolViolation(broker: "IncrementalAlterConfigs", reason: "no result for \(name)")
        }
        if result.errorCode != .noError {
            throw Self.failure(.incrementalAlterConfigs, result.errorCode, topic: name, message: result.errorMessage)
        }
    }

    /// The earliest, latest or by-timestamp offset of each partition of `topic` (all when
    /// `partitions` is nil). A timestamp after every record gives nil for that partition.
    public func listOffsets(
        _ topic: String, _ spec: OffsetSpec, partitions: [Int32]? = nil
    ) async throws
        -> [Int32: Int64?]
    {
        let known = try await cluster.partitions(of: topic).map(\.partition)
        let wanted = partitions ?? known
        var byLeader: [Int32: [Int32]] = [:]
        for partition in wanted {
            guard let info = try await cluster.partitions(of: topic).first(where: { $0.partition == partition }) else {
                throw ClientError.broker(.listOffsets, .unknownTopicOrPartition, topic: topic, partition: partition)
            }
            byLeader[info.leader, default: []].append(partition)
        }
        var result: [Int32: Int64?] = [:]
        for (leader, partitions) in byLeader {
            let request = ListOffsetsRequest(topics: [
                TopicPartitions(
                    name: topic, partitions: partitions.map { .init(partitionIndex: $0, timestamp: spec.wire) })
            ])
            let response = try await cluster.connection(to: leader).send(request)
            for answered in response.topics.flatMap(\.partitions) {
                if answered.errorCode != .noError {
                    throw ClientError.broker(
                        .listOffsets, answered.errorCode, topic: topic, partition: answered.partitionIndex)
                }
                result[answered.partitionIndex] = answered.offset >= 0 ? answered.offset : nil
            }
        }
        return result
    }

    /// Closes the connections.
    public func close() async throws {
        await cluster.close()
        if ownsGroup { try await group.shutdownGracefully() }
    }

    private static func failure(
        _ api: ApiKey, _ code: KafkaErrorCode, topic: String, message: String?
    )
        -> ClientError
    {
        guard let message, !message.isEmpty else { return .broker(api, code, topic: topic) }
        return .broker(
            api: "\(api)", topic: topic, partition: nil, code: code.rawValue, name: "\(code.name): \(message)")
    }
}

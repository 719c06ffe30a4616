import Foundation
import StrataProtocol
import StrataStorage

extension Broker {
    func createTopics(_ request: CreateTopicsRequest) -> CreateTopicsResponse {
        var response = CreateTopicsResponse()
        for topic in request.topics {
            var result = CreateTopicsResponse.Result()
            result.name = topic.name
            let partitions = topic.numPartitions == -1 ? config.numPartitions : topic.numPartitions
            var overrides: [String: String] = [:]
            for entry in topic.configs { overrides[entry.name] = entry.value }
            if topic.replicationFactor != -1 && topic.replicationFactor != 1 {
                result.errorCode = .invalidReplicationFactor
                result.errorMessage = "replication factor \(topic.replicationFactor) > 1: this is a single node"
            } else if !topic.assignments.isEmpty && topic.numPartitions != -1 {
                result.errorCode = .invalidRequest
                result.errorMessage = "both num_partitions and assignments given"
            } else if partitions <= 0 && topic.assignments.isEmpty {
                result.errorCode = .invalidPartitions
                result.errorMessage = "partition count must be positive"
            } else if max(partitions, Int32(clamping: topic.assignments.count)) > config.partitionsPerTopicMax {
                result.errorCode = .invalidPartitions
                result.errorMessage =
                    "\(max(partitions, Int32(clamping: topic.assignments.count))) partitions is over the limit of "
                    + "\(config.partitionsPerTopicMax) (strata.topic.partitions.max)"
            } else if request.validateOnly {
                if let reason = Topic.validationError(topic.name) {
                    result.errorCode = .invalidTopicException
                    result.errorMessage = reason
                } else if logs.topic(topic.name) != nil {
                    result.errorCode = .topicAlreadyExists
                } else {
                    do throws(StorageError) {
                        _ = try LogConfig(overrides: overrides, defaults: config.logDefaults)
                    } catch {
                        result.errorCode = ErrorMapping.code(for: error)
                        result.errorMessage = "\(error)"
                    }
                }
            } else {
                let count = topic.assignments.isEmpty ? partitions : Int32(topic.assignments.count)
                do throws(StorageError) {
                    try logs.createTopic(topic.name, partitionCount: count, configOverrides: overrides)
                } catch {
                    result.errorCode = ErrorMapping.code(for: error)
                    result.errorMessage = "\(error)"
                }
            }
            response.topics.append(result)
        }
        return response
    }

    func deleteTopics(_ request: DeleteTopicsRequest) -> DeleteTopicsResponse {
        var response = DeleteTopicsResponse()
        for name in request.topicNames {
            var code = KafkaErrorCode.noError
            if name == OffsetsTopic.name {
                code = .invalidTopicException  // internal: the coordinator's state lives there
            } else {
                do throws(StorageError) { try logs.deleteTopic(name) } catch { code = ErrorMapping.code(for: error) }
            }
            response.responses.append(NamedResult(name: name, errorCode: code))
        }
        return response
    }

    /// Every idempotent producer gets a fresh id at epoch 0 (no transactions).
    func initProducerId(_ request: InitProducerIdRequest) -> InitProducerIdResponse {
        var response = InitProducerIdResponse()
        if request.transactionalId != nil {
            response.errorCode = .transactionalIdAuthorizationFailed
            return response
        }
        do throws(StorageError) {
            response.producerId = try producers.allocateProducerId()
            response.producerEpoch = 0
        } catch {
            logger.error("cannot reserve producer ids", metadata: ["error": "\(error)"])
            response.errorCode = ErrorMapping.code(for: error)
        }
        return response
    }

    static let topicResourceType: Int8 = 2
    static let brokerResourceType: Int8 = 4

    /// DescribeConfigs for topics (effective values, overrides marked as topic config) and the broker.
    func describeConfigs(_ request: DescribeConfigsRequest) -> DescribeConfigsResponse {
        var response = DescribeConfigsResponse()
        for resource in request.resources {
            var result = DescribeConfigsResponse.Result()
            result.resourceType = resource.resourceType
            result.resourceName = resource.resourceName
            var entries: [(String, String, Bool)] = []
            switch resource.resourceType {
            case Self.topicResourceType:
                guard let topic = logs.topic(resource.resourceName),
                    let effective = try? LogConfig(overrides: topic.configOverrides, defaults: config.logDefaults)
                else {
                    result.errorCode = .unknownTopicOrPartition
                    response.results.append(result)
                    continue
                }
                for (key, value) in Self.describe(effective) {
                    entries.append((key, value, topic.configOverrides[key] == nil))
                }
            case Self.brokerResourceType:
                entries =
                    [
                        ("node.id", "\(config.nodeId)", true), ("num.partitions", "\(config.numPartitions)", true),
                        ("auto.create.topics.enable", "\(config.autoCreateTopics)", true),
                        ("socket.request.max.bytes", "\(config.socketRequestMaxBytes)", true),
                    ] + Self.describe(config.logDefaults).map { ($0.0, $0.1, true) }
            default:
                result.errorCode = .invalidRequest
                result.errorMessage = "unsupported resource type \(resource.resourceType)"
            }
            // null or empty = every config (kafka-python sends an empty list for "all").
            let wanted = resource.configurationKeys.flatMap { $0.isEmpty ? nil : Set($0) }
            for (key, value, isDefault) in entries.sorted(by: { $0.0 < $1.0 }) where wanted?.contains(key) ?? true {
                var entry = DescribeConfigsResponse.Config()
                entry.name = key
                entry.value = value
                entry.isDefault = isDefault
                entry.configSource = isDefault ? 5 : 1
                result.configs.append(entry)
            }
            response.results.append(result)
        }
        return response
    }

    static func describe(_ config: LogConfig) -> [(String, String)] {
        [
            ("cleanup.policy", config.cleanupPolicy.sorted().joined(separator: ",")),
            ("compression.type", config.compressionType),
            ("delete.retention.ms", "\(config.deleteRetentionMilliseconds)"),
            ("file.delete.delay.ms", "\(config.fileDeleteDelayMilliseconds)"),
            ("flush.messages", "\(config.flushMessages)"),
            ("flush.ms", "\(config.flushMilliseconds)"),
            ("index.interval.bytes", "\(config.indexIntervalBytes)"),
            ("max.compaction.lag.ms", "\(config.maxCompactionLagMilliseconds)"),
            ("max.message.bytes", "\(config.maxMessageBytes)"),
            ("message.timestamp.type", config.messageTimestampType),
            ("min.cleanable.dirty.ratio", "\(config.minCleanableDirtyRatio)"),
            ("min.compaction.lag.ms", "\(config.minCompactionLagMilliseconds)"),
            ("retention.bytes", "\(config.retentionBytes)"),
            ("retention.ms", "\(config.retentionMilliseconds)"),
            ("segment.bytes", "\(config.segmentBytes)"),
            ("segment.index.bytes", "\(config.segmentIndexBytes)"),
            ("segment.ms", "\(config.segmentMilliseconds)"),
        ]
    }
}

extension Broker {
    /// DeleteRecords: moves each partition's log start offset (-1 = the high watermark); segments
    /// wholly below it are deleted at once.
    func deleteRecords(_ request: DeleteRecordsRequest) -> DeleteRecordsResponse {
        var response = DeleteRecordsResponse()
        response.topics = request.topics.map { topic in
            TopicPartitions(
                name: topic.name,
                partitions: topic.partitions.map { requested in
                    var result = DeleteRecordsResponse.PartitionResult()
                    result.partitionIndex = requested.partitionIndex
                    guard let log = logs.log(for: TopicPartition(topic.name, requested.partitionIndex)) else {
                        result.errorCode = .unknownTopicOrPartition
                        result.lowWatermark = -1
                        return result
                    }
                    let target = requested.offset == -1 ? log.highWatermark : requested.offset
                    do throws(StorageError) {
                        result.lowWatermark = try log.deleteRecords(before: target)
                    } catch {
                        result.errorCode = ErrorMapping.code(for: error)
                        result.lowWatermark = -1
                    }
                    return result
                })
        }
        do throws(StorageError) { try logs.checkpoint() } catch {
            logger.error("checkpoint after DeleteRecords failed", metadata: ["error": "\(error)"])
        }
        return response
    }

    /// AlterConfigs (non-incremental): the given set replaces the topic's overrides, validated first
    /// (unknown key or bad value → INVALID_CONFIG with a message); applies at once and persists.
    func alterConfigs(_ request: AlterConfigsRequest) -> AlterConfigsResponse {
        var response = AlterConfigsResponse()
        for resource in request.resources {
            response.responses.append(
                alterTopic(resource.resourceType, resource.resourceName, validateOnly: request.validateOnly) { _ in
                    var overrides: [String: String] = [:]
                    for entry in resource.configs {
                        guard let value = entry.value else { continue }
                        overrides[entry.name] = value
                    }
                    return overrides
                })
        }
        return response
    }

    /// IncrementalAlterConfigs: SET/DELETE change the named keys of the topic's overrides and leave
    /// the others as they are (KIP-339). APPEND/SUBTRACT apply to list-valued configs; the only one
    /// Strata has is `cleanup.policy`. Validation and persistence as ``alterConfigs(_:)``.
    func incrementalAlterConfigs(_ request: IncrementalAlterConfigsRequest) -> IncrementalAlterConfigsResponse {
        var response = IncrementalAlterConfigsResponse()
        for resource in request.resources {
            response.responses.append(
                alterTopic(resource.resourceType, resource.resourceName, validateOnly: request.validateOnly) {
                    current throws(StorageError) in
                    var overrides = current
                    for entry in resource.configs {
                        try Self.apply(entry, to: &overrides, defaults: config.logDefaults)
                    }
                    return overrides
                })
        }
        return response
    }

    /// Applies one incremental change to `overrides`.
    private static func apply(
        _ entry: IncrementalAlterConfigsRequest.AlterableConfig, to overrides: inout [String: String],
        defaults: LogConfig
    ) throws(StorageError) {
        guard let operation = entry.operation else {
            throw .invalidConfig(key: entry.name, value: "\(entry.configOperation)", reason: "unknown config operation")
        }
        switch operation {
        case .set:
            guard let value = entry.value else {
                throw .invalidConfig(key: entry.name, value: "null", reason: "SET needs a value")
            }
            overrides[entry.name] = value
        case .delete:
            overrides[entry.name] = nil
        case .append, .subtract:
            guard entry.name == "cleanup.policy" else {
                throw .invalidConfig(
                    key: entry.name, value: entry.value ?? "null", reason: "APPEND/SUBTRACT apply to list configs only")
            }
            let current = overrides[entry.name] ?? defaults.cleanupPolicy.sorted().joined(separator: ",")
            var items = current.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            let given = (entry.value ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if operation == .append {
                for item in given where !items.contains(item) { items.append(item) }
            } else {
                items.removeAll { given.contains($0) }
            }
            overrides[entry.name] = items.joined(separator: ",")
        }
    }

    /// Validates and applies a topic's new overrides, computed by `change` from the current ones.
    private func alterTopic(
        _ resourceType: Int8, _ name: String, validateOnly: Bool,
        change: ([String: String]) throws(StorageError) -> [String: String]
    ) -> AlterConfigsResponse.ResourceResponse {
        var result = AlterConfigsResponse.ResourceResponse(resourceType: resourceType, resourceName: name)
        guard resourceType == Self.topicResourceType else {
            result.errorCode = .invalidRequest
            result.errorMessage = "only topic configs can be altered at run time; use --set at startup"
            return result
        }
        guard let topic = logs.topic(name) else {
            result.errorCode = .unknownTopicOrPartition
            result.errorMessage = "topic \(name) does not exist"
            return result
        }
        do throws(StorageError) {
            let overrides = try change(topic.configOverrides)
            _ = try LogConfig(overrides: overrides, defaults: config.logDefaults)
            if !validateOnly { try logs.alterTopicConfig(name, overrides: overrides) }
        } catch {
            result.errorCode = ErrorMapping.code(for: error)
            result.errorMessage = "\(error)"
        }
        return result
    }
}

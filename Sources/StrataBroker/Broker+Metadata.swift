import StrataProtocol
import StrataStorage

extension Broker {
    /// Metadata: this node is the only broker, the controller and every partition's leader with a
    /// stable epoch. Unknown topics are created when auto-creation is enabled and requested.
    func metadata(_ request: MetadataRequest, version: Int16) -> MetadataResponse {
        let address = advertisedAddress
        let nodeId = logs.nodeId
        var names: [String]
        if let requested = request.topics {
            names = requested
        } else {
            names = logs.topics().map(\.name)
        }
        var topics: [MetadataResponse.Topic] = []
        for name in names {
            var topic = MetadataResponse.Topic()
            topic.name = name
            topic.isInternal = name == OffsetsTopic.name
            var description = logs.topic(name)
            if description == nil {
                if let reason = Topic.validationError(name) {
                    topic.errorCode = .invalidTopicException
                    logger.debug(
                        "metadata for invalid topic name", metadata: ["topic": "\(name)", "reason": "\(reason)"])
                } else if config.autoCreateTopics && request.allowAutoTopicCreation {
                    do throws(StorageError) {
                        if name == OffsetsTopic.name {
                            try groups.ensureOffsetsTopic()  // its own partition count and settings
                        } else {
                            try logs.createTopic(name, partitionCount: config.numPartitions)
                        }
                        logger.info("auto-created topic", metadata: ["topic": "\(name)"])
                    } catch {
                        if case .topicAlreadyExists = error {
                        } else {
                            topic.errorCode = ErrorMapping.code(for: error)
                        }
                    }
                    description = logs.topic(name)
                } else {
                    topic.errorCode = .unknownTopicOrPartition
                }
            }
            if let description {
                topic.partitions = (0..<description.partitionCount).map { index in
                    MetadataResponse.Partition(
                        partitionIndex: index, leaderId: nodeId, leaderEpoch: Self.leaderEpoch,
                        replicaNodes: [nodeId], isrNodes: [nodeId])
                }
            } else if topic.errorCode == .noError {
                topic.errorCode = .unknownTopicOrPartition
            }
            topics.append(topic)
        }
        return MetadataResponse(
            brokers: [.init(nodeId: nodeId, host: address.host, port: Int32(address.port))],
            clusterId: logs.clusterId, controllerId: nodeId, topics: topics)
    }

    /// ListOffsets: -1 latest (= high watermark = last stable offset here), -2 earliest (log
    /// start), else the first offset with timestamp ≥ t (offset -1 when none).
    func listOffsets(_ request: ListOffsetsRequest) -> ListOffsetsResponse {
        var topics: [TopicPartitions<ListOffsetsResponse.PartitionResponse>] = []
        for topic in request.topics {
            var partitions: [ListOffsetsResponse.PartitionResponse] = []
            for requested in topic.partitions {
                var result = ListOffsetsResponse.PartitionResponse()
                result.partitionIndex = requested.partitionIndex
                guard let log = logs.log(for: TopicPartition(topic.name, requested.partitionIndex)) else {
                    result.errorCode = .unknownTopicOrPartition
                    partitions.append(result)
                    continue
                }
                result.leaderEpoch = Self.leaderEpoch
                switch requested.timestamp {
                case -1:
                    result.offset = log.highWatermark
                case -2:
                    result.offset = log.logStartOffset
                case let timestamp where timestamp >= 0:
                    do throws(StorageError) {
                        if let found = try log.offset(forTimestamp: timestamp) {
                            result.offset = found.offset
                            result.timestamp = found.timestamp
                        }
                    } catch {
                        result.errorCode = ErrorMapping.code(for: error)
                    }
                default:
                    result.errorCode = .unsupportedVersion
                }
                partitions.append(result)
            }
            topics.append(TopicPartitions(name: topic.name, partitions: partitions))
        }
        return ListOffsetsResponse(topics: topics)
    }

    /// OffsetForLeaderEpoch: one epoch ever, so the end offset of any epoch ≤ ours is the log end.
    func offsetForLeaderEpoch(_ request: OffsetForLeaderEpochRequest) -> OffsetForLeaderEpochResponse {
        var response = OffsetForLeaderEpochResponse()
        response.topics = request.topics.map { topic in
            TopicPartitions(
                name: topic.name,
                partitions: topic.partitions.map { requested in
                    var result = OffsetForLeaderEpochResponse.EpochEndOffset()
                    result.partition = requested.partition
                    if let log = logs.log(for: TopicPartition(topic.name, requested.partition)) {
                        if requested.currentLeaderEpoch > Self.leaderEpoch {
                            result.errorCode = .unknownLeaderEpoch
                        } else {
                            result.leaderEpoch = Self.leaderEpoch
                            result.endOffset = log.logEndOffset
                        }
                    } else {
                        result.errorCode = .unknownTopicOrPartition
                    }
                    return result
                })
        }
        return response
    }
}

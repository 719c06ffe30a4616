import NIOCore
import StrataProtocol

/// A sample of every request and response, with every field that exists at the newest supported version set
/// to a non-default value. Fields that exist only in older versions keep their defaults (they are covered by
/// dedicated tests), so decoding at the newest version must give the sample back unchanged.
enum Samples {
    static let records = bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0xde, 0xad, 0xbe, 0xef])

    static let requests: [MessageCase] = [
        MessageCase(ApiVersionsRequest(clientSoftwareName: "strata-client", clientSoftwareVersion: "0.1.0")),
        MessageCase(MetadataRequest(topics: ["orders", "payments"], allowAutoTopicCreation: false,
                                    includeClusterAuthorizedOperations: true, includeTopicAuthorizedOperations: true)),
        MessageCase(ProduceRequest(transactionalId: "tx-1", acks: -1, timeoutMs: 30_000, topics: [
            TopicPartitions(name: "orders", partitions: [
                .init(index: 0, records: records), .init(index: 3, records: nil),
            ]),
        ])),
        MessageCase(FetchRequest(replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 52_428_800, isolationLevel: 1,
                                 sessionId: 7, sessionEpoch: 2, topics: [
                                     TopicPartitions(name: "orders", partitions: [
                                         .init(partition: 1, currentLeaderEpoch: 4, fetchOffset: 100, logStartOffset: 3,
                                               partitionMaxBytes: 1_048_576),
                                     ]),
                                 ], forgottenTopicsData: [TopicPartitions(name: "old", partitions: [0, 5])],
                                 rackId: "rack-a")),
        MessageCase(ListOffsetsRequest(replicaId: -1, isolationLevel: 1, topics: [
            TopicPartitions(name: "orders", partitions: [
                .init(partitionIndex: 2, currentLeaderEpoch: 5, timestamp: ListOffsetsRequest.earliestTimestamp),
            ]),
        ])),
        MessageCase(InitProducerIdRequest(transactionalId: "tx-2", transactionTimeoutMs: 60_000)),
        MessageCase(CreateTopicsRequest(topics: [
            .init(name: "events", numPartitions: 3, replicationFactor: 1,
                  assignments: [.init(partitionIndex: 0, brokerIds: [1])],
                  configs: [ConfigEntry(name: "cleanup.policy", value: "compact"),
                            ConfigEntry(name: "retention.ms", value: nil)]),
        ], timeoutMs: 15_000, validateOnly: true)),
        MessageCase(DeleteTopicsRequest(topicNames: ["a", "b"], timeoutMs: 5_000)),
        MessageCase(DescribeConfigsRequest(resources: [
            .init(resourceType: 2, resourceName: "orders", configurationKeys: ["retention.ms"]),
            .init(resourceType: 4, resourceName: "1", configurationKeys: nil),
        ], includeSynonyms: true)),
        MessageCase(OffsetForLeaderEpochRequest(replicaId: -2, topics: [
            TopicPartitions(name: "orders", partitions: [.init(partition: 0, currentLeaderEpoch: 3, leaderEpoch: 2)]),
        ])),
        MessageCase(FindCoordinatorRequest(key: "group-1", keyType: FindCoordinatorRequest.keyTypeTransaction)),
        MessageCase(JoinGroupRequest(groupId: "g", sessionTimeoutMs: 45_000, rebalanceTimeoutMs: 300_000,
                                     memberId: "m-1", groupInstanceId: "instance-1", protocolType: "consumer",
                                     protocols: [.init(name: "range", metadata: bytes([0, 1, 2]))])),
        MessageCase(SyncGroupRequest(groupId: "g", generationId: 4, memberId: "m-1", groupInstanceId: "instance-1",
                                     assignments: [.init(memberId: "m-1", assignment: bytes([9, 8]))])),
        MessageCase(HeartbeatRequest(groupId: "g", generationId: 4, memberId: "m-1", groupInstanceId: "instance-1")),
        MessageCase(LeaveGroupRequest(groupId: "g", members: [
            .init(memberId: "m-1", groupInstanceId: "instance-1"), .init(memberId: "m-2", groupInstanceId: nil),
        ])),
        MessageCase(OffsetCommitRequest(groupId: "g", generationIdOrMemberEpoch: 4, memberId: "m-1",
                                        groupInstanceId: "instance-1", topics: [
                                            TopicPartitions(name: "orders", partitions: [
                                                .init(partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: 1,
                                                      committedMetadata: "meta"),
                                                .init(partitionIndex: 1, committedOffset: 7, committedMetadata: nil),
                                            ]),
                                        ])),
        MessageCase(OffsetFetchRequest(groupId: "g", topics: [TopicPartitions(name: "orders", partitions: [0, 1, 2])])),
        MessageCase(ListGroupsRequest()),
        MessageCase(DescribeGroupsRequest(groups: ["g", "h"], includeAuthorizedOperations: true)),
        MessageCase(DeleteGroupsRequest(groupNames: ["g", "h"])),
        MessageCase(DeleteRecordsRequest(topics: [
            TopicPartitions(name: "orders", partitions: [.init(partitionIndex: 0, offset: 10)]),
        ], timeoutMs: 3_000)),
        MessageCase(AlterConfigsRequest(resources: [
            .init(resourceType: 2, resourceName: "orders",
                  configs: [ConfigEntry(name: "retention.ms", value: "1000"), ConfigEntry(name: "x", value: nil)]),
        ], validateOnly: true)),
        MessageCase(IncrementalAlterConfigsRequest(resources: [
            .init(resourceType: 2, resourceName: "orders",
                  configs: [.init(name: "retention.ms", operation: .set, value: "1000"),
                            .init(name: "segment.ms", operation: .delete, value: nil),
                            .init(name: "cleanup.policy", operation: .append, value: "compact")]),
        ], validateOnly: false)),
    ]

    static let responses: [MessageCase] = [
        MessageCase(ApiVersionsTable.standard.apiVersionsResponse(throttleTimeMs: 3)),
        MessageCase(MetadataResponse(throttleTimeMs: 1, brokers: [
            .init(nodeId: 1, host: "localhost", port: 9092, rack: "r1"),
        ], clusterId: "cluster", controllerId: 1, topics: [
            .init(errorCode: .noError, name: "orders", isInternal: true, partitions: [
                .init(partitionIndex: 0, leaderId: 1, leaderEpoch: 3, replicaNodes: [1], isrNodes: [1],
                      offlineReplicas: [2]),
            ], topicAuthorizedOperations: 8),
            .init(errorCode: .unknownTopicOrPartition, name: "missing", partitions: []),
        ], clusterAuthorizedOperations: 16)),
        MessageCase(ProduceResponse(responses: [
            TopicPartitions(name: "orders", partitions: [
                .init(index: 0, errorCode: .noError, baseOffset: 100, logAppendTimeMs: 1_700_000_000_000,
                      logStartOffset: 5),
                .init(index: 1, errorCode: .invalidRecord, baseOffset: -1,
                      recordErrors: [.init(batchIndex: 0, batchIndexErrorMessage: "bad batch")],
                      errorMessage: "invalid"),
            ]),
        ], throttleTimeMs: 9)),
        MessageCase(FetchResponse(throttleTimeMs: 2, errorCode: .noError, sessionId: 11, responses: [
            TopicPartitions(name: "orders", partitions: [
                .init(partitionIndex: 0, highWatermark: 10, lastStableOffset: 10, logStartOffset: 0,
                      abortedTransactions: [.init(producerId: 5, firstOffset: 6)], preferredReadReplica: 1,
                      records: records),
                .init(partitionIndex: 1, errorCode: .offsetOutOfRange, highWatermark: -1, abortedTransactions: nil,
                      records: nil),
            ]),
        ])),
        MessageCase(ListOffsetsResponse(throttleTimeMs: 4, topics: [
            TopicPartitions(name: "orders", partitions: [
                .init(partitionIndex: 0, timestamp: 1_700_000_000_000, offset: 77, leaderEpoch: 2),
            ]),
        ])),
        MessageCase(InitProducerIdResponse(throttleTimeMs: 1, producerId: 1_000, producerEpoch: 2)),
        MessageCase(CreateTopicsResponse(throttleTimeMs: 5, topics: [
            .init(name: "events"), .init(name: "dup", errorCode: .topicAlreadyExists, errorMessage: "exists"),
        ])),
        MessageCase(DeleteTopicsResponse(throttleTimeMs: 6, responses: [
            NamedResult(name: "a", errorCode: .noError), NamedResult(name: "b", errorCode: .unknownTopicOrPartition),
        ])),
        MessageCase(DescribeConfigsResponse(throttleTimeMs: 7, results: [
            .init(errorCode: .noError, errorMessage: nil, resourceType: 2, resourceName: "orders", configs: [
                .init(name: "retention.ms", value: "1000", readOnly: false, configSource: 1, isSensitive: false,
                      synonyms: [.init(name: "log.retention.ms", value: "5000", source: 4)]),
                .init(name: "secret", value: nil, readOnly: true, configSource: 5, isSensitive: true),
            ]),
            .init(errorCode: .invalidRequest, errorMessage: "no", resourceType: 4, resourceName: "9", configs: []),
        ])),
        MessageCase(OffsetForLeaderEpochResponse(throttleTimeMs: 8, topics: [
            TopicPartitions(name: "orders", partitions: [.init(partition: 0, leaderEpoch: 2, endOffset: 99)]),
        ])),
        MessageCase(FindCoordinatorResponse(throttleTimeMs: 1, errorCode: .noError, errorMessage: "fine", nodeId: 1,
                                            host: "localhost", port: 9092)),
        MessageCase(JoinGroupResponse(throttleTimeMs: 2, errorCode: .noError, generationId: 4, protocolName: "range",
                                      leader: "m-1", memberId: "m-1", members: [
                                          .init(memberId: "m-1", groupInstanceId: "instance-1", metadata: bytes([1])),
                                          .init(memberId: "m-2", metadata: bytes([])),
                                      ])),
        MessageCase(SyncGroupResponse(throttleTimeMs: 3, errorCode: .rebalanceInProgress, assignment: bytes([4, 5]))),
        MessageCase(HeartbeatResponse(throttleTimeMs: 4, errorCode: .illegalGeneration)),
        MessageCase(LeaveGroupResponse(throttleTimeMs: 5, errorCode: .noError, members: [
            .init(memberId: "m-1", groupInstanceId: "instance-1", errorCode: .unknownMemberId),
        ])),
        MessageCase(OffsetCommitResponse(throttleTimeMs: 6, topics: [
            TopicPartitions(name: "orders", partitions: [
                .init(partitionIndex: 0), .init(partitionIndex: 1, errorCode: .offsetMetadataTooLarge),
            ]),
        ])),
        MessageCase(OffsetFetchResponse(throttleTimeMs: 7, topics: [
            TopicPartitions(name: "orders", partitions: [
                .init(partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: 1, metadata: "meta"),
                .init(partitionIndex: 1, committedOffset: -1, metadata: nil, errorCode: .unstableOffsetCommit),
            ]),
        ], errorCode: .notCoordinator)),
        MessageCase(ListGroupsResponse(throttleTimeMs: 8, errorCode: .noError, groups: [
            .init(groupId: "g", protocolType: "consumer"),
        ])),
        MessageCase(DescribeGroupsResponse(throttleTimeMs: 9, groups: [
            .init(groupId: "g", groupState: "Stable", protocolType: "consumer", protocolData: "range", members: [
                .init(memberId: "m-1", groupInstanceId: "instance-1", clientId: "c", clientHost: "/127.0.0.1",
                      memberMetadata: bytes([1, 2]), memberAssignment: bytes([3])),
            ], authorizedOperations: 12),
        ])),
        MessageCase(DeleteGroupsResponse(throttleTimeMs: 1, results: [
            NamedResult(name: "g", errorCode: .nonEmptyGroup), NamedResult(name: "h", errorCode: .noError),
        ])),
        MessageCase(DeleteRecordsResponse(throttleTimeMs: 2, topics: [
            TopicPartitions(name: "orders", partitions: [.init(partitionIndex: 0, lowWatermark: 10)]),
        ])),
        MessageCase(AlterConfigsResponse(throttleTimeMs: 3, responses: [
            .init(errorCode: .invalidConfig, errorMessage: "bad value", resourceType: 2, resourceName: "orders"),
        ])),
        MessageCase(IncrementalAlterConfigsResponse(throttleTimeMs: 4, responses: [
            .init(errorCode: .noError, errorMessage: nil, resourceType: 2, resourceName: "orders"),
        ])),
    ]

    static let all = requests + responses
}

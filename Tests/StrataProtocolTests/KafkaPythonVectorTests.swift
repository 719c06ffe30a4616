import NIOCore
import StrataProtocol
import Testing

/// Byte-exact vectors produced by an independent implementation of the same Kafka JSON schemas:
/// kafka-python 3.0.12's `kafka.protocol` classes (e.g. `MetadataRequest(version=4, topics=None,
/// allow_auto_topic_creation=False).encode().hex()`), with the field values written out in each test.
/// Each vector must decode to the Swift value and the Swift value must encode to the vector.
@Suite struct KafkaPythonVectorTests {
    private func check<Message: KafkaMessage>(
        _ message: Message, version: Int16, _ vector: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let expected = hex(vector)
        let actual = encoded(message, version: version)
        #expect(hexString(actual) == hexString(expected), sourceLocation: sourceLocation)
        var input = expected
        #expect(try Message(from: &input, version: version) == message, sourceLocation: sourceLocation)
        #expect(input.readableBytes == 0, sourceLocation: sourceLocation)
    }

    @Test func metadataV4RequestForAllTopicsWithoutAutoCreate() throws {
        try check(MetadataRequest(topics: nil, allowAutoTopicCreation: false), version: 4, "ffffffff00")
    }

    @Test func metadataV8Response() throws {
        let response = MetadataResponse(throttleTimeMs: 5, brokers: [.init(nodeId: 1, host: "h", port: 9092)],
                                        clusterId: "c", controllerId: 1, topics: [
                                            .init(name: "t", partitions: [
                                                .init(partitionIndex: 0, leaderId: 1, leaderEpoch: 3, replicaNodes: [1],
                                                      isrNodes: [1]),
                                            ]),
                                        ])
        try check(response, version: 8, """
            00000005 00000001 00000001 000168 00002384 ffff 000163 00000001 00000001 0000 000174 00 00000001 \
            0000 00000000 00000001 00000003 00000001 00000001 00000001 00000001 00000000 80000000 80000000
            """)
    }

    @Test func produceV3RequestFrameFromRdkafka() throws {
        let request = ProduceRequest(transactionalId: nil, acks: -1, timeoutMs: 1500, topics: [
            TopicPartitions(name: "t", partitions: [.init(index: 0, records: bytes([1, 2, 3, 4]))]),
        ])
        var frame = ByteBuffer()
        request.encodeFrame(into: &frame, version: 3, correlationId: 42, clientId: "rdkafka")
        let vector = """
            00000030 0000 0003 0000002a 0007 72646b61666b61 ffff ffff 000005dc 00000001 0001 74 00000001 \
            00000000 00000004 01020304
            """
        #expect(hexString(frame) == hexString(hex(vector)))
        var input = hex(vector)
        var body = try #require(try KafkaFrame.next(from: &input, frameBytesMax: 1 << 20))
        let (header, decoded) = try AnyKafkaRequest.decode(frame: &body)
        #expect(header == RequestHeader(apiKey: 0, apiVersion: 3, correlationId: 42, clientId: "rdkafka"))
        #expect(decoded == .produce(request))
    }

    @Test func produceV8ResponseWithRecordErrorsAndThrottleLast() throws {
        let response = ProduceResponse(responses: [
            TopicPartitions(name: "t", partitions: [
                .init(index: 0, errorCode: .invalidRecord, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: 0,
                      recordErrors: [.init(batchIndex: 0, batchIndexErrorMessage: "bad")], errorMessage: "invalid"),
            ]),
        ], throttleTimeMs: 7)
        try check(response, version: 8, """
            00000001 000174 00000001 00000000 0057 ffffffffffffffff ffffffffffffffff 0000000000000000 \
            00000001 00000000 0003626164 0007696e76616c6964 00000007
            """)
    }

    @Test func fetchV11Request() throws {
        let request = FetchRequest(maxWaitMs: 500, minBytes: 1, maxBytes: 52_428_800, isolationLevel: 1, topics: [
            TopicPartitions(name: "t", partitions: [
                .init(partition: 0, currentLeaderEpoch: 2, fetchOffset: 100, partitionMaxBytes: 1_048_576),
            ]),
        ], forgottenTopicsData: [TopicPartitions(name: "u", partitions: [1, 2])], rackId: "r1")
        try check(request, version: 11, """
            ffffffff 000001f4 00000001 03200000 01 00000000 ffffffff 00000001 000174 00000001 00000000 00000002 \
            0000000000000064 ffffffffffffffff 00100000 00000001 000175 00000002 00000001 00000002 00027231
            """)
    }

    @Test func fetchV11ResponseWithNullAbortedTransactions() throws {
        let response = FetchResponse(responses: [
            TopicPartitions(name: "t", partitions: [
                .init(partitionIndex: 0, highWatermark: 10, lastStableOffset: 10, logStartOffset: 0,
                      abortedTransactions: nil, records: bytes([0xaa, 0xbb])),
            ]),
        ])
        try check(response, version: 11, """
            00000000 0000 00000000 00000001 000174 00000001 00000000 0000 000000000000000a 000000000000000a \
            0000000000000000 ffffffff ffffffff 00000002 aabb
            """)
    }

    @Test func listOffsetsV5RequestForEarliest() throws {
        let request = ListOffsetsRequest(isolationLevel: 1, topics: [
            TopicPartitions(name: "t", partitions: [.init(partitionIndex: 0, timestamp: -2)]),
        ])
        try check(request, version: 5, "ffffffff 01 00000001 000174 00000001 00000000 ffffffff fffffffffffffffe")
    }

    @Test func offsetFetchV5ResponseHasTopLevelErrorLast() throws {
        let response = OffsetFetchResponse(topics: [
            TopicPartitions(name: "t", partitions: [.init(partitionIndex: 0, committedOffset: -1, metadata: "")]),
        ], errorCode: .notCoordinator)
        try check(response, version: 5, """
            00000000 00000001 000174 00000001 00000000 ffffffffffffffff ffffffff 0000 0000 0010
            """)
    }

    @Test func offsetCommitV2RequestWithRetention() throws {
        let request = OffsetCommitRequest(groupId: "g", generationIdOrMemberEpoch: 3, memberId: "m",
                                          retentionTimeMs: -1, topics: [
                                              TopicPartitions(name: "t", partitions: [
                                                  .init(partitionIndex: 1, committedOffset: 42, committedMetadata: nil),
                                              ]),
                                          ])
        try check(request, version: 2, """
            000167 00000003 00016d ffffffffffffffff 00000001 000174 00000001 00000001 000000000000002a ffff
            """)
    }

    @Test func joinGroupV5Request() throws {
        let request = JoinGroupRequest(groupId: "g", sessionTimeoutMs: 45_000, rebalanceTimeoutMs: 300_000,
                                       memberId: "", protocolType: "consumer",
                                       protocols: [.init(name: "range", metadata: bytes([0, 1]))])
        try check(request, version: 5, """
            000167 0000afc8 000493e0 0000 ffff 0008636f6e73756d6572 00000001 000572616e6765 00000002 0001
            """)
    }

    @Test func leaveGroupV3Request() throws {
        try check(LeaveGroupRequest(groupId: "g", members: [.init(memberId: "m")]), version: 3,
                  "000167 00000001 00016d ffff")
    }

    @Test func apiVersionsV3RequestFrameUsesHeaderV2AndCompactStrings() throws {
        let request = ApiVersionsRequest(clientSoftwareName: "kcat", clientSoftwareVersion: "1.7")
        var frame = ByteBuffer()
        request.encodeFrame(into: &frame, version: 3, correlationId: 1, clientId: "abc")
        let vector = "00000018 0012 0003 00000001 0003616263 00 056b636174 04312e37 00"
        #expect(hexString(frame) == hexString(hex(vector)))
        var input = hex(vector)
        var body = try #require(try KafkaFrame.next(from: &input, frameBytesMax: 1 << 20))
        let (header, decoded) = try AnyKafkaRequest.decode(frame: &body)
        #expect(header.headerVersion == 2)
        #expect(decoded == .apiVersions(request))
    }

    @Test func apiVersionsV3ResponseBodyIsFlexible() throws {
        let response = ApiVersionsResponse(errorCode: .noError, apiKeys: [
            .init(apiKey: 0, minVersion: 0, maxVersion: 8), .init(apiKey: 18, minVersion: 0, maxVersion: 4),
        ])
        try check(response, version: 3, "0000 03 0000 0000 0008 00 0012 0000 0004 00 00000000 00")
    }

    @Test func describeConfigsV0ResponseWithIsDefault() throws {
        let response = DescribeConfigsResponse(results: [
            .init(resourceType: 2, resourceName: "t", configs: [
                .init(name: "retention.ms", value: "1000", readOnly: false, isDefault: true, isSensitive: false),
            ]),
        ])
        try check(response, version: 0, """
            00000000 00000001 0000 ffff 02 000174 00000001 000c726574656e74696f6e2e6d73 000431303030 00 01 00
            """)
    }

    @Test func createTopicsV4Request() throws {
        let request = CreateTopicsRequest(topics: [
            .init(name: "t", numPartitions: 3, replicationFactor: 1,
                  configs: [ConfigEntry(name: "cleanup.policy", value: "compact")]),
        ], timeoutMs: 30_000, validateOnly: false)
        try check(request, version: 4, """
            00000001 000174 00000003 0001 00000000 00000001 000e636c65616e75702e706f6c696379 0007636f6d70616374 \
            00007530 00
            """)
    }
}

import Foundation
import NIOCore
import StrataBroker
import StrataProtocol
import StrataRecords
import StrataStorage
import Testing

@Suite struct TopicAdminTests {
    @Test func alterConfigsValidatesAppliesAndPersists() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.createTopic("t")
        var bad = AlterConfigsRequest()
        bad.resources = [.init(resourceType: 2, resourceName: "t", configs: [ConfigEntry(name: "retention.ms", value: "soon")])]
        let refused = try #require(try await harness.call(bad, version: 1, as: AlterConfigsResponse.self))
        #expect(refused.responses.first?.errorCode == .invalidConfig)
        #expect(refused.responses.first?.errorMessage?.contains("retention.ms") == true)
        var unknown = AlterConfigsRequest()
        unknown.resources = [.init(resourceType: 2, resourceName: "t", configs: [ConfigEntry(name: "no.such", value: "1")])]
        #expect(try await harness.call(unknown, version: 0, as: AlterConfigsResponse.self)?.responses.first?.errorCode
            == .invalidConfig)
        var good = AlterConfigsRequest()
        good.resources = [.init(resourceType: 2, resourceName: "t", configs: [ConfigEntry(name: "retention.ms", value: "1234")])]
        #expect(try await harness.call(good, version: 1, as: AlterConfigsResponse.self)?.responses.first?.errorCode
            == .noError)
        #expect(harness.logs.log(for: TopicPartition("t", 0))?.config.retentionMilliseconds == 1234, "applied at once")
        try harness.restart(clean: true)
        #expect(harness.logs.log(for: TopicPartition("t", 0))?.config.retentionMilliseconds == 1234, "persisted")
        var describe = DescribeConfigsRequest()
        describe.resources = [.init(resourceType: 2, resourceName: "t", configurationKeys: ["retention.ms", "segment.bytes"])]
        let described = try #require(try await harness.call(describe, version: 1, as: DescribeConfigsResponse.self))
        let configs = try #require(described.results.first?.configs)
        #expect(configs.map(\.name) == ["retention.ms", "segment.bytes"])
        #expect(configs[0].value == "1234" && configs[0].configSource == 1, "override shown as topic config")
        #expect(configs[1].configSource == 5, "default shown as default")
    }

    @Test func incrementalAlterConfigsChangesOnlyTheNamedKeys() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.createTopic("t")
        func alter(_ configs: [IncrementalAlterConfigsRequest.AlterableConfig], validateOnly: Bool = false)
            async throws -> IncrementalAlterConfigsResponse.ResourceResponse
        {
            let request = IncrementalAlterConfigsRequest(
                resources: [.init(resourceType: 2, resourceName: "t", configs: configs)], validateOnly: validateOnly)
            let response = try #require(try await harness.call(request, version: 0, as: IncrementalAlterConfigsResponse.self))
            return try #require(response.responses.first)
        }
        func overrides() -> [String: String] { harness.logs.topic("t")?.configOverrides ?? [:] }
        #expect(try await alter([.init(name: "retention.ms", operation: .set, value: "1234")]).errorCode == .noError)
        #expect(try await alter([.init(name: "segment.ms", operation: .set, value: "60000")]).errorCode == .noError)
        #expect(overrides() == ["retention.ms": "1234", "segment.ms": "60000"], "the first key survives the second SET")
        #expect(try await alter([.init(name: "retention.ms", operation: .delete, value: nil)]).errorCode == .noError)
        #expect(overrides() == ["segment.ms": "60000"])
        #expect(harness.logs.log(for: TopicPartition("t", 0))?.config.segmentMilliseconds == 60000, "applied at once")
        #expect(try await alter([.init(name: "cleanup.policy", operation: .append, value: "compact")]).errorCode
            == .noError)
        #expect(overrides()["cleanup.policy"] == "delete,compact")
        #expect(harness.logs.log(for: TopicPartition("t", 0))?.config.isCompacted == true)
        #expect(try await alter([.init(name: "cleanup.policy", operation: .subtract, value: "delete")]).errorCode
            == .noError)
        #expect(overrides()["cleanup.policy"] == "compact")
        let dryRun = try await alter([.init(name: "retention.ms", operation: .set, value: "5")], validateOnly: true)
        #expect(dryRun.errorCode == .noError && overrides()["retention.ms"] == nil, "validate_only changes nothing")
        let bad = try await alter([.init(name: "retention.ms", operation: .set, value: "soon"),
                                   .init(name: "segment.ms", operation: .delete, value: nil)])
        #expect(bad.errorCode == .invalidConfig && bad.errorMessage?.contains("retention.ms") == true)
        #expect(overrides()["segment.ms"] == "60000", "a refused request changes none of its keys")
        #expect(try await alter([.init(name: "segment.ms", operation: .append, value: "1")]).errorCode == .invalidConfig)
        var unknownOp = IncrementalAlterConfigsRequest.AlterableConfig(name: "segment.ms", operation: .set, value: "1")
        unknownOp.configOperation = 9
        #expect(try await alter([unknownOp]).errorCode == .invalidConfig)
        try harness.restart(clean: true)
        #expect(overrides() == ["segment.ms": "60000", "cleanup.policy": "compact"], "persisted")
    }

    @Test func deleteRecordsMovesTheLowWatermark() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.createTopic("t")
        for index in 0..<5 { _ = try await harness.produce("t", batch: batch(["v\(index)"])) }
        var request = DeleteRecordsRequest()
        request.topics = [TopicPartitions(name: "t", partitions: [.init(partitionIndex: 0, offset: 3),
                                                                  .init(partitionIndex: 4, offset: 1)])]
        let response = try #require(try await harness.call(request, version: 1, as: DeleteRecordsResponse.self))
        let results = try #require(response.topics.first?.partitions)
        #expect(results[0].errorCode == .noError && results[0].lowWatermark == 3)
        #expect(results[1].errorCode == .unknownTopicOrPartition)
        #expect(try await harness.fetch("t", offset: 1).responses.first?.partitions.first?.errorCode == .offsetOutOfRange)
        var earliest = ListOffsetsRequest()
        earliest.topics = [TopicPartitions(name: "t", partitions: [.init(partitionIndex: 0, timestamp: -2)])]
        #expect(try await harness.call(earliest, version: 1, as: ListOffsetsResponse.self)?
            .topics.first?.partitions.first?.offset == 3)
    }

    @Test func compactedTopicsRefuseKeylessRecords() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.logs.createTopic("c", partitionCount: 1, configOverrides: ["cleanup.policy": "compact"])
        var builder = RecordBatchBuilder(compression: .lz4)
        builder.append(key: Array("k".utf8), value: Array("a".utf8), timestamp: 1)
        builder.append(key: nil as [UInt8]?, value: Array("b".utf8), timestamp: 2)
        #expect(try await harness.produce("c", batch: builder.build())?.errorCode == .invalidRecord)
        #expect(try await harness.produce("c", batch: batch(["keyed"]))?.errorCode == .noError)
    }

    @Test func createTopicsValidatesAndReportsPerTopic() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        var request = CreateTopicsRequest()
        request.topics = [
            .init(name: "ok", numPartitions: 3, replicationFactor: 1, assignments: [],
                  configs: [ConfigEntry(name: "cleanup.policy", value: "compact")]),
            .init(name: "bad name", numPartitions: 1, replicationFactor: 1, assignments: [], configs: []),
            .init(name: "rf", numPartitions: 1, replicationFactor: 3, assignments: [], configs: []),
            .init(name: "cfg", numPartitions: 1, replicationFactor: -1, assignments: [],
                  configs: [ConfigEntry(name: "segment.bytes", value: "-5")]),
        ]
        let response = try #require(try await harness.call(request, version: 4, as: CreateTopicsResponse.self))
        #expect(response.topics.map(\.errorCode) == [.noError, .invalidTopicException, .invalidReplicationFactor,
                                                     .invalidConfig])
        #expect(harness.logs.topic("ok")?.partitionCount == 3)
        let again = try #require(try await harness.call(request, version: 4, as: CreateTopicsResponse.self))
        #expect(again.topics.first?.errorCode == .topicAlreadyExists)
    }
}

@Suite struct InternalTopicTests {
    /// Regression (protocol fuzzing, issue #10): CreateTopics with num_partitions 100 000 opened
    /// partitions until the process ran out of file descriptors.
    @Test func createTopicsRefusesMorePartitionsThanTheLimit() async throws {
        var config = BrokerConfig()
        try config.set("strata.topic.partitions.max", "8")
        let harness = try BrokerHarness(config: config)
        defer { harness.cleanup() }
        var request = CreateTopicsRequest()
        request.topics = [
            .init(name: "huge", numPartitions: Int32.max, replicationFactor: 1),
            .init(name: "fits", numPartitions: 8, replicationFactor: 1),
        ]
        let response = try #require(try await harness.call(request, version: 4, as: CreateTopicsResponse.self))
        #expect(response.topics.map(\.errorCode) == [.invalidPartitions, .noError])
        #expect(response.topics.first?.errorMessage?.contains("strata.topic.partitions.max") == true)
        #expect(harness.logs.topic("huge") == nil && harness.logs.topic("fits")?.partitionCount == 8)
    }

    /// Regression (long protocol fuzzing run, seed 20261205, input 809 000): OffsetCommit v2 with
    /// retention_time_ms near Int64.max overflowed `now + retention` and killed the server.
    @Test func offsetCommitWithHugeRetentionDoesNotTrap() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.createTopic("t")
        var request = OffsetCommitRequest(
            groupId: "g", generationIdOrMemberEpoch: -1, memberId: "", groupInstanceId: nil,
            topics: [TopicPartitions(name: "t", partitions: [.init(partitionIndex: 0, committedOffset: 1)])])
        request.retentionTimeMs = Int64.max
        let response = try #require(try await harness.call(request, version: 2, as: OffsetCommitResponse.self))
        #expect(response.topics.first?.partitions.first?.errorCode == .noError)
    }

    @Test func clientsCannotProduceToOrDeleteTheOffsetsTopic() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.logs.createTopic("__consumer_offsets", partitionCount: 1,
                                     configOverrides: ["cleanup.policy": "compact"])
        #expect(try await harness.produce("__consumer_offsets", batch: batch(["forged"]))?.errorCode
            == .invalidTopicException)
        #expect(harness.logs.log(for: TopicPartition("__consumer_offsets", 0))?.logEndOffset == 0)
        let response = try #require(try await harness.call(
            DeleteTopicsRequest(topicNames: ["__consumer_offsets"], timeoutMs: 1000), version: 3,
            as: DeleteTopicsResponse.self))
        #expect(response.responses.first?.errorCode == .invalidTopicException)
        #expect(harness.logs.topic("__consumer_offsets") != nil)
    }
}

import Foundation
import Logging
import NIOCore
import NIOPosix
import StrataProtocol
import StrataRecords
import StrataStorage
import Synchronization
import Testing

@testable import StrataBroker

/// The group APIs through `Broker.handle` (frames in, frames out) with real storage and a
/// `ManualClock`, so sessions, delays and retention are driven without sleeping.
/// `@unchecked Sendable`: `logs`/`broker` change only in `restart`, never concurrently with calls.
final class GroupHarness: @unchecked Sendable {
    let directory: String
    let clock = ManualClock()
    let config: BrokerConfig
    var logs: LogManager
    var broker: Broker
    let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let correlationIds = Atomic<Int32>(0)

    let fileSystem: FileSystem

    init(
        delay: Int64 = 0, minSession: Int32 = 1000, settings: [String: String] = [:],
        fileSystem: FileSystem = PosixFileSystem()
    ) throws {
        self.fileSystem = fileSystem
        directory = NSTemporaryDirectory() + "strata-groups-\(UUID().uuidString)"
        var config = BrokerConfig()
        config.groups.initialRebalanceDelayMilliseconds = delay
        config.groups.sessionTimeoutMillisecondsMin = minSession
        config.groups.offsetsTopicPartitions = 4
        for (key, value) in settings { try config.set(key, value) }
        self.config = config
        logs = try LogManager.open(
            dataDirectory: directory, defaultConfig: config.logDefaults,
            fileSystem: fileSystem, clock: clock, logger: BrokerHarness.quiet)
        broker = Broker(config: config, logs: logs, logger: BrokerHarness.quiet)
        // Offsets are committed only for partitions that exist; the tests commit to "t".
        try logs.createTopic("t", partitionCount: 4)
    }

    /// Restart: clean close, or just drop everything (a crash), then reopen and replay.
    func restart(clean: Bool) async throws {
        broker.groups.shutDown()
        if clean { try logs.close() }
        logs = try LogManager.open(
            dataDirectory: directory, defaultConfig: config.logDefaults,
            fileSystem: fileSystem, clock: clock, logger: BrokerHarness.quiet)
        broker = Broker(config: config, logs: logs, logger: BrokerHarness.quiet)
        await broker.groups.waitUntilLoaded()
    }

    func cleanup() {
        broker.groups.shutDown()
        try? logs.close()
        try? loop.syncShutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func call<Request: KafkaRequest>(_ request: Request, version: Int16) async throws -> Request.Response {
        let correlationId = correlationIds.wrappingAdd(1, ordering: .relaxed).newValue
        var frame = ByteBuffer()
        request.encodeFrame(into: &frame, version: version, correlationId: correlationId, clientId: "client")
        frame.moveReaderIndex(forwardBy: 4)
        var answer = try #require(
            try await broker.handle(
                frame: frame, eventLoop: loop.next(),
                clientHost: Self.clientHost))
        _ = answer.readInteger(as: Int32.self)
        let header = try ResponseHeader(
            from: &answer,
            version: Request.Response.apiKey.responseHeaderVersion(version))
        #expect(header.correlationId == correlationId)
        let response = try Request.Response(from: &answer, version: version)
        #expect(answer.readableBytes == 0)
        return response
    }

    /// The peer address every harness request comes from (as KafkaServer passes it).
    static let clientHost = "/192.0.2.7"

    func join(
        _ group: String, member: String = "", version: Int16 = 5, session: Int32 = 10_000,
        protocols: [String] = ["range"]
    ) async throws -> JoinGroupResponse {
        try await call(
            JoinGroupRequest(
                groupId: group, sessionTimeoutMs: session, rebalanceTimeoutMs: 20_000,
                memberId: member, protocolType: "consumer",
                protocols: protocols.map { .init(name: $0, metadata: ByteBuffer(string: $0)) }),
            version: version)
    }

    /// JoinGroup v5 including the MEMBER_ID_REQUIRED round trip.
    func joinNew(_ group: String, session: Int32 = 10_000) async throws -> JoinGroupResponse {
        let first = try await join(group, session: session)
        #expect(first.errorCode == .memberIdRequired && !first.memberId.isEmpty)
        return try await join(group, member: first.memberId, session: session)
    }

    func sync(
        _ group: String, member: String, generation: Int32, assignments: [String: String] = [:]
    )
        async throws -> SyncGroupResponse
    {
        try await call(
            SyncGroupRequest(
                groupId: group, generationId: generation, memberId: member,
                assignments: assignments.sorted { $0.key < $1.key }.map {
                    .init(memberId: $0.key, assignment: ByteBuffer(string: $0.value))
                }), version: 3)
    }

    func heartbeat(_ group: String, member: String, generation: Int32) async throws -> KafkaErrorCode {
        try await call(
            HeartbeatRequest(groupId: group, generationId: generation, memberId: member),
            version: 3
        ).errorCode
    }

    func commit(
        _ group: String, member: String = "", generation: Int32 = -1, _ offsets: [Int32: Int64],
        topic: String = "t", metadata: String? = "meta", version: Int16 = 7
    ) async throws
        -> [KafkaErrorCode]
    {
        let request = OffsetCommitRequest(
            groupId: group, generationIdOrMemberEpoch: generation, memberId: member,
            topics: [
                TopicPartitions(
                    name: topic,
                    partitions: offsets.sorted { $0.key < $1.key }.map {
                        .init(partitionIndex: $0.key, committedOffset: $0.value, committedMetadata: metadata)
                    })
            ])
        return try await call(request, version: version).topics.flatMap { $0.partitions.map(\.errorCode) }
    }

    func fetchOffsets(
        _ group: String, topic: String = "t", partitions: [Int32]? = [0, 1], version: Int16 = 5
    )
        async throws -> OffsetFetchResponse
    {
        try await call(
            OffsetFetchRequest(
                groupId: group,
                topics: partitions.map {
                    [TopicPartitions(name: topic, partitions: $0)]
                }), version: version)
    }

    func describe(_ group: String) async throws -> DescribeGroupsResponse.DescribedGroup {
        try #require(try await call(DescribeGroupsRequest(groups: [group]), version: 4).groups.first)
    }

    /// Polls (bounded, no sleeping) until `condition` holds.
    func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw InteropError("timed out waiting for \(what)") }
            await Task.yield()
        }
    }
}

/// FindCoordinator and the group APIs end to end through the broker, persistence included.
@Suite struct GroupHandlerTests {
    @Test(arguments: [Int16(0), 1, 2])
    func findCoordinatorAnswersThisNodeAndCreatesTheOffsetsTopic(version: Int16) async throws {
        let harness = try GroupHarness()
        defer { harness.cleanup() }
        let answer = try await harness.call(FindCoordinatorRequest(key: "g"), version: version)
        #expect(answer.errorCode == .noError && answer.nodeId == harness.logs.nodeId && answer.host == "localhost")
        let topic = try #require(harness.logs.topic("__consumer_offsets"))
        #expect(topic.partitionCount == 4 && topic.configOverrides["cleanup.policy"] == "compact")
        let metadata = try await harness.call(MetadataRequest(topics: ["__consumer_offsets"]), version: 5)
        #expect(metadata.topics.first?.isInternal == true && metadata.topics.first?.partitions.count == 4)
        if version >= 1 {
            let transaction = try await harness.call(FindCoordinatorRequest(key: "tx", keyType: 1), version: version)
            #expect(transaction.errorCode == .coordinatorNotAvailable)
        }
    }

    @Test func autoCreatingTheOffsetsTopicThroughMetadataUsesItsOwnSettings() async throws {
        let harness = try GroupHarness()
        defer { harness.cleanup() }
        let metadata = try await harness.call(MetadataRequest(topics: ["__consumer_offsets"]), version: 4)
        #expect(metadata.topics.first?.errorCode == .noError && metadata.topics.first?.partitions.count == 4)
        #expect(harness.logs.topic("__consumer_offsets")?.configOverrides["cleanup.policy"] == "compact")
    }

    @Test func twoMembersRebalanceCommitAndFetch() async throws {
        let harness = try GroupHarness()
        defer { harness.cleanup() }
        let a = try await harness.joinNew("g")
        #expect(a.generationId == 1 && a.leader == a.memberId && a.members.count == 1)
        let assigned = try await harness.sync("g", member: a.memberId, generation: 1, assignments: [a.memberId: "all"])
        #expect(assigned.errorCode == .noError && assigned.assignment == ByteBuffer(string: "all"))
        #expect(
            try await harness.commit("g", member: a.memberId, generation: 1, [0: 10, 1: 20])
                == [.noError, .noError])
        // b joins (held); a learns of the rebalance from its heartbeat and rejoins.
        let firstB = try await harness.join("g")
        async let joinB = harness.join("g", member: firstB.memberId)
        try await harness.eventually("b to be held") {
            try await harness.heartbeat("g", member: a.memberId, generation: 1) == .rebalanceInProgress
        }
        #expect(
            try await harness.commit("g", member: a.memberId, generation: 1, [0: 11]) == [.noError],
            "commits of the current generation are accepted while preparing")
        let rejoinA = try await harness.join("g", member: a.memberId)
        let b = try await joinB
        #expect(rejoinA.generationId == 2 && b.generationId == 2 && rejoinA.leader == a.memberId)
        #expect(rejoinA.members.count == 2 && b.members.isEmpty)
        #expect(try await harness.commit("g", member: a.memberId, generation: 2, [0: 12]) == [.rebalanceInProgress])
        async let syncB = harness.sync("g", member: b.memberId, generation: 2)
        try await harness.eventually("b's sync to be held") {
            try await harness.describe("g").groupState == "CompletingRebalance"
        }
        let syncA = try await harness.sync(
            "g", member: a.memberId, generation: 2,
            assignments: [a.memberId: "p0", b.memberId: "p1"])
        #expect(syncA.assignment == ByteBuffer(string: "p0"))
        #expect(try await syncB.assignment == ByteBuffer(string: "p1"))
        #expect(try await harness.commit("g", member: b.memberId, generation: 1, [1: 5]) == [.illegalGeneration])
        #expect(try await harness.commit("g", member: b.memberId, generation: 2, [1: 21]) == [.noError])
        #expect(try await harness.commit("g", [1: 99]) == [.unknownMemberId], "generation -1 only when Empty")
        let fetched = try await harness.fetchOffsets("g", partitions: [0, 1, 2])
        #expect(fetched.topics.first?.partitions.map(\.committedOffset) == [11, 21, -1])
        #expect(fetched.topics.first?.partitions.first?.metadata == "meta")
        let all = try await harness.fetchOffsets("g", partitions: nil)
        #expect(all.topics.first?.partitions.map(\.partitionIndex) == [0, 1])
        let described = try await harness.describe("g")
        #expect(described.groupState == "Stable" && described.members.count == 2 && described.protocolData == "range")
        let listed = try await harness.call(ListGroupsRequest(), version: 2)
        #expect(listed.groups == [.init(groupId: "g", protocolType: "consumer")])
    }

    @Test func offsetFetchAtV1ListsRequestedPartitions() async throws {
        let harness = try GroupHarness()
        defer { harness.cleanup() }
        #expect(try await harness.commit("simple", [0: 3], version: 2) == [.noError])
        let fetched = try await harness.fetchOffsets("simple", version: 1)
        #expect(fetched.topics.first?.partitions.map(\.committedOffset) == [3, -1])
    }

    /// Found by the long protocol-fuzzing run: commits for made-up topics were stored, so a client
    /// could grow the coordinator without bound. Kafka answers UNKNOWN_TOPIC_OR_PARTITION.
    @Test func commitsForPartitionsThatDoNotExistAreRefusedAndNotStored() async throws {
        let harness = try GroupHarness()
        defer { harness.cleanup() }
        #expect(try await harness.commit("u", [0: 5], topic: "made-up") == [.unknownTopicOrPartition])
        #expect(try await harness.commit("u", [3: 7, 4: 8]) == [.noError, .unknownTopicOrPartition])
        let stored = try await harness.fetchOffsets("u", partitions: nil).topics
        #expect(stored.map(\.name) == ["t"])
        #expect(stored.first?.partitions.map(\.partitionIndex) == [3], "only the partition that exists is stored")
        let offsetsLog = harness.logs.log(
            for: TopicPartition("__consumer_offsets", OffsetsTopic.partition(for: "u", partitions: 4)))
        #expect(offsetsLog?.logEndOffset == 1, "one commit record written")
    }

    @Test func commitsAreDurableBeforeTheAnswer() async throws {
        let harness = try GroupHarness()
        defer { harness.cleanup() }
        #expect(try await harness.commit("d", [0: 1, 1: 2]) == [.noError, .noError])
        let partition = OffsetsTopic.partition(for: "d", partitions: 4)
        let log = try #require(harness.logs.log(for: TopicPartition("__consumer_offsets", partition)))
        #expect(log.logEndOffset == 2 && log.recoveryPoint == 2, "both records appended and fsynced")
        let tooLong = String(repeating: "x", count: 4097)
        #expect(try await harness.commit("d", [0: 5], metadata: tooLong) == [.offsetMetadataTooLarge])
        #expect(try await harness.commit("", [0: 5]) == [.invalidGroupId])
    }

    @Test(arguments: [true, false])
    func offsetsAndGenerationsSurviveARestart(clean: Bool) async throws {
        let harness = try GroupHarness()
        defer { harness.cleanup() }
        #expect(try await harness.commit("simple", [0: 7, 1: 8]) == [.noError, .noError])
        let a = try await harness.joinNew("g")
        _ = try await harness.sync("g", member: a.memberId, generation: 1, assignments: [a.memberId: "p"])
        #expect(try await harness.commit("g", member: a.memberId, generation: 1, [0: 42]) == [.noError])
        try await harness.restart(clean: clean)
        #expect(try await harness.fetchOffsets("simple").topics.first?.partitions.map(\.committedOffset) == [7, 8])
        #expect(try await harness.fetchOffsets("g").topics.first?.partitions.map(\.committedOffset) == [42, -1])
        let described = try await harness.describe("g")
        #expect(described.groupState == "Stable" && described.members.map(\.memberId) == [a.memberId])
        #expect(described.members.map(\.clientHost) == [GroupHarness.clientHost], "the joining peer's address")
        #expect(
            try await harness.heartbeat("g", member: a.memberId, generation: 1) == .noError,
            "the member keeps its generation across the restart")
        // It does not come back after this: its session expires and the group empties.
        harness.clock.advance(byMilliseconds: 10_001)
        harness.broker.groups.runDueTimers()
        try await harness.eventually("the group to empty") { try await harness.describe("g").groupState == "Empty" }
        try await harness.restart(clean: true)
        #expect(try await harness.describe("g").groupState == "Empty")
        #expect(try await harness.join("g", member: "nobody", version: 3).errorCode == .unknownMemberId)
        let next = try await harness.join("g", version: 3)
        #expect(next.generationId == 3, "generations continue after the empty generation 2")
    }

    @Test func requestsWaitForTheReplayWithCoordinatorLoadInProgress() async throws {
        let harness = try GroupHarness()
        defer { harness.cleanup() }
        #expect(try await harness.commit("s", [0: 5]) == [.noError])
        try harness.logs.close()
        harness.logs = try LogManager.open(
            dataDirectory: harness.directory, defaultConfig: harness.config.logDefaults,
            clock: harness.clock, logger: BrokerHarness.quiet)
        let coordinator = GroupCoordinator(
            config: harness.config.groups, logs: harness.logs,
            logger: BrokerHarness.quiet)
        let loading = coordinator.fetchOffsets(OffsetFetchRequest(groupId: "s", topics: nil))
        #expect(loading.errorCode == .coordinatorLoadInProgress)
        #expect(
            coordinator.heartbeat(HeartbeatRequest(groupId: "s", generationId: 1, memberId: "m"))
                == .coordinatorLoadInProgress)
        #expect(coordinator.listGroups().errorCode == .coordinatorLoadInProgress)
        coordinator.startLoading()
        await coordinator.waitUntilLoaded()
        let loaded = coordinator.fetchOffsets(OffsetFetchRequest(groupId: "s", topics: nil))
        #expect(loaded.errorCode == .noError && loaded.topics.first?.partitions.first?.committedOffset == 5)
        coordinator.shutDown()
    }

    @Test func deleteGroupsNeedsAnEmptyGroupAndWritesTombstones() async throws {
        let harness = try GroupHarness()
        defer { harness.cleanup() }
        #expect(try await harness.commit("old", [0: 1]) == [.noError])
        let a = try await harness.joinNew("busy")
        _ = try await harness.sync("busy", member: a.memberId, generation: 1, assignments: [:])
        let deleted = try await harness.call(DeleteGroupsRequest(groupNames: ["old", "busy", "none"]), version: 1)
        #expect(deleted.results.map(\.errorCode) == [.noError, .nonEmptyGroup, .groupIdNotFound])
        #expect(try await harness.fetchOffsets("old").topics.first?.partitions.first?.committedOffset == -1)
        #expect(try await harness.describe("old").groupState == "Dead")
        try await harness.restart(clean: false)
        #expect(try await harness.fetchOffsets("old").topics.first?.partitions.first?.committedOffset == -1)
        let listed = try await harness.call(ListGroupsRequest(), version: 0).groups.map(\.groupId)
        #expect(listed == ["busy"])
    }

    @Test func leaveGroupAtV1AndV3() async throws {
        let harness = try GroupHarness()
        defer { harness.cleanup() }
        let a = try await harness.joinNew("g")
        let v1 = try await harness.call(LeaveGroupRequest(groupId: "g", memberId: "ghost"), version: 1)
        #expect(v1.errorCode == .unknownMemberId)
        let v3 = try await harness.call(
            LeaveGroupRequest(
                groupId: "g",
                members: [
                    .init(memberId: a.memberId), .init(memberId: "ghost"),
                ]), version: 3)
        #expect(v3.errorCode == .noError && v3.members.map(\.errorCode) == [.noError, .unknownMemberId])
        #expect(try await harness.describe("g").groupState == "Empty")
    }

    @Test func initialDelayHoldsTheFirstJoinUntilTheTimerRuns() async throws {
        let harness = try GroupHarness(delay: 3000)
        defer { harness.cleanup() }
        let first = try await harness.join("g", version: 4)
        async let joined = harness.join("g", member: first.memberId, version: 4)
        try await harness.eventually("the join to be held") {
            try await harness.describe("g").groupState == "PreparingRebalance"
        }
        harness.broker.groups.runDueTimers()
        #expect(try await harness.describe("g").groupState == "PreparingRebalance", "not before the delay")
        harness.clock.advance(byMilliseconds: 3000)
        harness.broker.groups.runDueTimers()
        #expect(try await joined.generationId == 1)
    }

    @Test func shutdownAnswersHeldJoinsWithNotCoordinator() async throws {
        let harness = try GroupHarness(delay: 3000)
        defer { harness.cleanup() }
        async let joined = harness.join("g", version: 3)
        try await harness.eventually("the join to be held") {
            try await harness.describe("g").groupState == "PreparingRebalance"
        }
        harness.broker.groups.shutDown()
        #expect(try await joined.errorCode == .notCoordinator)
        #expect(try await harness.heartbeat("g", member: "m", generation: 1) == .notCoordinator)
    }

    @Test func offsetsOfEmptyGroupsExpireAfterTheRetention() async throws {
        let harness = try GroupHarness(settings: ["offsets.retention.minutes": "1"])
        defer { harness.cleanup() }
        #expect(try await harness.commit("s", [0: 4]) == [.noError])
        let a = try await harness.joinNew("live")
        _ = try await harness.sync("live", member: a.memberId, generation: 1, assignments: [:])
        #expect(try await harness.commit("live", member: a.memberId, generation: 1, [0: 9]) == [.noError])
        harness.clock.advance(byMilliseconds: 59_000)
        #expect(try await harness.heartbeat("live", member: a.memberId, generation: 1) == .noError)
        #expect(await harness.broker.groups.expireOffsets() == 0)
        harness.clock.advance(byMilliseconds: 1_000)
        #expect(try await harness.heartbeat("live", member: a.memberId, generation: 1) == .noError)
        #expect(await harness.broker.groups.expireOffsets() == 1, "only the empty group's offset")
        #expect(try await harness.fetchOffsets("s").topics.first?.partitions.first?.committedOffset == -1)
        #expect(try await harness.fetchOffsets("live").topics.first?.partitions.first?.committedOffset == 9)
        #expect(try await harness.describe("s").groupState == "Dead", "a group without offsets is deleted")
        try await harness.restart(clean: false)
        #expect(try await harness.fetchOffsets("s").topics.first?.partitions.first?.committedOffset == -1)
    }

    @Test func aFailedFsyncFailsTheCommitAndTheSync() async throws {
        let faults = FaultInjectingFileSystem()
        let harness = try GroupHarness(fileSystem: faults)
        defer { harness.cleanup() }
        let a = try await harness.joinNew("g")
        faults.arm(.sync, .error(EIO), times: .max, pathContains: "__consumer_offsets")
        let sync = try await harness.sync("g", member: a.memberId, generation: 1, assignments: [a.memberId: "x"])
        #expect(sync.errorCode == .coordinatorNotAvailable, "the group metadata was not made durable")
        #expect(try await harness.commit("g", member: a.memberId, generation: 1, [0: 5]) == [.coordinatorNotAvailable])
    }

    @Test func kafkaSettingsConfigureTheCoordinator() throws {
        var config = BrokerConfig()
        for (key, value) in [
            ("group.initial.rebalance.delay.ms", "0"), ("group.min.session.timeout.ms", "100"),
            ("group.max.session.timeout.ms", "9000"), ("offsets.retention.minutes", "2"),
            ("offsets.topic.num.partitions", "7"), ("offsets.retention.check.interval.ms", "50"),
            ("group.max.size", "3"), ("offset.metadata.max.bytes", "10"),
            ("offsets.topic.replication.factor", "1"),
        ] {
            try config.set(key, value)
        }
        var expected = GroupCoordinatorConfig()
        expected.initialRebalanceDelayMilliseconds = 0
        expected.sessionTimeoutMillisecondsMin = 100
        expected.sessionTimeoutMillisecondsMax = 9000
        expected.offsetsRetentionMilliseconds = 120_000
        expected.offsetsTopicPartitions = 7
        expected.offsetsRetentionCheckIntervalMilliseconds = 50
        expected.membersPerGroupMax = 3
        expected.offsetMetadataBytesMax = 10
        #expect(config.groups == expected)
        #expect(throws: StorageError.self) { try config.set("offsets.retention.minutes", "0") }
        #expect(throws: StorageError.self) { try config.set("offsets.retention.minutes", "\(Int64.max)") }
        #expect(throws: StorageError.self) { try config.set("group.initial.rebalance.delay.ms", "-1") }
    }

    /// Found by protocol fuzzing: a JoinGroup held for a rebalance pinned its task and buffers until
    /// the rebalance ended even after its connection was gone, and a client-chosen rebalance timeout
    /// can put that weeks away. Closing the connection lets the request go.
    @Test func aHeldJoinIsLetGoWhenItsConnectionCloses() async throws {
        let harness = try GroupHarness()
        defer { harness.cleanup() }
        let leader = try await harness.joinNew("h")
        #expect(leader.errorCode == .noError)
        let synced = try await harness.sync(
            "h", member: leader.memberId, generation: leader.generationId, assignments: [leader.memberId: "a"])
        #expect(synced.errorCode == .noError)
        // A second member (v3: no member-id round trip) whose join waits for the leader to rejoin,
        // which it never does, under a rebalance timeout of an hour (the clock is manual anyway).
        let closed = harness.loop.next().makePromise(of: Void.self)
        let request = JoinGroupRequest(
            groupId: "h", sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 3_600_000, memberId: "",
            protocolType: "consumer", protocols: [.init(name: "range", metadata: ByteBuffer(string: "range"))])
        let groups = harness.broker.groups
        let outcome = Mutex<JoinGroupResponse?>(nil)
        let waiting = Task {
            let answer = await groups.join(
                request, version: 3, clientId: "c", clientHost: "/127.0.0.1", connectionClosed: closed.futureResult)
            outcome.withLock { $0 = answer }
        }
        // Held once the group is rebalancing with both members (the leader never rejoins).
        let heldBy = ContinuousClock.now + .seconds(30)
        while try await harness.describe("h").members.count < 2 && ContinuousClock.now < heldBy {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await harness.describe("h").groupState == "PreparingRebalance")
        #expect(outcome.withLock { $0 } == nil, "held: the leader has not rejoined")
        closed.succeed(())  // the connection goes away while the join is held
        // Polled, not awaited: without the fix the join would wait out the rebalance (cleanup's
        // shutDown then answers it, so the task never outlives the test).
        let deadline = ContinuousClock.now + .seconds(30)
        while outcome.withLock({ $0 }) == nil && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        _ = waiting
        let answer = try #require(
            outcome.withLock { $0 }, "the held join was still waiting 30 s after its connection closed")
        #expect(answer.errorCode == .rebalanceInProgress)
    }

    @Test func joinErrorsThroughTheBroker() async throws {
        let harness = try GroupHarness(minSession: 6000)
        defer { harness.cleanup() }
        #expect(try await harness.join("g", session: 5999).errorCode == .invalidSessionTimeout)
        #expect(try await harness.join("", version: 3).errorCode == .invalidGroupId)
        #expect(try await harness.join("g", member: "unknown").errorCode == .unknownMemberId)
        #expect(try await harness.sync("g", member: "unknown", generation: 1).errorCode == .unknownMemberId)
        let a = try await harness.join("g", version: 0, session: 6000)
        #expect(a.errorCode == .noError && a.generationId == 1, "v0 members use the session timeout to rebalance")
        let other = try await harness.join("g", version: 3, session: 6000, protocols: ["roundrobin"])
        #expect(other.errorCode == .inconsistentGroupProtocol)
    }

    /// 30 000 offset commits to 20 keys (5 groups × 4 partitions) with the cleaner running between
    /// rounds: the compacted offsets topic stays a small multiple of one segment, and every group
    /// reloads its last commit after a crash restart.
    @Test func offsetsTopicStaysSmallUnderManyCommitsAndReloads() async throws {
        let segmentBytes = 32 * 1024
        let harness = try GroupHarness(settings: ["offsets.topic.segment.bytes": "\(segmentBytes)"])
        defer { harness.cleanup() }
        let groups = (0..<5).map { "busy-\($0)" }
        let rounds = 10
        // × 4 partitions × 5 groups × 10 rounds = 30 000 commits: ~3 MB uncompacted, 6× the bound below.
        // (It was 100 000: two minutes of both cooperative threads, which starved the timing-sensitive
        // group-client tests running beside it.)
        let commitsPerGroupPerRound = 150
        var cleaned = 0
        for round in 0..<rounds {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for group in groups {
                    tasks.addTask {
                        for index in 0..<commitsPerGroupPerRound {
                            let offset = Int64(round * commitsPerGroupPerRound + index + 1)
                            let codes = try await harness.commit(group, [0: offset, 1: offset, 2: offset, 3: offset])
                            guard codes == Array(repeating: KafkaErrorCode.noError, count: 4) else {
                                throw HarnessFailure("commit \(group)@\(offset): \(codes)")
                            }
                        }
                    }
                }
                try await tasks.waitForAll()
            }
            harness.clock.advance(byMilliseconds: 1000)
            cleaned +=
                LogCleaner(manager: harness.logs, clock: harness.clock, logger: BrokerHarness.quiet)
                .runPass(nowMilliseconds: harness.clock.nowMilliseconds()).logsCompacted
        }
        let written = harness.logs.allLogs().filter { $0.topicPartition.topic == OffsetsTopic.name }
            .reduce(Int64(0)) { $0 + $1.logEndOffset }
        #expect(
            written == Int64(rounds * commitsPerGroupPerRound * 4 * groups.count), "one record per partition commit")
        let bytes = harness.logs.allLogs().filter { $0.topicPartition.topic == OffsetsTopic.name }
            .reduce(0) { $0 + $1.sizeInBytes }
        #expect(cleaned > 0)
        // Uncompacted, 30 000 commit records are about 3 MB; compacted, each partition holds at
        // most its active segment plus a small cleaned remainder.
        #expect(bytes < 4 * 4 * segmentBytes, "__consumer_offsets holds \(bytes) bytes after \(written) commits")
        try await harness.restart(clean: false)
        let last = Int64(rounds * commitsPerGroupPerRound)
        for group in groups {
            let fetched = try await harness.fetchOffsets(group, partitions: [0, 1, 2, 3])
            #expect(fetched.topics.first?.partitions.map(\.committedOffset) == [last, last, last, last], "\(group)")
        }
    }
}

struct HarnessFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

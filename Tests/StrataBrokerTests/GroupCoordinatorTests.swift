import NIOCore
@testable import StrataBroker
import StrataProtocol
import StrataStorage
import Testing

/// Drives one `ClassicGroup` by hand: numbered held requests, an explicit clock, no I/O.
struct GroupDriver {
    var group: ClassicGroup
    var now: Int64 = 1_000_000
    private var requests: UInt64 = 0

    init(delay: Int64 = 0, minSession: Int32 = 6000, maxSession: Int32 = 1_800_000) {
        var config = GroupCoordinatorConfig()
        config.initialRebalanceDelayMilliseconds = delay
        config.sessionTimeoutMillisecondsMin = minSession
        config.sessionTimeoutMillisecondsMax = maxSession
        group = ClassicGroup(groupId: "g", config: config, now: now)
    }

    mutating func nextHeld() -> HeldRequest {
        requests += 1
        return HeldRequest(id: requests)
    }

    /// Sends a JoinGroup; returns the request's id and every action.
    mutating func join(_ memberId: String = "", version: Int16 = 5, protocols: [String] = ["range"],
                       type: String = "consumer", session: Int32 = 10_000, rebalance: Int32 = 30_000,
                       newId: String = "m", instance: String? = nil) -> (HeldRequest, [GroupAction]) {
        let held = nextHeld()
        let request = JoinGroupRequest(
            groupId: group.groupId, sessionTimeoutMs: session, rebalanceTimeoutMs: rebalance, memberId: memberId,
            groupInstanceId: instance, protocolType: type,
            protocols: protocols.map { .init(name: $0, metadata: ByteBuffer(string: "\(instance ?? newId)-\($0)")) })
        let context = ClassicGroup.JoinContext(held: held, version: version, clientId: "c", clientHost: "h",
                                               newMemberId: newId, now: now)
        return (held, group.join(request, context))
    }

    /// First join of a new member at v5: MEMBER_ID_REQUIRED, then the rejoin with the given id.
    mutating func newMember(_ id: String, protocols: [String] = ["range"], session: Int32 = 10_000)
        -> (HeldRequest, [GroupAction]) {
        let (first, actions) = join(protocols: protocols, session: session, newId: id)
        let answer = joinAnswer(first, actions)
        precondition(answer?.errorCode == .memberIdRequired && answer?.memberId == id)
        return join(id, protocols: protocols, session: session, newId: id)
    }

    mutating func sync(_ memberId: String, generation: Int32? = nil, assignments: [String: String] = [:])
        -> (HeldRequest, [GroupAction]) {
        let held = nextHeld()
        let request = SyncGroupRequest(groupId: group.groupId, generationId: generation ?? group.generationId,
                                       memberId: memberId, assignments: assignments.sorted { $0.key < $1.key }.map {
                                           .init(memberId: $0.key, assignment: ByteBuffer(string: $0.value))
                                       })
        return (held, group.sync(request, held: held, now: now))
    }

    mutating func heartbeat(_ memberId: String, generation: Int32? = nil, instance: String? = nil) -> KafkaErrorCode {
        group.heartbeat(HeartbeatRequest(groupId: group.groupId, generationId: generation ?? group.generationId,
                                         memberId: memberId, groupInstanceId: instance), now: now)
    }

    mutating func leave(_ memberId: String) -> (KafkaErrorCode, [GroupAction]) {
        var actions: [GroupAction] = []
        let code = group.leave(memberId: memberId, now: now, &actions)
        return (code, actions)
    }

    mutating func advance(to time: Int64) -> [GroupAction] {
        now = time
        return group.expire(now: now)
    }

    /// Runs members through whole rebalances until the group is Stable with all of them.
    mutating func stableGroup(_ ids: [String] = ["a", "b"]) {
        for id in ids { _ = newMember(id) }
        for id in ids where group.state == .preparingRebalance && group.member(id)?.heldJoin == nil {
            _ = join(id, newId: id)
        }
        precondition(group.state == .completingRebalance, "\(group.state)")
        _ = sync(ids[0], assignments: Dictionary(uniqueKeysWithValues: ids.map { ($0, "to-\($0)") }))
        for id in ids.dropFirst() { _ = sync(id) }
        precondition(group.state == .stable, "\(group.state)")
    }
}

func joinAnswer(_ held: HeldRequest, _ actions: [GroupAction]) -> JoinGroupResponse? {
    for case let .respondJoin(id, response) in actions where id == held { return response }
    return nil
}

func syncAnswer(_ held: HeldRequest, _ actions: [GroupAction]) -> SyncGroupResponse? {
    for case let .respondSync(id, response) in actions where id == held { return response }
    return nil
}

func writes(_ actions: [GroupAction]) -> [GroupMetadataValue] {
    actions.compactMap { if case let .writeGroupMetadata(value) = $0 { return value } else { return nil } }
}

/// The `ClassicGroup` state machine: every transition and error code, time given explicitly.
@Suite struct GroupCoordinatorTests {
    @Test func firstJoinAtV4NeedsAMemberIdThenCompletesAlone() {
        var driver = GroupDriver()
        let (first, actions) = driver.join(newId: "m-1")
        #expect(joinAnswer(first, actions)?.errorCode == .memberIdRequired)
        #expect(joinAnswer(first, actions)?.memberId == "m-1")
        #expect(driver.group.state == .empty && driver.group.pendingMembers["m-1"] == driver.now + 10_000)
        let (rejoin, done) = driver.join("m-1", newId: "m-1")
        let answer = joinAnswer(rejoin, done)
        #expect(answer?.errorCode == .noError && answer?.generationId == 1 && answer?.leader == "m-1")
        #expect(answer?.protocolName == "range" && answer?.members.map(\.memberId) == ["m-1"])
        #expect(answer?.members.first?.metadata == ByteBuffer(string: "m-1-range"))
        #expect(driver.group.state == .completingRebalance)
    }

    @Test func joinBelowV4GetsAnIdAtOnce() {
        var driver = GroupDriver()
        let (held, actions) = driver.join(version: 3, newId: "x")
        #expect(joinAnswer(held, actions)?.memberId == "x" && joinAnswer(held, actions)?.generationId == 1)
    }

    @Test func pendingMemberIdExpiresAfterTheSessionTimeout() {
        var driver = GroupDriver()
        _ = driver.join(newId: "p")
        #expect(driver.group.nextDeadline == driver.now + 10_000)
        _ = driver.advance(to: driver.now + 10_000)
        #expect(driver.group.pendingMembers.isEmpty)
        let (held, actions) = driver.join("p")
        #expect(joinAnswer(held, actions)?.errorCode == .unknownMemberId)
    }

    @Test func initialDelayHoldsTheFirstRebalanceAndStretchesForLateJoiners() {
        var driver = GroupDriver(delay: 3000)
        let start = driver.now
        let (a, first) = driver.newMember("a")
        #expect(joinAnswer(a, first) == nil && driver.group.state == .preparingRebalance)
        #expect(driver.group.nextDeadline == start + 3000)
        driver.now = start + 2000
        let (b, _) = driver.newMember("b")
        #expect(driver.advance(to: start + 3000).isEmpty, "b joined late in the window: wait one more")
        #expect(driver.group.nextDeadline == start + 6000)
        let done = driver.advance(to: start + 6000)
        #expect(joinAnswer(a, done)?.generationId == 1 && joinAnswer(b, done)?.generationId == 1)
        #expect(joinAnswer(a, done)?.members.count == 2 && joinAnswer(b, done)?.members.isEmpty == true)
    }

    @Test func membersStartedTogetherCompleteAfterOneDelay() {
        var driver = GroupDriver(delay: 3000)
        let start = driver.now
        var held: [HeldRequest] = []
        for (index, id) in ["a", "b", "c", "d"].enumerated() {
            driver.now = start + Int64(index) * 100
            held.append(driver.newMember(id).0)
        }
        let done = driver.advance(to: start + 3000)
        #expect(held.allSatisfy { joinAnswer($0, done)?.generationId == 1 })
        #expect(joinAnswer(held[0], done)?.members.count == 4)
    }

    @Test(arguments: [Int32(5999), 1_800_001])
    func sessionTimeoutOutsideTheLimitsIsRejected(session: Int32) {
        var driver = GroupDriver()
        let (held, actions) = driver.join(session: session)
        #expect(joinAnswer(held, actions)?.errorCode == .invalidSessionTimeout)
        #expect(driver.group.pendingMembers.isEmpty)
    }

    @Test func inconsistentProtocolsAreRejected() {
        var driver = GroupDriver()
        var (held, actions) = driver.join(protocols: [])
        #expect(joinAnswer(held, actions)?.errorCode == .inconsistentGroupProtocol)
        (held, actions) = driver.join(type: "")
        #expect(joinAnswer(held, actions)?.errorCode == .inconsistentGroupProtocol)
        _ = driver.newMember("a", protocols: ["range"])
        (held, actions) = driver.join(protocols: ["roundrobin"], newId: "b")
        #expect(joinAnswer(held, actions)?.errorCode == .inconsistentGroupProtocol, "no assignor in common")
        (held, actions) = driver.join(type: "connect", newId: "c")
        #expect(joinAnswer(held, actions)?.errorCode == .inconsistentGroupProtocol, "other protocol type")
    }

    @Test func aFullGroupRejectsNewMembers() {
        var driver = GroupDriver()
        driver.group.config.membersPerGroupMax = 1
        _ = driver.newMember("a")
        let (held, actions) = driver.join(newId: "b")
        #expect(joinAnswer(held, actions)?.errorCode == .groupMaxSizeReached)
    }

    @Test func unknownMemberIdIsRejected() {
        var driver = GroupDriver()
        let (held, actions) = driver.join("nobody")
        #expect(joinAnswer(held, actions)?.errorCode == .unknownMemberId)
    }

    @Test func assignorIsChosenByVotesAmongThoseEveryMemberSupports() {
        var driver = GroupDriver(delay: 1000)
        let (a, _) = driver.newMember("a", protocols: ["range", "roundrobin", "sticky"])
        _ = driver.newMember("b", protocols: ["roundrobin", "range"])
        _ = driver.newMember("c", protocols: ["roundrobin", "range"])
        let done = driver.advance(to: driver.now + 1000)
        #expect(joinAnswer(a, done)?.protocolName == "roundrobin")
        #expect(driver.group.selectProtocol() == "roundrobin")
    }

    @Test func syncHoldsFollowersUntilTheLeaderWritesTheAssignment() {
        var driver = GroupDriver(delay: 100)
        _ = driver.newMember("a")
        _ = driver.newMember("b")
        _ = driver.advance(to: driver.now + 100)
        #expect(driver.group.state == .completingRebalance && driver.group.leaderId == "a")
        let (follower, held) = driver.sync("b")
        #expect(held.isEmpty, "the follower waits for the leader")
        let (leader, actions) = driver.sync("a", assignments: ["a": "p0,p1", "b": "p2,p3"])
        #expect(driver.group.state == .stable)
        guard case .writeGroupMetadata(let value) = actions.first else {
            Issue.record("the metadata write must come before the answers: \(actions)")
            return
        }
        #expect(value.generation == 1 && value.leader == "a" && value.protocolName == "range")
        #expect(value.members.map(\.assignment) == [ByteBuffer(string: "p0,p1"), ByteBuffer(string: "p2,p3")])
        #expect(syncAnswer(leader, actions)?.assignment == ByteBuffer(string: "p0,p1"))
        #expect(syncAnswer(follower, actions)?.assignment == ByteBuffer(string: "p2,p3"))
        let (late, again) = driver.sync("b")
        #expect(syncAnswer(late, again)?.assignment == ByteBuffer(string: "p2,p3"), "Stable: answered at once")
    }

    @Test func syncErrors() {
        var driver = GroupDriver()
        let (held, actions) = driver.sync("ghost")
        #expect(syncAnswer(held, actions)?.errorCode == .unknownMemberId)
        driver.stableGroup()
        var (request, answer) = driver.sync("a", generation: 7)
        #expect(syncAnswer(request, answer)?.errorCode == .illegalGeneration)
        _ = driver.newMember("c")
        #expect(driver.group.state == .preparingRebalance)
        (request, answer) = driver.sync("a")
        #expect(syncAnswer(request, answer)?.errorCode == .rebalanceInProgress)
    }

    @Test func heartbeatErrors() {
        var driver = GroupDriver()
        #expect(driver.heartbeat("a") == .unknownMemberId)
        _ = driver.newMember("a")
        #expect(driver.heartbeat("a") == .noError, "CompletingRebalance accepts heartbeats")
        #expect(driver.heartbeat("a", generation: 0) == .illegalGeneration)
        _ = driver.sync("a", assignments: ["a": "x"])
        #expect(driver.heartbeat("a") == .noError)
        _ = driver.newMember("b")
        #expect(driver.heartbeat("a") == .rebalanceInProgress)
        #expect(driver.heartbeat("zz") == .unknownMemberId)
    }

    @Test func aNewMemberRebalancesAStableGroup() {
        var driver = GroupDriver()
        driver.stableGroup(["a"])
        let (b, held) = driver.newMember("b")
        #expect(joinAnswer(b, held) == nil && driver.group.state == .preparingRebalance)
        #expect(driver.heartbeat("a") == .rebalanceInProgress)
        let (a, done) = driver.join("a", newId: "a")
        #expect(joinAnswer(a, done)?.generationId == 2 && joinAnswer(b, done)?.generationId == 2)
        #expect(joinAnswer(a, done)?.members.count == 2)
    }

    @Test func unchangedFollowerRejoiningAStableGroupGetsTheCurrentGeneration() {
        var driver = GroupDriver()
        driver.stableGroup()
        let generation = driver.group.generationId
        let (held, actions) = driver.join("b", newId: "b")
        #expect(joinAnswer(held, actions)?.generationId == generation && driver.group.state == .stable)
        let (leader, rebalance) = driver.join("a", newId: "a")
        #expect(joinAnswer(leader, rebalance) == nil && driver.group.state == .preparingRebalance,
                "the leader rejoining starts a rebalance")
    }

    @Test func membersThatDoNotRejoinInTimeAreDropped() {
        var driver = GroupDriver()
        driver.stableGroup()
        let (a, _) = driver.join("a", newId: "a")
        #expect(driver.group.nextDeadline == driver.now + 10_000, "b's session ends before the rebalance timeout")
        driver.now += 5_000
        #expect(driver.heartbeat("b") == .rebalanceInProgress)
        #expect(driver.group.nextDeadline == driver.now + 10_000)
        let done = driver.advance(to: driver.now + 10_000)
        #expect(joinAnswer(a, done)?.generationId == driver.group.generationId)
        #expect(joinAnswer(a, done)?.members.map(\.memberId) == ["a"])
        #expect(driver.group.member("b") == nil)
    }

    @Test func rebalanceTimeoutEndsTheJoinPhase() {
        var driver = GroupDriver()
        driver.stableGroup()
        let (a, _) = driver.join("a", newId: "a")
        for step in 1...5 {  // b keeps heartbeating but never rejoins
            driver.now += 6_000
            #expect(driver.heartbeat("b") == .rebalanceInProgress, "step \(step)")
        }
        let done = driver.advance(to: driver.now + 1_000)
        #expect(joinAnswer(a, done)?.members.map(\.memberId) == ["a"], "30 s rebalance timeout passed")
    }

    @Test func expiredSessionsRebalanceTheRest() {
        var driver = GroupDriver()
        driver.stableGroup()
        driver.now += 9_000
        #expect(driver.heartbeat("a") == .noError)
        _ = driver.advance(to: driver.now + 1_000)
        #expect(driver.group.member("b") == nil && driver.group.state == .preparingRebalance)
        #expect(driver.heartbeat("a") == .rebalanceInProgress)
    }

    @Test func membersThatNeverSyncAreDroppedAfterTheRebalanceTimeout() {
        var driver = GroupDriver()
        _ = driver.newMember("a", session: 60_000)
        #expect(driver.group.syncDeadline == driver.now + 30_000)
        let actions = driver.advance(to: driver.now + 30_000)
        #expect(driver.group.members.isEmpty && driver.group.state == .empty && driver.group.generationId == 2)
        #expect(writes(actions).count == 1)
    }

    @Test func lastMemberLeavingEmptiesTheGroup() {
        var driver = GroupDriver()
        driver.stableGroup()
        let generation = driver.group.generationId
        #expect(driver.leave("zz").0 == .unknownMemberId)
        var (code, actions) = driver.leave("a")
        #expect(code == .noError && driver.group.state == .preparingRebalance && driver.group.leaderId == "b")
        #expect(actions.isEmpty)
        (code, actions) = driver.leave("b")
        #expect(code == .noError && driver.group.state == .empty && driver.group.generationId == generation + 1)
        #expect(writes(actions).map(\.members.count) == [0])
    }

    @Test func leavingWhileHeldAnswersTheHeldJoin() {
        var driver = GroupDriver()
        driver.stableGroup()
        let (a, _) = driver.join("a", newId: "a")
        let (_, actions) = driver.leave("a")
        #expect(joinAnswer(a, actions)?.errorCode == .unknownMemberId)
    }

    @Test func offsetCommitValidation() {
        var driver = GroupDriver()
        #expect(driver.group.validateOffsetCommit(generationId: -1, memberId: "", groupInstanceId: nil) == .noError)
        _ = driver.newMember("a")
        let group = driver.group
        #expect(group.validateOffsetCommit(generationId: 1, memberId: "a", groupInstanceId: nil)
                == .rebalanceInProgress)
        _ = driver.sync("a", assignments: ["a": "x"])
        let stable = driver.group
        #expect(stable.validateOffsetCommit(generationId: 1, memberId: "a", groupInstanceId: nil) == .noError)
        #expect(stable.validateOffsetCommit(generationId: -1, memberId: "", groupInstanceId: nil) == .unknownMemberId)
        #expect(stable.validateOffsetCommit(generationId: 1, memberId: "b", groupInstanceId: nil) == .unknownMemberId)
        #expect(stable.validateOffsetCommit(generationId: 0, memberId: "a", groupInstanceId: nil) == .illegalGeneration)
    }

    @Test func offsetsOfAnEmptyGroupExpireAfterTheRetention() {
        var driver = GroupDriver()
        driver.stableGroup(["a"])
        let t0 = TopicPartition("t", 0)
        let t1 = TopicPartition("t", 1)
        driver.group.applyCommittedOffsets([(t0, CommittedOffset(offset: 5, commitTimestamp: driver.now)),
                                            (t1, CommittedOffset(offset: 6, commitTimestamp: driver.now,
                                                                 expireTimestamp: driver.now + 50))])
        #expect(driver.group.expiredOffsets(now: driver.now + 100_000, retentionMilliseconds: 1000).isEmpty,
                "a group with members keeps its offsets")
        driver.now += 1000
        _ = driver.leave("a")
        #expect(driver.group.expiredOffsets(now: driver.now + 999, retentionMilliseconds: 1000) == [t1])
        #expect(driver.group.expiredOffsets(now: driver.now + 1000, retentionMilliseconds: 1000) == [t0, t1])
        driver.group.removeOffsets([t0, t1])
        #expect(driver.group.isDeletable)
    }

    @Test func aLoadedGroupResumesItsGeneration() {
        var driver = GroupDriver()
        driver.stableGroup()
        let value = driver.group.metadataValue()
        let loaded = ClassicGroup(groupId: "g", config: driver.group.config, loaded: value, offsets: [:],
                                  now: driver.now + 5)
        let generation = driver.group.generationId
        #expect(loaded.state == .stable && loaded.generationId == generation && loaded.leaderId == "a")
        #expect(loaded.members.map(\.memberId) == ["a", "b"])
        #expect(loaded.member("b")?.assignment == ByteBuffer(string: "to-b"))
        #expect(loaded.nextDeadline == driver.now + 5 + 10_000, "members must heartbeat again")
        var restored = GroupDriver()
        restored.group = loaded
        #expect(restored.heartbeat("b", generation: generation) == .noError)
        let emptied = ClassicGroup(groupId: "g", config: driver.group.config,
                                   loaded: GroupMetadataValue(protocolType: "consumer", generation: 4,
                                                              protocolName: nil, leader: nil, members: []),
                                   offsets: [:], now: 0)
        #expect(emptied.state == .empty && emptied.generationId == 4)
    }

    @Test func describeShowsAssignmentsOnlyWhenStable() {
        var driver = GroupDriver()
        _ = driver.newMember("a")
        #expect(driver.group.describe().groupState == "CompletingRebalance")
        #expect(driver.group.describe().members.first?.memberAssignment == ByteBuffer())
        _ = driver.sync("a", assignments: ["a": "x"])
        let described = driver.group.describe()
        #expect(described.groupState == "Stable" && described.protocolType == "consumer")
        #expect(described.protocolData == "range")
        #expect(described.members.first?.memberAssignment == ByteBuffer(string: "x"))
        #expect(described.members.first?.clientId == "c")
    }

    /// Two static members ("a" as instance "ia", "b" as "ib"), Stable.
    func staticGroup() -> GroupDriver {
        var driver = GroupDriver()
        let (a, first) = driver.join(newId: "a", instance: "ia")
        #expect(joinAnswer(a, first)?.generationId == 1, "static members skip MEMBER_ID_REQUIRED")
        _ = driver.join(newId: "b", instance: "ib")
        _ = driver.join("a", newId: "a", instance: "ia")
        _ = driver.sync("a", assignments: ["a": "to-a", "b": "to-b"])
        _ = driver.sync("b")
        #expect(driver.group.state == .stable && driver.group.staticMembers == ["ia": "a", "ib": "b"])
        return driver
    }

    @Test func aRestartedStaticMemberKeepsItsAssignmentWithoutARebalance() {
        var driver = staticGroup()
        let generation = driver.group.generationId
        let (held, actions) = driver.join(newId: "b2", instance: "ib")
        #expect(writes(actions).count == 1, "the new member id is persisted")
        guard case .writeGroupMetadata = actions.first else {
            Issue.record("the write must precede the answer: \(actions)")
            return
        }
        let answer = joinAnswer(held, actions)
        #expect(answer?.memberId == "b2" && answer?.generationId == generation && answer?.leader == "a")
        #expect(driver.group.state == .stable && driver.group.member("b2")?.assignment == ByteBuffer(string: "to-b"))
        #expect(driver.heartbeat("b", instance: "ib") == .fencedInstanceId, "the old incarnation is fenced")
        #expect(driver.heartbeat("b2", instance: "ib") == .noError)
        let (sync, synced) = driver.sync("b2")
        #expect(syncAnswer(sync, synced)?.assignment == ByteBuffer(string: "to-b"))
        #expect(driver.group.validateOffsetCommit(generationId: generation, memberId: "b", groupInstanceId: "ib")
                == .fencedInstanceId)
    }

    @Test func aStaticMemberRejoiningDuringARebalanceTakesItsPlaceAndCanLeaveByInstanceId() {
        var driver = staticGroup()
        let (changed, same) = driver.join(protocols: ["range", "roundrobin"], newId: "b2", instance: "ib")
        #expect(joinAnswer(changed, same)?.memberId == "b2", "the selected assignor stays range: no rebalance")
        let (a, _) = driver.join("a", newId: "a", instance: "ia")
        #expect(driver.group.state == .preparingRebalance)
        let generation = driver.group.generationId
        let (b3, replaced) = driver.join(newId: "b3", instance: "ib")
        #expect(driver.group.member("b2") == nil, "b3 took b2's place")
        #expect(joinAnswer(b3, replaced)?.generationId == generation + 1, "everyone joined: the rebalance ends")
        #expect(joinAnswer(a, replaced)?.members.map(\.memberId) == ["a", "b3"])
        var leaving: [GroupAction] = []
        #expect(driver.group.leave(memberId: "x", instance: "ib", now: driver.now, &leaving) == .fencedInstanceId)
        #expect(driver.group.leave(memberId: "", instance: "ib", now: driver.now, &leaving) == .noError)
        #expect(driver.group.staticMembers == ["ia": "a"] && driver.group.state == .preparingRebalance)
        #expect(driver.group.leave(memberId: "", instance: "zz", now: driver.now, &leaving) == .unknownMemberId)
    }

    @Test func staticMembersThatDoNotRejoinKeepTheirPlaceUntilTheirSessionEnds() {
        var driver = staticGroup()
        let (a, _) = driver.join("a", newId: "a", instance: "ia")
        let done = driver.advance(to: driver.now + 30_000)  // rebalance timeout; b's session (10 s) ended first
        #expect(joinAnswer(a, done)?.members.map(\.memberId) == ["a"], "b expired with its session")
        var slow = staticGroup()
        let (kept, _) = slow.join("a", session: 60_000, newId: "a", instance: "ia")
        for _ in 0..<5 {
            slow.now += 6_000
            _ = slow.heartbeat("b", instance: "ib")
        }
        let completed = slow.advance(to: slow.now + 1_000)
        #expect(joinAnswer(kept, completed)?.members.map(\.memberId) == ["a", "b"],
                "a static member that did not rejoin in time keeps its place")
    }

    @Test func groupToPartitionFollowsJavaHashCode() {
        #expect(OffsetsTopic.javaHashCode("my-group") == -1_906_497_762)
        #expect(OffsetsTopic.javaHashCode("test-group") == 627_841_412)
        #expect(OffsetsTopic.javaHashCode("group1") == -1_237_460_590)
        #expect(OffsetsTopic.partition(for: "my-group", partitions: 50) == 12)
        #expect(OffsetsTopic.partition(for: "test-group", partitions: 50) == 12)
        #expect(OffsetsTopic.partition(for: "group1", partitions: 50) == 40)
        #expect(OffsetsTopic.partition(for: "", partitions: 50) == 0)
        #expect(OffsetsTopic.javaHashCode("€") == 8364, "one UTF-16 unit")
        #expect(OffsetsTopic.javaHashCode("𝄞") == 31 * 0xD834 + 0xDD1E, "a surrogate pair counts as two units")
    }

    @Test func replayKeepsTheLastWriteAndHonoursTombstones() throws {
        var groups: [String: OffsetsTopic.LoadedGroup] = [:]
        let partition = TopicPartition("t", 3)
        let latest = CommittedOffset(offset: 7, leaderEpoch: 0, metadata: "m", commitTimestamp: 10)
        let metadata = GroupMetadataValue(protocolType: "consumer", generation: 3, protocolName: "range", leader: "a",
                                          members: [])
        let entries = [
            OffsetsTopic.offsetCommit(group: "g", partition: partition, CommittedOffset(offset: 1, commitTimestamp: 9)),
            OffsetsTopic.offsetCommit(group: "g", partition: partition, latest),
            OffsetsTopic.groupMetadata(group: "g", metadata),
            OffsetsTopic.offsetCommit(group: "h", partition: partition,
                                      CommittedOffset(offset: 2, commitTimestamp: 9, expireTimestamp: 99)),
            OffsetsTopic.offsetTombstone(group: "h", partition: partition),
        ]
        let batch = try OffsetsTopic.batch(entries, timestamp: 10)
        for record in try batch.records() {
            try OffsetsTopic.replay(key: try #require(record.key), value: record.value, into: &groups)
        }
        #expect(groups["g"]?.offsets[partition] == latest)
        #expect(groups["g"]?.metadata?.generation == 3)
        #expect(groups["h"]?.offsets.isEmpty == true)
        var tombstoned = groups
        try OffsetsTopic.replay(key: OffsetsTopic.groupTombstone(group: "g").key, value: nil, into: &tombstoned)
        #expect(tombstoned["g"]?.metadata == nil && tombstoned["g"]?.offsets.count == 1)
    }
}

import NIOCore
import Testing

@testable import StrataClient

/// The eager assignors as pure functions, checked against the assignments Java's `RangeAssignor`
/// and `RoundRobinAssignor` produce for the same input, and the embedded consumer protocol bytes.
@Suite struct AssignorTests {
    typealias Member = PartitionAssignor.Member

    func names(_ plan: [String: [TopicPartition]]) -> [String: [String]] {
        plan.mapValues { $0.map(\.description) }
    }

    @Test func rangeGivesContiguousRangesAndTheRemainderToTheFirstMembers() {
        let members = [Member(memberId: "b", topics: ["t"]), Member(memberId: "a", topics: ["t"])]
        let plan = PartitionAssignor.range.assign(members: members, partitionCounts: ["t": 4])
        #expect(names(plan) == ["a": ["t-0", "t-1"], "b": ["t-2", "t-3"]])
        let three = members + [Member(memberId: "c", topics: ["t"])]
        #expect(
            names(PartitionAssignor.range.assign(members: three, partitionCounts: ["t": 4]))
                == ["a": ["t-0", "t-1"], "b": ["t-2"], "c": ["t-3"]])
    }

    @Test func rangeWorksPerTopicSoTheFirstMemberGetsEveryTopicsRemainder() {
        // Java's documented example: C0, C1 on t0, t1 with 3 partitions each.
        let members = [Member(memberId: "C0", topics: ["t0", "t1"]), Member(memberId: "C1", topics: ["t0", "t1"])]
        let plan = PartitionAssignor.range.assign(members: members, partitionCounts: ["t0": 3, "t1": 3])
        #expect(names(plan) == ["C0": ["t0-0", "t0-1", "t1-0", "t1-1"], "C1": ["t0-2", "t1-2"]])
    }

    @Test func roundRobinDealsSortedPartitionsInTurn() {
        // Java's documented example: C0, C1 on t0, t1 with 3 partitions each.
        let members = [Member(memberId: "C1", topics: ["t0", "t1"]), Member(memberId: "C0", topics: ["t0", "t1"])]
        let plan = PartitionAssignor.roundRobin.assign(members: members, partitionCounts: ["t0": 3, "t1": 3])
        #expect(names(plan) == ["C0": ["t0-0", "t0-2", "t1-1"], "C1": ["t0-1", "t1-0", "t1-2"]])
    }

    @Test func roundRobinSkipsMembersNotSubscribedToTheTopic() {
        // Java's documented example with unequal subscriptions: C0 t0; C1 t0,t1; C2 t0,t1,t2.
        let members = [
            Member(memberId: "C0", topics: ["t0"]), Member(memberId: "C1", topics: ["t0", "t1"]),
            Member(memberId: "C2", topics: ["t0", "t1", "t2"]),
        ]
        let plan = PartitionAssignor.roundRobin.assign(
            members: members, partitionCounts: ["t0": 1, "t1": 2, "t2": 3])
        #expect(names(plan) == ["C0": ["t0-0"], "C1": ["t1-0"], "C2": ["t1-1", "t2-0", "t2-1", "t2-2"]])
    }

    @Test func everyMemberAppearsAndUnknownTopicsAreSkipped() {
        let members = [Member(memberId: "a", topics: ["t"]), Member(memberId: "b", topics: ["t", "gone"])]
        for assignor in PartitionAssignor.allCases {
            let plan = assignor.assign(members: members, partitionCounts: ["t": 1])
            #expect(plan.keys.sorted() == ["a", "b"])
            #expect(plan.values.flatMap { $0 } == [TopicPartition(topic: "t", partition: 0)])
        }
    }

    @Test func everyPartitionGoesToExactlyOneSubscribedMember() {
        var seed: UInt64 = 0x5eed_1234
        print("seed \(seed)")
        func random(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        let topics = ["a", "b", "c", "d"]
        for _ in 0..<200 {
            var counts: [String: Int32] = [:]
            for topic in topics { counts[topic] = Int32(1 + random(9)) }
            let members = (0..<(1 + random(6))).map { index in
                Member(memberId: "m\(index)", topics: topics.filter { _ in random(2) == 0 } + ["a"])
            }
            for assignor in PartitionAssignor.allCases {
                let plan = assignor.assign(members: members, partitionCounts: counts)
                let all = plan.values.flatMap { $0 }
                #expect(Set(all).count == all.count, "no partition twice (\(assignor))")
                let subscribed = Set(members.flatMap(\.topics))
                #expect(all.count == subscribed.reduce(0) { $0 + Int(counts[$1] ?? 0) })
                for (member, partitions) in plan {
                    let topics = members.first { $0.memberId == member }?.topics ?? []
                    #expect(partitions.allSatisfy { topics.contains($0.topic) })
                }
            }
        }
    }

    @Test func subscriptionBytesAreJavasVersion1Layout() throws {
        let bytes = ConsumerProtocol.encodeSubscription(topics: ["ab"], owned: [])
        #expect(Array(bytes.readableBytesView) == [0, 1, 0, 0, 0, 1, 0, 2, 97, 98, 255, 255, 255, 255, 0, 0, 0, 0])
        #expect(try ConsumerProtocol.decodeSubscription(bytes) == ["ab"])
        // A version-3 subscription as librdkafka sends it (owned partitions, generation, rack).
        var v3 = ByteBuffer(bytes: [0, 3, 0, 0, 0, 2, 0, 1, 120, 0, 1, 121, 0, 0, 0, 0])
        v3.writeBytes([0, 0, 0, 1, 0, 1, 120, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 7, 255, 255])
        #expect(try ConsumerProtocol.decodeSubscription(v3) == ["x", "y"])
        #expect(throws: ClientError.self) { try ConsumerProtocol.decodeSubscription(ByteBuffer(bytes: [0, 1, 0])) }
    }

    @Test func assignmentBytesRoundTripAndEmptyMeansNothing() throws {
        let partitions = [
            TopicPartition(topic: "t", partition: 2), TopicPartition(topic: "s", partition: 0),
            TopicPartition(topic: "t", partition: 0),
        ]
        let bytes = ConsumerProtocol.encodeAssignment(partitions)
        #expect(
            Array(bytes.readableBytesView) == [
                0, 1, 0, 0, 0, 2, 0, 1, 115, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 116, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2,
                255, 255, 255, 255,
            ])
        #expect(try ConsumerProtocol.decodeAssignment(bytes) == partitions.sorted())
        #expect(try ConsumerProtocol.decodeAssignment(ByteBuffer()) == [])
        #expect(throws: ClientError.self) {
            try ConsumerProtocol.decodeAssignment(ByteBuffer(bytes: [0, 0, 0, 0, 0, 9]))
        }
    }
}

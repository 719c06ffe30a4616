/// A partition of a topic.
public struct TopicPartition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    public var description: String { "\(topic)-\(partition)" }
}

/// How the group leader splits the subscribed partitions among the members: Kafka's eager assignors,
/// as pure functions of the members' subscriptions and the partition counts, with the exact results
/// of Java's `RangeAssignor` and `RoundRobinAssignor` (and librdkafka's), so a group that mixes
/// StrataClient with other clients gets the same assignment whoever leads.
///
/// The raw value is the protocol name sent in JoinGroup.
public enum PartitionAssignor: String, Sendable, CaseIterable {
    /// `range`: per topic, members sorted by member id each take a contiguous range; the first
    /// `partitions % members` take one more.
    case range
    /// `roundrobin`: every subscribed partition, sorted by topic then partition, dealt in turn to the
    /// members sorted by member id, skipping members that do not subscribe to its topic.
    case roundRobin = "roundrobin"

    /// One member's input to an assignment.
    public struct Member: Sendable, Equatable {
        public var memberId: String
        public var topics: [String]

        public init(memberId: String, topics: [String]) {
            self.memberId = memberId
            self.topics = topics
        }
    }

    /// Assigns the partitions of every subscribed topic found in `partitionCounts` (topics missing
    /// there are skipped, as Java does for topics without metadata). Every member appears in the
    /// result, possibly with nothing.
    public func assign(members: [Member], partitionCounts: [String: Int32]) -> [String: [TopicPartition]] {
        var result: [String: [TopicPartition]] = [:]
        for member in members { result[member.memberId] = [] }
        let sorted = members.sorted { $0.memberId < $1.memberId }
        switch self {
        case .range:
            let topics = Set(sorted.flatMap(\.topics)).sorted()
            for topic in topics {
                guard let count = partitionCounts[topic], count > 0 else { continue }
                let subscribers = sorted.filter { $0.topics.contains(topic) }
                let share = Int(count) / subscribers.count
                let extra = Int(count) % subscribers.count
                var next = 0
                for (index, member) in subscribers.enumerated() {
                    let length = share + (index < extra ? 1 : 0)
                    for partition in next..<(next + length) {
                        result[member.memberId, default: []].append(
                            TopicPartition(topic: topic, partition: Int32(partition)))
                    }
                    next += length
                }
            }
        case .roundRobin:
            guard !sorted.isEmpty else { return result }
            let topics = Set(sorted.flatMap(\.topics)).sorted()
            var cursor = 0
            for topic in topics {
                guard let count = partitionCounts[topic], count > 0 else { continue }
                for partition in 0..<count {
                    // Advance to the next member subscribing to this topic (one exists: the topic
                    // came from some member's subscription).
                    while !sorted[cursor % sorted.count].topics.contains(topic) { cursor += 1 }
                    result[sorted[cursor % sorted.count].memberId, default: []].append(
                        TopicPartition(topic: topic, partition: partition))
                    cursor += 1
                }
            }
        }
        return result
    }
}

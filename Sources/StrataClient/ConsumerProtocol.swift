import NIOCore

/// The embedded "consumer" protocol payloads carried opaquely by JoinGroup (a member's
/// subscription) and SyncGroup (a member's assignment), encoded as Java's `ConsumerProtocol` and
/// librdkafka do: big-endian, an int16 version first, never flexible.
///
/// | payload | version | fields |
/// |---|---|---|
/// | Subscription | 0 | `topics [string]`, `user_data nullable bytes` |
/// | Subscription | 1+ | + `owned_partitions [topic string, partitions [int32]]` |
/// | Subscription | 2+ | + `generation_id int32` |
/// | Subscription | 3+ | + `rack_id nullable string` |
/// | Assignment | 0+ | `assigned_partitions [topic string, partitions [int32]]`, `user_data nullable bytes` |
///
/// Readers accept any version by parsing the prefix they know (newer versions only append fields).
enum ConsumerProtocol {
    static let protocolType = "consumer"
    static let subscriptionVersion: Int16 = 1
    static let assignmentVersion: Int16 = 1

    /// A member's subscription (version 1: topics, null user data, owned partitions).
    static func encodeSubscription(topics: [String], owned: [TopicPartition]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(subscriptionVersion)
        buffer.writeInteger(Int32(topics.count))
        for topic in topics { writeString(topic, into: &buffer) }
        buffer.writeInteger(Int32(-1))  // user_data: null
        writePartitions(owned, into: &buffer)
        return buffer
    }

    /// The subscribed topics of a member's subscription.
    static func decodeSubscription(_ bytes: ByteBuffer) throws(ClientError) -> [String] {
        var buffer = bytes
        guard buffer.readInteger(as: Int16.self) != nil, let count = buffer.readInteger(as: Int32.self),
            count >= 0, Int(count) <= buffer.readableBytes / 2
        else { throw malformed("subscription header") }
        var topics: [String] = []
        for _ in 0..<count { topics.append(try readString(&buffer)) }
        return topics
    }

    /// A member's assignment (null user data).
    static func encodeAssignment(_ partitions: [TopicPartition]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(assignmentVersion)
        writePartitions(partitions, into: &buffer)
        buffer.writeInteger(Int32(-1))  // user_data: null
        return buffer
    }

    /// The partitions of an assignment; empty bytes (a member the leader gave nothing) is empty.
    static func decodeAssignment(_ bytes: ByteBuffer) throws(ClientError) -> [TopicPartition] {
        var buffer = bytes
        guard buffer.readableBytes > 0 else { return [] }
        guard buffer.readInteger(as: Int16.self) != nil else { throw malformed("assignment version") }
        return try readPartitions(&buffer)
    }

    private static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(Int16(string.utf8.count))
        buffer.writeString(string)
    }

    private static func writePartitions(_ partitions: [TopicPartition], into buffer: inout ByteBuffer) {
        let byTopic = Dictionary(grouping: partitions, by: \.topic)
        buffer.writeInteger(Int32(byTopic.count))
        for topic in byTopic.keys.sorted() {
            writeString(topic, into: &buffer)
            let numbers = byTopic[topic, default: []].map(\.partition).sorted()
            buffer.writeInteger(Int32(numbers.count))
            for number in numbers { buffer.writeInteger(number) }
        }
    }

    private static func readString(_ buffer: inout ByteBuffer) throws(ClientError) -> String {
        guard let length = buffer.readInteger(as: Int16.self), length >= 0,
            let string = buffer.readString(length: Int(length))
        else { throw malformed("string") }
        return string
    }

    private static func readPartitions(_ buffer: inout ByteBuffer) throws(ClientError) -> [TopicPartition] {
        guard let topicCount = buffer.readInteger(as: Int32.self), topicCount >= 0,
            Int(topicCount) <= buffer.readableBytes / 2
        else { throw malformed("assigned topics") }
        var result: [TopicPartition] = []
        for _ in 0..<topicCount {
            let topic = try readString(&buffer)
            guard let count = buffer.readInteger(as: Int32.self), count >= 0, Int(count) <= buffer.readableBytes / 4
            else { throw malformed("partitions of \(topic)") }
            for _ in 0..<count {
                guard let partition = buffer.readInteger(as: Int32.self) else { throw malformed("partition") }
                result.append(TopicPartition(topic: topic, partition: partition))
            }
        }
        return result
    }

    private static func malformed(_ what: String) -> ClientError {
        .protocolViolation(broker: "group coordinator", reason: "malformed consumer protocol \(what)")
    }
}

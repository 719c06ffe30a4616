import Foundation
import NIOCore
import NIOPosix
import StrataProtocol
import StrataRecords

/// Consumer settings (Kafka's names in the doc comments).
public struct ConsumerConfig: Sendable {
    /// `fetch.max.wait.ms`: how long the broker may hold a fetch waiting for data.
    public var fetchMaxWaitMilliseconds: Int32 = 500
    /// `fetch.min.bytes`.
    public var fetchMinBytes: Int32 = 1
    /// `fetch.max.bytes` and `max.partition.fetch.bytes`.
    public var fetchMaxBytes: Int32 = 50 << 20
    public var partitionFetchMaxBytes: Int32 = 1 << 20
    /// `auto.offset.reset` when a position is out of range: earliest or latest.
    public var resetToEarliest = true
    public var clientId = "strata-swift-consumer"

    public init() {}
}

/// Where to start reading a partition.
public enum StartPosition: Sendable, Equatable {
    case earliest
    case latest
    case offset(Int64)
    /// The first record with a timestamp ≥ this (milliseconds), else the log end.
    case timestamp(Int64)
}

/// One consumed record.
public struct ConsumerRecord: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var timestamp: Int64
    public var key: ByteBuffer?
    public var value: ByteBuffer?
    public var headers: [RecordHeader]
}

/// An async/await consumer of assigned partitions: `for try await record in consumer.records`.
/// One fetch is kept in flight ahead of the caller (pipelining); records below the requested
/// offset inside a returned batch are skipped; offset gaps (compaction) are followed; an
/// out-of-range position is reset per `resetToEarliest`. Group subscription arrives with the
/// consumer-groups work.
///
/// Thread-safety: positions live in the `Positions` actor; the cluster view in the `Cluster` actor.
public final class StrataConsumer: Sendable {
    public let config: ConsumerConfig
    private let cluster: Cluster
    private let positions = Positions()
    private let group: EventLoopGroup
    private let ownsGroup: Bool

    public init(
        bootstrap: [String], config: ConsumerConfig = ConsumerConfig(), group: EventLoopGroup? = nil
    )
        async throws
    {
        self.config = config
        self.group = group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        ownsGroup = group == nil
        cluster = try Cluster(bootstrap: bootstrap, group: self.group, clientId: config.clientId)
        _ = try await cluster.anyConnection()
    }

    /// Assigns `partitions` of `topic` (nil: all), each starting at `start`.
    public func assign(topic: String, partitions: [Int32]? = nil, from start: StartPosition) async throws {
        let known = try await cluster.partitions(of: topic).map(\.partition)
        for partition in partitions ?? known {
            guard known.contains(partition) else {
                throw ClientError.broker(.fetch, .unknownTopicOrPartition, topic: topic, partition: partition)
            }
            let offset = try await resolve(start, topic: topic, partition: partition)
            await positions.set(topic, partition, offset)
        }
    }

    /// Moves a partition's position.
    public func seek(topic: String, partition: Int32, to start: StartPosition) async throws {
        await positions.set(topic, partition, try await resolve(start, topic: topic, partition: partition))
    }

    /// The next offset to be returned for a partition.
    public func position(topic: String, partition: Int32) async -> Int64? { await positions.get(topic, partition) }

    /// The partition's log end offset (the offset the next record will get).
    public func endOffset(topic: String, partition: Int32) async throws -> Int64 {
        try await listOffset(topic: topic, partition: partition, timestamp: -1)
    }

    /// The partition's first offset (the log start offset).
    public func beginningOffset(topic: String, partition: Int32) async throws -> Int64 {
        try await listOffset(topic: topic, partition: partition, timestamp: -2)
    }

    /// ListOffsets for one partition: -2 earliest, -1 latest, else a timestamp.
    func listOffset(topic: String, partition: Int32, timestamp: Int64) async throws -> Int64 {
        let connection = try await cluster.leader(topic, partition)
        var request = ListOffsetsRequest()
        request.topics = [
            TopicPartitions(name: topic, partitions: [.init(partitionIndex: partition, timestamp: timestamp)])
        ]
        let response = try await connection.send(request)
        guard let answer = response.topics.first?.partitions.first else {
            throw ClientError.protocolViolation(
                broker: connection.address, reason: "ListOffsets answer without partition")
        }
        guard answer.errorCode == .noError else {
            throw ClientError.broker(.listOffsets, answer.errorCode, topic: topic, partition: partition)
        }
        return answer.offset
    }

    private func resolve(_ start: StartPosition, topic: String, partition: Int32) async throws -> Int64 {
        switch start {
        case .earliest: return try await listOffset(topic: topic, partition: partition, timestamp: -2)
        case .latest: return try await listOffset(topic: topic, partition: partition, timestamp: -1)
        case .offset(let offset): return offset
        case .timestamp(let time):
            let found = try await listOffset(topic: topic, partition: partition, timestamp: time)
            return found >= 0 ? found : try await listOffset(topic: topic, partition: partition, timestamp: -1)
        }
    }

    /// The records of every assigned partition, in offset order per partition, until cancelled or
    /// a non-retriable error.
    public var records: Records { Records(consumer: self) }

    public func close() async {
        await cluster.close()
        if ownsGroup { try? await group.shutdownGracefully() }
    }

    /// An `AsyncSequence` of records with one fetch in flight ahead of the caller.
    public struct Records: AsyncSequence, Sendable {
        public typealias Element = ConsumerRecord
        let consumer: StrataConsumer

        public struct AsyncIterator: AsyncIteratorProtocol {
            let consumer: StrataConsumer
            var buffered: [ConsumerRecord] = []
            var index = 0
            var prefetch: Task<[ConsumerRecord], Error>?

            public mutating func next() async throws -> ConsumerRecord? {
                while index >= buffered.count {
                    try Task.checkCancellation()
                    let pending = prefetch ?? Task { [consumer] in try await consumer.fetchOnce() }
                    buffered = try await pending.value
                    index = 0
                    // Pipelining: ask for the next fetch while the caller works through this one.
                    prefetch = Task { [consumer] in try await consumer.fetchOnce() }
                }
                defer { index += 1 }
                return buffered[index]
            }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: consumer) }
    }

    /// One round: a fetch per leader for every assigned partition; returns the new records and
    /// advances positions.
    func fetchOnce() async throws -> [ConsumerRecord] {
        let assigned = await positions.all()
        guard !assigned.isEmpty else { throw ClientError.invalidArgument("no partitions assigned") }
        var byTopic: [String: [FetchRequest.Partition]] = [:]
        for (key, offset) in assigned {
            byTopic[key.topic, default: []].append(
                .init(
                    partition: key.partition, fetchOffset: offset,
                    partitionMaxBytes: config.partitionFetchMaxBytes))
        }
        // Single-leader fast path is the common case; group by leader connection.
        var requests: [ObjectIdentifier: (BrokerConnection, [TopicPartitions<FetchRequest.Partition>])] = [:]
        for (topic, partitions) in byTopic {
            for partition in partitions {
                let leader = try await cluster.leader(topic, partition.partition)
                let id = ObjectIdentifier(leader)
                var entry = requests[id] ?? (leader, [])
                if let index = entry.1.firstIndex(where: { $0.name == topic }) {
                    entry.1[index].partitions.append(partition)
                } else {
                    entry.1.append(TopicPartitions(name: topic, partitions: [partition]))
                }
                requests[id] = entry
            }
        }
        var result: [ConsumerRecord] = []
        for (connection, topics) in requests.values {
            let request = FetchRequest(
                maxWaitMs: config.fetchMaxWaitMilliseconds, minBytes: config.fetchMinBytes,
                maxBytes: config.fetchMaxBytes, topics: topics)
            let response = try await connection.send(request)
            for topic in response.responses {
                for partition in topic.partitions {
                    try await absorb(topic.name, partition, into: &result)
                }
            }
        }
        return result
    }

    private func absorb(
        _ topic: String, _ data: FetchResponse.PartitionData, into result: inout [ConsumerRecord]
    )
        async throws
    {
        let partition = data.partitionIndex
        guard let position = await positions.get(topic, partition) else { return }
        switch data.errorCode {
        case .noError:
            break
        case .offsetOutOfRange:
            let reset = try await listOffset(
                topic: topic, partition: partition,
                timestamp: config.resetToEarliest ? -2 : -1)
            await positions.set(topic, partition, reset)
            return
        case .notLeaderOrFollower, .unknownTopicOrPartition, .leaderNotAvailable:
            await cluster.invalidate(topic)
            return
        default:
            throw ClientError.broker(.fetch, data.errorCode, topic: topic, partition: partition)
        }
        guard var bytes = data.records else { return }
        var next = position
        do {
            while bytes.readableBytes > 0 {
                // A trailing partial batch (brokers may cut the last one) ends the slice.
                guard let batch = try? RecordBatch.next(from: &bytes, batchBytesMax: Int(Int32.max)) else { break }
                let header = try batch.validate(batchBytesMax: Int(Int32.max))
                if header.isControl {
                    next = max(next, header.nextOffset)
                    continue
                }
                var records = try batch.makeRecordIterator()
                while let record = try records.next() {
                    guard record.offset >= position else { continue }
                    result.append(
                        ConsumerRecord(
                            topic: topic, partition: partition, offset: record.offset,
                            timestamp: record.timestamp, key: record.key, value: record.value,
                            headers: Array(record.headers)))
                }
                next = max(next, header.nextOffset)
            }
        } catch {
            throw ClientError.protocolViolation(broker: "fetch \(topic)-\(partition)", reason: "\(error)")
        }
        await positions.set(topic, partition, next)
    }
}

/// Assigned partitions and their positions. An actor: owns the map.
actor Positions {
    struct Key: Hashable, Sendable {
        var topic: String
        var partition: Int32
    }

    private var offsets: [Key: Int64] = [:]

    func set(_ topic: String, _ partition: Int32, _ offset: Int64) {
        offsets[Key(topic: topic, partition: partition)] = offset
    }

    func get(_ topic: String, _ partition: Int32) -> Int64? { offsets[Key(topic: topic, partition: partition)] }

    func all() -> [(Key, Int64)] {
        offsets.map { ($0.key, $0.value) }.sorted { ($0.0.topic, $0.0.partition) < ($1.0.topic, $1.0.partition) }
    }
}

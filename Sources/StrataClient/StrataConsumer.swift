import Foundation
import Logging
import NIOCore
import NIOPosix
import StrataProtocol
import StrataRecords
import Synchronization

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
    /// `retry.backoff.ms`: the pause before fetching again after a dropped connection or an
    /// unreachable leader (the consumer retries such trouble for as long as it runs).
    public var retryBackoffMilliseconds: Int64 = 100
    /// `request.timeout.ms`: a request still unanswered this long (a fetch: this long after its
    /// `fetchMaxWaitMilliseconds`; JoinGroup and SyncGroup: the rebalance timeout + 5 s) closes its
    /// connection and fails as retriable; fetches are retried from the positions (a lost answer would
    /// otherwise stall the consumer for good).
    public var requestTimeoutMilliseconds: Int64 = 30_000
    /// How long the constructor retries the bootstrap brokers before throwing
    /// `noBrokerAvailable` naming them (Kafka's `default.api.timeout.ms`, 60 s).
    public var connectTimeoutMilliseconds: Int64 = 60_000
    /// `check.crcs`: verify the CRC-32C of every fetched batch (on by default, as in the Java client;
    /// librdkafka's default is off). Off, a corrupt batch is still caught when its record lengths do
    /// not add up, but flipped bits inside keys and values go unnoticed.
    public var checkCRCs = true
    public var clientId = "strata-swift-consumer"

    // Group membership (used by `subscribe(topics:group:)`).

    /// `group.id`, used when `subscribe` is not given a group.
    public var groupId: String?
    /// `group.instance.id`: makes the member static. A static member does not leave the group on
    /// `close()`; restarted with the same id within its session timeout it gets its partitions back
    /// without a rebalance.
    public var groupInstanceId: String?
    /// `session.timeout.ms`: the coordinator evicts a member silent for this long.
    public var sessionTimeoutMilliseconds: Int32 = 45_000
    /// `max.poll.interval.ms`, sent as the rebalance timeout: how long a rebalance waits for members.
    public var rebalanceTimeoutMilliseconds: Int32 = 300_000
    /// `heartbeat.interval.ms`.
    public var heartbeatIntervalMilliseconds: Int64 = 3_000
    /// `enable.auto.commit`: commit the consumed positions every `auto.commit.interval.ms`, before
    /// a rebalance revokes partitions and on `close()`.
    public var enableAutoCommit = true
    /// `auto.commit.interval.ms`.
    public var autoCommitIntervalMilliseconds: Int64 = 5_000
    /// `partition.assignment.strategy`, in preference order (librdkafka's default: range, roundrobin).
    public var assignors: [PartitionAssignor] = [.range, .roundRobin]
    /// Where group membership reports joins, rebalances and retried failures (metadata: `group`,
    /// `generation`, `member`, `error`). Silent by default.
    public var logger = Logger(label: "strata.consumer", factory: { _ in SwiftLogNoOpLogHandler() })

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
    /// The position epoch the record was fetched under (see `Positions`).
    var epoch: UInt64 = 0
}

/// An async/await consumer of assigned partitions: `for try await record in consumer.records`.
/// A background fetcher keeps one fetch in flight ahead of the caller (`FetchPipeline`); records
/// below the requested offset inside a returned batch are skipped; offset gaps (compaction) are
/// followed; an out-of-range position is reset per `resetToEarliest`.
///
/// Group membership (`subscribe(topics:group:)`) is run by a ``GroupMembership`` in the background:
/// joins, the leader's assignment, heartbeats, auto-commit, and rebalances announced on
/// ``rebalanceEvents``. A record of a partition is yielded only while the partition is owned, and
/// only if its position was not moved (seek, rebalance) after the record was fetched.
///
/// Thread-safety: positions live in `Positions` (one `Mutex`); the cluster view in the `Cluster`
/// actor; group state in the `GroupMembership` actor.
public final class StrataConsumer: Sendable {
    public let config: ConsumerConfig
    private let cluster: Cluster
    let positions = Positions()
    private let group: EventLoopGroup
    private let ownsGroup: Bool
    private let membership = Mutex<GroupMembership?>(nil)
    private let isClosed = Mutex(false)
    /// Whether `close()` was called.
    var closed: Bool { isClosed.withLock { $0 } }
    /// The background fetcher feeding ``records``.
    let pipeline: FetchPipeline
    private let events: AsyncStream<RebalanceEvent>.Continuation
    /// Partition assignments and revocations of group membership, in order (the newest
    /// `rebalanceEventsBufferedMax` are kept when nobody reads them).
    public let rebalanceEvents: AsyncStream<RebalanceEvent>
    static let rebalanceEventsBufferedMax = 1_000
    /// Kafka's limit on topic names.
    static let topicNameBytesMax = 249

    public init(
        bootstrap: [String], config: ConsumerConfig = ConsumerConfig(), group: EventLoopGroup? = nil
    )
        async throws
    {
        self.config = config
        self.group = group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        ownsGroup = group == nil
        // With the consumer's own one-thread group this is the loop every connection is on.
        pipeline = FetchPipeline(executor: EventLoopTaskExecutor(self.group.next()))
        cluster = try Cluster(
            bootstrap: bootstrap, group: self.group, clientId: config.clientId,
            requestTimeout: .milliseconds(config.requestTimeoutMilliseconds))
        (rebalanceEvents, events) = AsyncStream.makeStream(
            of: RebalanceEvent.self, bufferingPolicy: .bufferingNewest(Self.rebalanceEventsBufferedMax))
        do {
            try await cluster.waitUntilReachable(timeout: .milliseconds(config.connectTimeoutMilliseconds))
        } catch {
            await cluster.close()
            if group == nil { try? await self.group.shutdownGracefully() }
            throw error
        }
    }

    /// Joins consumer group `group` (default: `config.groupId`) subscribed to `topics`; partitions
    /// arrive with the group's assignment, starting at the group's committed offsets (else
    /// `auto.offset.reset`). Returns once the join has started; watch ``rebalanceEvents`` or just
    /// iterate ``records``. The membership (heartbeats, auto-commit) runs in the background until
    /// ``close()``, which a member must call to leave the group.
    public func subscribe(topics: [String], group: String? = nil) throws(ClientError) {
        guard let groupId = group ?? config.groupId, !groupId.isEmpty else {
            throw .invalidArgument("subscribe needs a group id (argument or ConsumerConfig.groupId)")
        }
        guard !topics.isEmpty else { throw .invalidArgument("subscribe needs at least one topic") }
        for topic in topics where topic.isEmpty || topic.utf8.count > Self.topicNameBytesMax {
            throw .invalidArgument("topic name \"\(topic)\" is empty or longer than \(Self.topicNameBytesMax) bytes")
        }
        guard positions.assigned().isEmpty else {
            throw .invalidArgument("subscribe after assign: a consumer uses one or the other")
        }
        let reset: StartPosition = config.resetToEarliest ? .earliest : .latest
        try membership.withLock { (current: inout GroupMembership?) throws(ClientError) in
            guard current == nil else { throw .invalidArgument("already subscribed") }
            let member = GroupMembership(
                groupId: groupId, topics: topics, config: config, cluster: cluster, positions: positions,
                events: events,
                resolve: { [weak self] partition in
                    guard let self else { throw ClientError.closed }
                    return try await self.resolve(reset, topic: partition.topic, partition: partition.partition)
                })
            member.start()
            current = member
        }
    }

    /// Commits the position after the last record yielded, for every owned partition whose position
    /// changed since its last commit. Needs `subscribe`; throws REBALANCE_IN_PROGRESS while the
    /// member is (re)joining, and the broker's error (e.g. ILLEGAL_GENERATION) if it was evicted.
    public func commit() async throws {
        guard let member = membership.withLock({ $0 }) else {
            throw ClientError.invalidArgument("commit needs a group: call subscribe(topics:group:) first")
        }
        try await member.commitConsumed()
    }

    /// Commits `offsets` (each the next offset to read) for the group, whatever was consumed.
    public func commit(_ offsets: [TopicPartition: Int64]) async throws {
        guard let member = membership.withLock({ $0 }) else {
            throw ClientError.invalidArgument("commit needs a group: call subscribe(topics:group:) first")
        }
        try await member.commit(offsets)
    }

    /// Stops (or resumes) heartbeats while the member keeps running (tests of eviction and rejoin).
    func pauseHeartbeatsForTesting(_ paused: Bool) async {
        await membership.withLock({ $0 })?.pauseHeartbeats(paused)
    }

    /// The group member id and generation, if subscribed (tests and diagnostics).
    func groupIdentityForTesting() async -> (memberId: String, generationId: Int32)? {
        await membership.withLock({ $0 })?.identity
    }

    /// Stops group membership without committing or leaving and closes the connections, as a
    /// crashed process would (tests of session-timeout eviction).
    func abandonForTesting() async {
        if let member = membership.withLock({ $0 }) { await member.abandon() }
        events.finish()
        await cluster.close()
    }

    /// The partitions currently owned (assigned by the group, or with `assign`).
    public var assignment: [TopicPartition] { positions.assigned() }

    /// Internal state for test failure messages: positions, the fetch pipeline, group membership.
    func diagnostics() async -> String {
        let positions = positions.snapshot().map { "\($0.0)@\($0.1)#\($0.2)" }.joined(separator: " ")
        var text = "positions [\(positions)]; pipeline \(pipeline.diagnostics)"
        if let member = membership.withLock({ $0 }) { text += "; member \(await member.diagnostics)" }
        return text
    }

    /// Assigns `partitions` of `topic` (nil: all), each starting at `start`.
    public func assign(topic: String, partitions: [Int32]? = nil, from start: StartPosition) async throws {
        guard membership.withLock({ $0 }) == nil else {
            throw ClientError.invalidArgument("assign after subscribe: a consumer uses one or the other")
        }
        let known = try await cluster.partitions(of: topic).map(\.partition)
        for partition in partitions ?? known {
            guard known.contains(partition) else {
                throw ClientError.broker(.fetch, .unknownTopicOrPartition, topic: topic, partition: partition)
            }
            let offset = try await resolve(start, topic: topic, partition: partition)
            positions.set(TopicPartition(topic: topic, partition: partition), offset)
        }
    }

    /// Moves a partition's position.
    public func seek(topic: String, partition: Int32, to start: StartPosition) async throws {
        let offset = try await resolve(start, topic: topic, partition: partition)
        positions.set(TopicPartition(topic: topic, partition: partition), offset)
    }

    /// The next offset to be returned for a partition.
    public func position(topic: String, partition: Int32) async -> Int64? {
        positions.get(TopicPartition(topic: topic, partition: partition))
    }

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

    func resolve(_ start: StartPosition, topic: String, partition: Int32) async throws -> Int64 {
        switch start {
        case .earliest: return try await listOffset(topic: topic, partition: partition, timestamp: -2)
        case .latest: return try await listOffset(topic: topic, partition: partition, timestamp: -1)
        case .offset(let offset): return offset
        case .timestamp(let time):
            let found = try await listOffset(topic: topic, partition: partition, timestamp: time)
            return found >= 0 ? found : try await listOffset(topic: topic, partition: partition, timestamp: -1)
        }
    }

    /// The records of every assigned partition, in offset order per partition, until `close()` (the
    /// sequence ends), cancellation or a non-retriable error.
    public var records: Records { Records(consumer: self) }

    /// Leaves the group (committing first if auto-commit is on), then closes the connections.
    public func close() async {
        isClosed.withLock { $0 = true }
        pipeline.close()
        if let member = membership.withLock({ $0 }) { await member.leave() }
        events.finish()
        await cluster.close()
        // The fetcher runs on the group's event loop: it must be done before the loop goes.
        await pipeline.fetcherFinished()
        if ownsGroup { try? await group.shutdownGracefully() }
    }

    /// An `AsyncSequence` of records, fed by a background fetcher (`FetchPipeline`).
    ///
    /// A fetch's answer is checked (batch framing, CRCs when `checkCRCs`) and moves the fetch position
    /// as soon as it arrives; the fetcher then sends the next fetch at once, and the records of the
    /// answer are decoded one by one as the caller asks for them, while the next is on the wire. A
    /// batch that does not decompress, or a record that does not decode, throws when the caller
    /// reaches it.
    public struct Records: AsyncSequence, Sendable {
        public typealias Element = ConsumerRecord
        let consumer: StrataConsumer

        public struct AsyncIterator: AsyncIteratorProtocol {
            let consumer: StrataConsumer
            /// The fetch being read, partition by partition.
            var parts: [FetchedPartition] = []
            var partIndex = 0
            /// The not yet decoded batches of `parts[partIndex]`.
            var batches = ByteBuffer()
            /// The records of the batch being read, and that batch's base offset (for errors).
            var records: RecordIterator?
            var batchOffset: Int64 = 0
            var entry: Positions.Entry?

            init(consumer: StrataConsumer) { self.consumer = consumer }

            /// The next record. Inlined into the caller's loop: a record already fetched costs a plain
            /// call (no async frame, no executor check); only an exhausted fetch awaits the next.
            @inlinable
            public mutating func next() async throws -> ConsumerRecord? {
                if let record = try nextBuffered() { return record }
                return try await nextFetching()
            }

            /// The next deliverable record of the current fetch, if any.
            @usableFromInline
            mutating func nextBuffered() throws -> ConsumerRecord? {
                while partIndex < parts.count {
                    // Fields are read from `parts` in place: copying the element would retain its
                    // topic and bytes for every record.
                    let found: Record?
                    do {
                        found = try records?.next()
                    } catch {
                        records = nil
                        throw parts[partIndex].corrupt(at: batchOffset, error)
                    }
                    guard let record = found else {
                        if try !openNextBatch() {
                            partIndex += 1
                            if partIndex < parts.count { batches = parts[partIndex].batches }
                        }
                        continue
                    }
                    guard record.offset >= parts[partIndex].start else { continue }
                    let consumerRecord = ConsumerRecord(
                        topic: parts[partIndex].key.topic, partition: parts[partIndex].key.partition,
                        offset: record.offset, timestamp: record.timestamp, key: record.key, value: record.value,
                        headers: record.headerCount == 0 ? [] : Array(record.headers), epoch: parts[partIndex].epoch)
                    // Revoked or moved since it was fetched: never yielded.
                    if consumer.positions.deliver(consumerRecord, cached: &entry) { return consumerRecord }
                }
                return nil
            }

            /// Starts on the next data batch of the current partition; false when it has none left.
            /// Batches were framed and checked when the fetch arrived; decompression happens here.
            @usableFromInline
            mutating func openNextBatch() throws -> Bool {
                records = nil
                let part = parts[partIndex]
                while batches.readableBytes > 0 {
                    do {
                        guard let batch = try RecordBatch.next(from: &batches, batchBytesMax: Int(Int32.max)) else {
                            return false
                        }
                        let header = try batch.validate(batchBytesMax: Int(Int32.max), checkCRC: false)
                        batchOffset = header.baseOffset
                        if header.isControl { continue }
                        records = try batch.makeRecordIterator()
                        return true
                    } catch {
                        batches = ByteBuffer()
                        throw part.corrupt(at: batchOffset, error)
                    }
                }
                return false
            }

            @usableFromInline
            mutating func nextFetching() async throws -> ConsumerRecord? {
                while true {
                    try Task.checkCancellation()
                    do {
                        parts = try await consumer.pipeline.next { [consumer] in try await consumer.fetchRound() }
                    } catch  where consumer.closed {
                        return nil  // close() ends the sequence, whatever its closing did to a fetch
                    }
                    partIndex = 0
                    batches = parts.first?.batches ?? ByteBuffer()
                    records = nil
                    if let record = try nextBuffered() { return record }
                }
            }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: consumer) }
    }

    /// One round: a fetch per leader for every assigned partition. Returns each partition's checked,
    /// not yet decoded batches and moves its fetch position past them.
    func fetchRound() async throws -> [FetchedPartition] {
        let assigned = positions.snapshot()
        guard !assigned.isEmpty else {
            guard let member = membership.withLock({ $0 }) else {
                throw ClientError.invalidArgument("no partitions assigned")
            }
            if let failure = await member.failure { throw failure }
            if isClosed.withLock({ $0 }) { throw ClientError.closed }
            // A group member between assignments: wait for the next one.
            try await Task.sleep(for: .milliseconds(Self.unassignedPollMilliseconds))
            return []
        }
        var fetched: [TopicPartition: (offset: Int64, epoch: UInt64)] = [:]
        var byTopic: [String: [FetchRequest.Partition]] = [:]
        for (key, offset, epoch) in assigned {
            fetched[key] = (offset, epoch)
            byTopic[key.topic, default: []].append(
                .init(
                    partition: key.partition, fetchOffset: offset,
                    partitionMaxBytes: config.partitionFetchMaxBytes))
        }
        // Single-leader fast path is the common case; group by leader connection. Connection
        // trouble (dropped, refused, timed out) is retried: the partitions it hit are fetched again
        // from their positions in the next round, after a backoff and fresh metadata.
        var troubled = false
        var requests: [ObjectIdentifier: (BrokerConnection, [TopicPartitions<FetchRequest.Partition>])] = [:]
        for (topic, partitions) in byTopic {
            for partition in partitions {
                let leader: BrokerConnection
                do {
                    leader = try await cluster.leader(topic, partition.partition)
                } catch let error as ClientError where error.isRetriable {
                    troubled = true
                    await cluster.invalidate(topic)
                    continue
                }
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
        var result: [FetchedPartition] = []
        for (connection, topics) in requests.values {
            let request = FetchRequest(
                maxWaitMs: config.fetchMaxWaitMilliseconds, minBytes: config.fetchMinBytes,
                maxBytes: config.fetchMaxBytes, topics: topics)
            let response: FetchResponse
            let timeout = Int64(config.fetchMaxWaitMilliseconds) + config.requestTimeoutMilliseconds
            do {
                response = try await connection.submit(request, timeout: .milliseconds(timeout)).get()
            } catch let error as ClientError where error.isRetriable {
                troubled = true
                for topic in topics { await cluster.invalidate(topic.name) }
                continue
            }
            for topic in response.responses {
                for partition in topic.partitions {
                    let key = TopicPartition(topic: topic.name, partition: partition.partitionIndex)
                    guard let origin = fetched[key] else { continue }
                    if let part = try await check(key, origin, partition) { result.append(part) }
                }
            }
        }
        if troubled && result.isEmpty {
            try await Task.sleep(for: .milliseconds(config.retryBackoffMilliseconds))
        }
        return result
    }

    /// How long a group member with no partitions waits before looking again.
    static let unassignedPollMilliseconds = 20

    /// Checks one partition's answer: framing and (with `checkCRCs`) CRCs of its whole batches; a
    /// trailing partial batch (brokers may cut the last one) is left for the next fetch. Moves the
    /// fetch position past the batches and returns them, or nil when there is nothing to read or the
    /// position was moved (seek, rebalance) while the fetch was out.
    private func check(
        _ key: TopicPartition, _ origin: (offset: Int64, epoch: UInt64), _ data: FetchResponse.PartitionData
    ) async throws -> FetchedPartition? {
        let (topic, partition) = (key.topic, key.partition)
        let position = origin.offset
        switch data.errorCode {
        case .noError:
            break
        case .offsetOutOfRange:
            let reset = try await listOffset(
                topic: topic, partition: partition,
                timestamp: config.resetToEarliest ? -2 : -1)
            _ = positions.advance(key, from: position, epoch: origin.epoch, to: reset, isReset: true)
            return nil
        case .notLeaderOrFollower, .unknownTopicOrPartition, .leaderNotAvailable:
            await cluster.invalidate(topic)
            return nil
        default:
            throw ClientError.broker(.fetch, data.errorCode, topic: topic, partition: partition)
        }
        guard let all = data.records else { return nil }
        var bytes = all
        var next = position
        var batchOffset = position
        do {
            while bytes.readableBytes > 0 {
                guard let batch = try? RecordBatch.next(from: &bytes, batchBytesMax: Int(Int32.max)) else { break }
                batchOffset = batch.buffer.getInteger(at: batch.buffer.readerIndex, as: Int64.self) ?? next
                let header = try batch.validate(batchBytesMax: Int(Int32.max), checkCRC: config.checkCRCs)
                next = max(next, header.nextOffset)
            }
        } catch {
            throw ClientError.corruptBatch(topic: topic, partition: partition, offset: batchOffset, reason: "\(error)")
        }
        let wholeBatches = all.getSlice(at: all.readerIndex, length: bytes.readerIndex - all.readerIndex)!
        guard next > position, positions.advance(key, from: position, epoch: origin.epoch, to: next) else {
            return nil
        }
        return FetchedPartition(key: key, epoch: origin.epoch, start: position, batches: wholeBatches)
    }
}

/// One partition's part of a fetch answer: whole batches, checked but not yet decoded.
struct FetchedPartition: Sendable {
    let key: TopicPartition
    /// The position epoch the fetch was made under (see `Positions`).
    let epoch: UInt64
    /// The fetch offset: records below it (earlier in the first batch) are skipped.
    let start: Int64
    let batches: ByteBuffer

    func corrupt(at offset: Int64, _ error: any Error) -> ClientError {
        .corruptBatch(topic: key.topic, partition: key.partition, offset: offset, reason: "\(error)")
    }
}

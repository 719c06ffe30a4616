import NIOCore
import StrataRecords
import Synchronization

/// The producer's per-record path: each topic's partition count (re-read every second), the open
/// batch of each partition, the sticky partition of each topic (null keys), record ids, linger
/// timers and the `buffer.memory` count. Appending a record takes this one `Mutex` once — no actor
/// hop, no other lock — and encodes the record straight into its partition's batch buffer. A batch
/// that fills up or lingers long enough is closed into a FIFO queue, and the `Accumulator` actor takes
/// the queue in order (one drain task at a time), so a partition's batches reach it in the order they
/// were closed.
///
/// Per-record cost is kept flat: the topic of the previous record is remembered, so repeated
/// sends to one topic find its state without hashing the name; partitions are array slots; all
/// state is plain structs inside the mutex (no class properties, hence no dynamic exclusivity
/// checks).
///
/// Thread-safety: everything is in `state`, guarded by its mutex. A batch is mutated only under that
/// mutex while open; once closed it belongs to the accumulator.
final class RecordAppender: Sendable {
    typealias Waiter = CheckedContinuation<RecordMetadata, Error>

    struct Key: Hashable, Sendable {
        var topic: String
        var partition: Int32
    }

    /// A batch handed to the accumulator.
    struct ClosedBatch: Sendable {
        var builder: RecordBatchBuilder
        /// The callers of `send` waiting for this batch, with their record's index in it.
        var waiters: [(index: Int, waiter: Waiter)]
        /// Ids of the records, in order, when delivery reports are on (else empty).
        var reportIds: [UInt64]
        /// `buffer.memory` the batch holds.
        var bytes: Int
        let created: ContinuousClock.Instant
    }

    /// What `append` did.
    enum Appended {
        /// Appended under this record id.
        case added(UInt64)
        /// `buffer.memory` is full: nothing appended.
        case full
        /// The topic's partition count is unknown or more than a second old: nothing appended; call
        /// `setPartitionCount` and try again.
        case needsPartitionCount
    }

    private struct OpenBatch {
        var builder: RecordBatchBuilder
        var waiters: [(index: Int, waiter: Waiter)] = []
        var reportIds: [UInt64] = []
        var bytes = 0
        let generation: Int
        let created: ContinuousClock.Instant
    }

    private struct TopicState {
        let name: String
        var partitionCount: Int32
        /// Wall-clock milliseconds after which the count is re-read from the cluster.
        var countValidUntil: Int64
        /// The partition records without a key go to until its batch closes; -1: none yet.
        var sticky: Int32 = -1
        /// Open batches by partition (grown when the partition count grows).
        var open: [OpenBatch?]
        /// Per partition, the open batch's `estimatedSizeInBytes`, 0 when none is open: the per-record
        /// checks read this plain array rather than the optional batch (which the compiler copies).
        var openSizes: [Int]
    }

    private struct State {
        var topicIndex: [String: Int] = [:]
        var topics: [TopicState] = []
        /// The topic of the last append and its index in `topics`.
        var lastTopic = ""
        var lastIndex = -1
        var nextRecordId: UInt64 = 0
        var generation = 0
        var bufferedBytes = 0
        var openCount = 0
        var closed: [(Key, ClosedBatch)] = []
        /// Emptied builders of answered batches, whose buffers new batches reuse.
        var spare: [RecordBatchBuilder] = []
        var drainScheduled = false
        var drain: (@Sendable () -> Void)?
    }

    private let config: ProducerConfig
    private let state = Mutex(State())
    /// Room reserved up front in a new batch's buffer, so it is not regrown while filling.
    private let batchCapacity: Int
    static let batchCapacityMax = 1 << 20
    /// Emptied batch buffers kept for reuse at most.
    static let spareBatchesMax = 8

    init(config: ProducerConfig) {
        self.config = config
        batchCapacity = min(config.batchBytes, Self.batchCapacityMax)
    }

    /// Sets what starts a drain of closed batches (the accumulator's); nil (at close) breaks the
    /// reference cycle it makes.
    func onClosed(_ drain: (@Sendable () -> Void)?) { state.withLock { $0.drain = drain } }

    /// Records the partition count of `topic` for a second (until `now + 1000` ms).
    func setPartitionCount(_ topic: String, _ count: Int32, now: Int64) {
        state.withLock { state in
            let until = now + 1_000
            if let index = state.topicIndex[topic] {
                state.topics[index].partitionCount = count
                state.topics[index].countValidUntil = until
                let slots = max(Int(count), state.topics[index].open.count)
                if slots > state.topics[index].open.count {
                    let more = slots - state.topics[index].open.count
                    state.topics[index].open.append(contentsOf: repeatElement(nil, count: more))
                    state.topics[index].openSizes.append(contentsOf: repeatElement(0, count: more))
                }
            } else {
                state.topicIndex[topic] = state.topics.count
                state.topics.append(
                    TopicState(
                        name: topic, partitionCount: count, countValidUntil: until,
                        open: Array(repeating: nil, count: max(0, Int(count))),
                        openSizes: Array(repeating: 0, count: max(0, Int(count)))))
            }
        }
    }

    /// Appends one record (encoding it into its partition's open batch), unless `buffer.memory` is
    /// full or the topic's partition count must be (re)fetched first. `size`: its `buffer.memory`
    /// charge. `waited`: the caller already waited for room (another appender may have taken it
    /// meanwhile; the record goes in anyway rather than waiting again, so the bound can be passed
    /// by a record). An explicit partition outside the topic throws UNKNOWN_TOPIC_OR_PARTITION.
    func append(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader], partition: Int32?,
        timestamp: Int64, now: Int64, size: Int, waiter: Waiter?, waited: Bool
    ) throws(ClientError) -> Appended {
        let config = config
        let outcome = state.withLock { state -> Outcome in
            let index: Int
            if state.lastIndex >= 0 && state.lastTopic == topic {
                index = state.lastIndex
            } else {
                guard let found = state.topicIndex[topic] else { return .appended(.needsPartitionCount) }
                index = found
                state.lastTopic = topic
                state.lastIndex = found
            }
            guard state.topics[index].countValidUntil > now else { return .appended(.needsPartitionCount) }
            let count = state.topics[index].partitionCount
            let target: Int32
            if let partition {
                // Kafka numbers a topic's partitions 0..<count.
                guard partition >= 0 && partition < count else { return .badPartition(partition) }
                target = partition
            } else if let keyed = config.partitioner.partition(for: key, count: count) {
                target = keyed
            } else {
                target = Self.stickyPartition(&state.topics[index], count: count)
            }
            if !waited && state.bufferedBytes > 0 && state.bufferedBytes + size > config.bufferBytes {
                return .appended(.full)
            }
            let slot = Int(target)
            var closedAny = false
            let openSize = state.topics[index].openSizes[slot]
            if openSize > RecordBatchHeader.Layout.size && openSize + size > config.batchBytes {
                Self.close(&state, index, slot)
                closedAny = true
            }
            var linger: Int?
            if state.topics[index].openSizes[slot] == 0 {
                state.generation += 1
                let builder =
                    state.spare.popLast()
                    ?? RecordBatchBuilder(compression: .none, partitionLeaderEpoch: -1, capacity: batchCapacity)
                state.topics[index].open[slot] = OpenBatch(
                    builder: builder, generation: state.generation, created: .now)
                state.openCount += 1
                linger = state.generation
            }
            let id = state.nextRecordId
            state.nextRecordId &+= 1
            let batchSize = Self.appendRecord(
                to: &state.topics[index].open[slot]!, key: key, value: value, headers: headers,
                timestamp: timestamp, size: size, id: id, waiter: waiter, reports: config.deliveryReports)
            state.topics[index].openSizes[slot] = batchSize
            state.bufferedBytes += size
            if batchSize >= config.batchBytes {
                Self.close(&state, index, slot)
                closedAny = true
            }
            let lingerKey = linger.map { (Key(topic: state.topics[index].name, partition: target), $0) }
            return .added(id, closedAny ? Self.takeDrain(&state) : nil, lingerKey)
        }
        switch outcome {
        case .appended(let result):
            return result
        case .badPartition(let partition):
            throw .broker(.produce, .unknownTopicOrPartition, topic: topic, partition: partition)
        case .added(let id, let drain, let linger):
            if let (key, generation) = linger { startLinger(key, generation) }
            drain?()
            return .added(id)
        }
    }

    private enum Outcome {
        case appended(Appended)
        case badPartition(Int32)
        case added(UInt64, (@Sendable () -> Void)?, (Key, Int)?)
    }

    /// Encodes the record into `batch`; returns the batch's size now (`estimatedSizeInBytes`).
    @inline(__always)
    private static func appendRecord(
        to batch: inout OpenBatch, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader], timestamp: Int64,
        size: Int, id: UInt64, waiter: Waiter?, reports: Bool
    ) -> Int {
        if let waiter { batch.waiters.append((batch.builder.recordCount, waiter)) }
        batch.builder.append(key: key, value: value, headers: headers, timestamp: timestamp)
        if reports { batch.reportIds.append(id) }
        batch.bytes += size
        return batch.builder.estimatedSizeInBytes
    }

    private func startLinger(_ key: Key, _ generation: Int) {
        let linger = config.lingerMilliseconds
        // A strong capture: a weak one would give the appender a side table, and every retain and
        // release of it (several per record) would take the runtime's slow path.
        Task {
            if linger > 0 { try? await Task.sleep(for: .milliseconds(linger)) }
            self.lingerExpired(key, generation: generation)
        }
    }

    private func lingerExpired(_ key: Key, generation: Int) {
        let drain = state.withLock { state -> (@Sendable () -> Void)? in
            guard let index = state.topicIndex[key.topic] else { return nil }
            let slot = Int(key.partition)
            guard slot < state.topics[index].open.count,
                state.topics[index].open[slot]?.generation == generation
            else { return nil }
            Self.close(&state, index, slot)
            return Self.takeDrain(&state)
        }
        drain?()
    }

    /// Closes every open batch (flush).
    func closeAll() {
        let drain = state.withLock { state -> (@Sendable () -> Void)? in
            guard state.openCount > 0 else { return nil }
            for index in state.topics.indices {
                for slot in state.topics[index].open.indices where state.topics[index].openSizes[slot] != 0 {
                    Self.close(&state, index, slot)
                }
            }
            return Self.takeDrain(&state)
        }
        drain?()
    }

    /// The closed batches, oldest first; the next close schedules a new drain.
    func takeClosed() -> [(Key, ClosedBatch)] {
        state.withLock { state in
            state.drainScheduled = false
            defer { state.closed = [] }
            return state.closed
        }
    }

    /// Takes back the builder of an answered batch: emptied, its buffer serves a later batch (when
    /// nothing else still references the buffer, else emptying it allocates a fresh one).
    func recycle(_ builder: consuming RecordBatchBuilder) {
        var spare = consume builder  // moved: `reset()` must find the only reference, else it reallocates
        guard spare.bufferCapacity >= batchCapacity, spare.bufferCapacity <= 2 * Self.batchCapacityMax else { return }
        spare.reset()
        spare.compression = .none
        spare.producerId = -1
        spare.producerEpoch = -1
        spare.baseSequence = -1
        spare.partitionLeaderEpoch = -1
        let emptied = spare
        state.withLock { state in
            if state.spare.count < Self.spareBatchesMax { state.spare.append(emptied) }
        }
    }

    /// Gives back `bytes` of `buffer.memory` (a batch was answered).
    func release(_ bytes: Int) { state.withLock { $0.bufferedBytes -= bytes } }

    /// Whether `size` more bytes fit now.
    func hasRoom(for size: Int) -> Bool {
        state.withLock { $0.bufferedBytes == 0 || $0.bufferedBytes + size <= config.bufferBytes }
    }

    /// No open and no closed-but-untaken batch.
    var isEmpty: Bool { state.withLock { $0.openCount == 0 && $0.closed.isEmpty } }

    private static func close(_ state: inout State, _ index: Int, _ slot: Int) {
        guard let batch = state.topics[index].open[slot] else { return }
        state.topics[index].open[slot] = nil
        state.topics[index].openSizes[slot] = 0
        state.openCount -= 1
        if state.topics[index].sticky == Int32(slot) { state.topics[index].sticky = -1 }
        state.closed.append(
            (
                Key(topic: state.topics[index].name, partition: Int32(slot)),
                ClosedBatch(
                    builder: batch.builder, waiters: batch.waiters, reportIds: batch.reportIds, bytes: batch.bytes,
                    created: batch.created)
            ))
    }

    private static func takeDrain(_ state: inout State) -> (@Sendable () -> Void)? {
        guard !state.drainScheduled, let drain = state.drain else { return nil }
        state.drainScheduled = true
        return drain
    }

    private static func stickyPartition(_ topic: inout TopicState, count: Int32) -> Int32 {
        if topic.sticky >= 0 && topic.sticky < count { return topic.sticky }
        let chosen = Int32.random(in: 0..<max(1, count))
        topic.sticky = chosen
        return chosen
    }
}

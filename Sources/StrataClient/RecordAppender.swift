import NIOCore
import StrataRecords
import Synchronization

/// The producer's per-record path: the open batch of each partition, the sticky partition of each
/// topic (null keys), linger timers and the `buffer.memory` count. Appending is synchronous under one
/// `Mutex` — no actor hop per record. A batch that fills up or lingers long enough is closed into a
/// FIFO queue, and the `Accumulator` actor takes the queue in order (one drain task at a time), so a
/// partition's batches reach it in the order they were closed.
///
/// Thread-safety: everything is in `state`, guarded by its mutex. An `OpenBatch` is mutated only under
/// that mutex while open; once closed it belongs to the accumulator.
final class RecordAppender: Sendable {
    typealias Waiter = CheckedContinuation<RecordMetadata, Error>

    struct Key: Hashable, Sendable {
        var topic: String
        var partition: Int32
    }

    /// A partition's batch still taking records (a class: mutated in place after one lookup).
    final class OpenBatch: @unchecked Sendable {
        var builder: RecordBatchBuilder
        var waiters: [Waiter?] = []
        var reportIds: [UInt64] = []
        var bytes = 0
        let generation: Int
        let created: ContinuousClock.Instant

        init(builder: RecordBatchBuilder, generation: Int, created: ContinuousClock.Instant) {
            self.builder = builder
            self.generation = generation
            self.created = created
        }
    }

    private struct State {
        var open: [Key: OpenBatch] = [:]
        var sticky: [String: Int32] = [:]
        var generation = 0
        var bufferedBytes = 0
        var closed: [(Key, OpenBatch)] = []
        var drainScheduled = false
        var drain: (@Sendable () -> Void)?
    }

    private let config: ProducerConfig
    private let state = Mutex(State())

    init(config: ProducerConfig) { self.config = config }

    /// Sets what starts a drain of closed batches (the accumulator's); nil (at close) breaks the
    /// reference cycle it makes.
    func onClosed(_ drain: (@Sendable () -> Void)?) { state.withLock { $0.drain = drain } }

    /// Appends `record` unless `buffer.memory` is full (then returns false and appends nothing).
    /// `waited`: the caller already waited for room (another appender may have taken it meanwhile;
    /// the record goes in anyway rather than waiting again, so the bound can be passed by a record).
    @discardableResult
    func tryAdd(_ record: Accumulator.Record, waiter: Waiter?, waited: Bool = false) -> Bool {
        let size = record.sizeEstimate
        let (added, drain, linger) = state.withLock { state -> (Bool, (@Sendable () -> Void)?, (Key, Int)?) in
            if !waited && state.bufferedBytes > 0 && state.bufferedBytes + size > config.bufferBytes {
                return (false, nil, nil)
            }
            let partition = record.partition ?? Self.stickyPartition(&state, record.topic, count: record.partitionCount)
            let key = Key(topic: record.topic, partition: partition)
            var closedAny = false
            var found = state.open[key]
            if let current = found, !current.waiters.isEmpty,
                current.builder.estimatedSizeInBytes + size > config.batchBytes
            {
                closedAny = Self.close(&state, key) || closedAny
                found = nil
            }
            let batch: OpenBatch
            var linger: (Key, Int)?
            if let found {
                batch = found
            } else {
                state.generation += 1
                var builder = RecordBatchBuilder(compression: .none, capacity: min(config.batchBytes, 64 << 10))
                builder.partitionLeaderEpoch = -1
                batch = OpenBatch(builder: builder, generation: state.generation, created: .now)
                state.open[key] = batch
                linger = (key, state.generation)
            }
            batch.builder.append(
                key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp)
            batch.waiters.append(waiter)
            if let id = record.reportId { batch.reportIds.append(id) }
            batch.bytes += size
            state.bufferedBytes += size
            if batch.builder.estimatedSizeInBytes >= config.batchBytes {
                closedAny = Self.close(&state, key) || closedAny
            }
            return (true, closedAny ? Self.takeDrain(&state) : nil, linger)
        }
        if let (key, generation) = linger { startLinger(key, generation) }
        drain?()
        return added
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
            guard state.open[key]?.generation == generation, Self.close(&state, key) else { return nil }
            return Self.takeDrain(&state)
        }
        drain?()
    }

    /// Closes every open batch (flush).
    func closeAll() {
        let drain = state.withLock { state -> (@Sendable () -> Void)? in
            var closedAny = false
            for key in Array(state.open.keys) { closedAny = Self.close(&state, key) || closedAny }
            return closedAny ? Self.takeDrain(&state) : nil
        }
        drain?()
    }

    /// The closed batches, oldest first; the next close schedules a new drain.
    func takeClosed() -> [(Key, OpenBatch)] {
        state.withLock { state in
            state.drainScheduled = false
            defer { state.closed = [] }
            return state.closed
        }
    }

    /// Gives back `bytes` of `buffer.memory` (a batch was answered).
    func release(_ bytes: Int) { state.withLock { $0.bufferedBytes -= bytes } }

    /// Whether `size` more bytes fit now.
    func hasRoom(for size: Int) -> Bool {
        state.withLock { $0.bufferedBytes == 0 || $0.bufferedBytes + size <= config.bufferBytes }
    }

    /// No open and no closed-but-untaken batch.
    var isEmpty: Bool { state.withLock { $0.open.isEmpty && $0.closed.isEmpty } }

    private static func close(_ state: inout State, _ key: Key) -> Bool {
        guard let batch = state.open.removeValue(forKey: key) else { return false }
        if state.sticky[key.topic] == key.partition { state.sticky[key.topic] = nil }
        state.closed.append((key, batch))
        return true
    }

    private static func takeDrain(_ state: inout State) -> (@Sendable () -> Void)? {
        guard !state.drainScheduled, let drain = state.drain else { return nil }
        state.drainScheduled = true
        return drain
    }

    private static func stickyPartition(_ state: inout State, _ topic: String, count: Int32) -> Int32 {
        if let current = state.sticky[topic], current < count { return current }
        let chosen = Int32.random(in: 0..<max(1, count))
        state.sticky[topic] = chosen
        return chosen
    }
}

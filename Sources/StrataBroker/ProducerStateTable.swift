import StrataStorage
import Synchronization

/// Idempotent-producer state: per (partition, producer id) the epoch and the last five batches'
/// sequence ranges with the offsets they got, so a retried batch gets its original offsets and a
/// gap is refused (Kafka's `ProducerStateEntry`). Also issues producer ids.
///
/// Guarded by one `Mutex`. The broker holds a partition's append lock around check → append →
/// record, so checks and appends cannot interleave for one partition.
final class ProducerStateTable: Sendable {
    /// Batches remembered per producer (Kafka: 5, the max in-flight requests of idempotent clients).
    static let batchesRememberedMax = 5

    struct BatchRecord {
        var firstSequence: Int32
        var lastSequence: Int32
        var firstOffset: Int64
        var lastOffset: Int64
    }

    struct Entry {
        var epoch: Int16
        var batches: [BatchRecord] = []
    }

    enum Check: Equatable {
        /// Append it.
        case append
        /// Already appended: answer with these offsets.
        case duplicate(firstOffset: Int64)
        case outOfOrder(expected: Int32, got: Int32)
        case fencedEpoch(current: Int16, got: Int16)
    }

    private struct Key: Hashable {
        var partition: TopicPartition
        var producerId: Int64
    }

    private let entries = Mutex<[Key: Entry]>([:])
    /// Producer ids reserved durably but not yet handed out.
    private let idBlock = Mutex<Range<Int64>>(0..<0)
    /// Ids reserved per trip to disk.
    static let producerIdBlockSize: Int64 = 1000
    private let reserve: @Sendable (Int64) throws(StorageError) -> Range<Int64>

    /// `reserve(count)` must durably reserve `count` never-used ids (LogManager.reserveProducerIds).
    init(reserve: @escaping @Sendable (Int64) throws(StorageError) -> Range<Int64>) { self.reserve = reserve }

    /// A producer id unique across restarts of this data directory.
    func allocateProducerId() throws(StorageError) -> Int64 {
        try idBlock.withLock { (block) throws(StorageError) -> Int64 in
            if block.isEmpty { block = try reserve(Self.producerIdBlockSize) }
            let id = block.lowerBound
            block = (id + 1)..<block.upperBound
            return id
        }
    }

    /// Decides what to do with a batch from `producerId`/`epoch` with sequences `first...last`.
    func check(
        partition: TopicPartition, producerId: Int64, epoch: Int16, firstSequence: Int32,
        lastSequence: Int32
    ) -> Check {
        entries.withLock { entries in
            let key = Key(partition: partition, producerId: producerId)
            guard let entry = entries[key] else {
                // Unknown producer here: accept any start (Kafka accepts a new producer's first batch).
                return .append
            }
            if epoch < entry.epoch { return .fencedEpoch(current: entry.epoch, got: epoch) }
            if epoch > entry.epoch {
                return firstSequence == 0 ? .append : .outOfOrder(expected: 0, got: firstSequence)
            }
            if let previous = entry.batches.first(where: {
                $0.firstSequence == firstSequence && $0.lastSequence == lastSequence
            }) {
                return .duplicate(firstOffset: previous.firstOffset)
            }
            let expected = entry.batches.last.map { $0.lastSequence == Int32.max ? 0 : $0.lastSequence + 1 } ?? 0
            if firstSequence != expected { return .outOfOrder(expected: expected, got: firstSequence) }
            return .append
        }
    }

    /// Records an appended batch.
    func record(partition: TopicPartition, producerId: Int64, epoch: Int16, batch: BatchRecord) {
        entries.withLock { entries in
            let key = Key(partition: partition, producerId: producerId)
            var entry = entries[key] ?? Entry(epoch: epoch)
            if epoch != entry.epoch { entry = Entry(epoch: epoch) }
            entry.batches.append(batch)
            if entry.batches.count > Self.batchesRememberedMax { entry.batches.removeFirst() }
            entries[key] = entry
        }
    }
}

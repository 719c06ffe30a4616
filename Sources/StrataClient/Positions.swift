import Synchronization

/// The owned partitions of a consumer and, per partition, the next offset to fetch, the position
/// after the last record yielded to the caller, and the last committed offset.
///
/// Every externally caused move of a position (assign, seek, a group assignment) gives the
/// partition a new epoch. A fetch remembers the epochs it was made under: its result advances a
/// position only if neither the position nor the epoch changed meanwhile (`advance`), and each of
/// its records is yielded only if the partition is still owned under that epoch (`deliver`). That
/// is how records of revoked or re-positioned partitions never reach the caller.
///
/// Thread-safety: one `Mutex` owns all of it; no method suspends.
final class Positions: Sendable {
    /// One owned partition. A class so the record iterator can keep the entry of the partition it
    /// is yielding from and skip the dictionary lookup per record; `owned` turns false when the
    /// entry is replaced or removed. Its fields are guarded by the `Positions` mutex.
    final class Entry: @unchecked Sendable {
        let key: TopicPartition
        var position: Int64
        var epoch: UInt64
        /// The offset to commit: one past the last record yielded (or where reading starts).
        var consumed: Int64
        var committed: Int64?
        var owned = true

        init(key: TopicPartition, position: Int64, epoch: UInt64, consumed: Int64, committed: Int64?) {
            self.key = key
            self.position = position
            self.epoch = epoch
            self.consumed = consumed
            self.committed = committed
        }
    }

    private struct State {
        var entries: [TopicPartition: Entry] = [:]
        var nextEpoch: UInt64 = 1
    }

    private let state = Mutex(State())

    /// Owns `key` (if not yet) and moves its position to `offset`.
    func set(_ key: TopicPartition, _ offset: Int64, committed: Int64? = nil) {
        state.withLock { state in
            let epoch = state.nextEpoch
            state.nextEpoch += 1
            let previous = state.entries[key]
            previous?.owned = false
            let known = committed ?? previous?.committed
            state.entries[key] = Entry(key: key, position: offset, epoch: epoch, consumed: offset, committed: known)
        }
    }

    func get(_ key: TopicPartition) -> Int64? { state.withLock { $0.entries[key]?.position } }

    /// Owned partitions with their position and epoch, sorted.
    func snapshot() -> [(TopicPartition, Int64, UInt64)] {
        state.withLock { state in
            state.entries.map { ($0.key, $0.value.position, $0.value.epoch) }.sorted { $0.0 < $1.0 }
        }
    }

    func assigned() -> [TopicPartition] { state.withLock { $0.entries.keys.sorted() } }

    /// Moves a position forward after a fetch, unless it was moved or re-epoched since. A reset
    /// (`auto.offset.reset` after OFFSET_OUT_OF_RANGE) moves the consumed position too.
    func advance(
        _ key: TopicPartition, from offset: Int64, epoch: UInt64, to next: Int64, isReset: Bool = false
    ) -> Bool {
        state.withLock { state in
            guard let entry = state.entries[key], entry.epoch == epoch, entry.position == offset else { return false }
            state.entries[key]?.position = next
            if isReset { state.entries[key]?.consumed = next }
            return true
        }
    }

    /// Whether `record` may be yielded; if so, it counts as consumed. `cached` is the caller's
    /// entry of the partition it yielded from last (records come in runs per partition).
    func deliver(_ record: ConsumerRecord, cached: inout Entry?) -> Bool {
        state.withLock { state in
            var entry = cached
            if entry == nil || !entry!.owned || entry!.key.partition != record.partition
                || entry!.key.topic != record.topic
            {
                entry = state.entries[TopicPartition(topic: record.topic, partition: record.partition)]
                cached = entry
            }
            guard let entry, entry.owned, entry.epoch == record.epoch else { return false }
            entry.consumed = record.offset + 1
            return true
        }
    }

    /// `deliver` without a cache.
    func deliver(_ record: ConsumerRecord) -> Bool {
        var cached: Entry?
        return deliver(record, cached: &cached)
    }

    /// Gives up `keys`; returns their consumed positions (to commit).
    func remove(_ keys: [TopicPartition]) -> [TopicPartition: Int64] {
        state.withLock { state in
            var consumed: [TopicPartition: Int64] = [:]
            for key in keys {
                if let entry = state.entries.removeValue(forKey: key) {
                    entry.owned = false
                    consumed[key] = entry.consumed
                }
            }
            return consumed
        }
    }

    /// Consumed positions not yet committed.
    func uncommitted() -> [TopicPartition: Int64] {
        state.withLock { state in
            var result: [TopicPartition: Int64] = [:]
            for (key, entry) in state.entries where entry.committed != entry.consumed { result[key] = entry.consumed }
            return result
        }
    }

    func markCommitted(_ offsets: [TopicPartition: Int64]) {
        state.withLock { state in
            for (key, offset) in offsets where state.entries[key] != nil { state.entries[key]?.committed = offset }
        }
    }
}

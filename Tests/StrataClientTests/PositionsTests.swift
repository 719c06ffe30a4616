import NIOCore
import Testing

@testable import StrataClient

/// The position bookkeeping that keeps records of revoked or moved partitions from the caller.
@Suite struct PositionsTests {
    let key = TopicPartition(topic: "t", partition: 0)

    func record(_ offset: Int64, epoch: UInt64, partition: Int32 = 0) -> ConsumerRecord {
        ConsumerRecord(
            topic: "t", partition: partition, offset: offset, timestamp: 0, key: nil, value: nil, headers: [],
            epoch: epoch)
    }

    func epoch(of key: TopicPartition, _ positions: Positions) -> UInt64 {
        positions.snapshot().first { $0.0 == key }?.2 ?? 0
    }

    @Test func deliveredRecordsMoveTheConsumedPositionThatCommitsUse() {
        let positions = Positions()
        positions.set(key, 10, committed: 10)
        #expect(positions.uncommitted().isEmpty, "a start at the committed offset has nothing to commit")
        let current = epoch(of: key, positions)
        #expect(positions.advance(key, from: 10, epoch: current, to: 20))
        #expect(positions.get(key) == 20)
        #expect(positions.uncommitted().isEmpty, "fetched but not yet yielded is not consumed")
        #expect(positions.deliver(record(10, epoch: current)))
        #expect(positions.deliver(record(11, epoch: current)))
        #expect(positions.uncommitted() == [key: 12])
        positions.markCommitted([key: 12])
        #expect(positions.uncommitted().isEmpty)
    }

    @Test func noRecordOfARevokedPartitionIsDelivered() {
        let positions = Positions()
        positions.set(key, 0)
        let current = epoch(of: key, positions)
        #expect(positions.deliver(record(0, epoch: current)))
        #expect(positions.remove([key]) == [key: 1], "the consumed position goes to the final commit")
        #expect(!positions.deliver(record(1, epoch: current)))
        #expect(!positions.advance(key, from: 0, epoch: current, to: 5), "an in-flight fetch cannot revive it")
        #expect(positions.assigned().isEmpty)
    }

    @Test func recordsFetchedBeforeAReassignmentOrSeekAreStale() {
        let positions = Positions()
        positions.set(key, 0)
        let before = epoch(of: key, positions)
        _ = positions.remove([key])
        positions.set(key, 0, committed: 0)  // assigned again, same start offset
        #expect(!positions.deliver(record(0, epoch: before)), "fetched under the old assignment")
        #expect(!positions.advance(key, from: 0, epoch: before, to: 7), "a stale fetch does not move the position")
        #expect(positions.get(key) == 0)
        positions.set(key, 5)  // seek
        let afterSeek = epoch(of: key, positions)
        #expect(afterSeek != before)
        #expect(!positions.deliver(record(0, epoch: epoch(of: key, positions) - 1)))
        #expect(positions.deliver(record(5, epoch: afterSeek)))
    }

    @Test func anOutOfRangeResetMovesTheConsumedPositionToo() {
        let positions = Positions()
        positions.set(key, 999)
        let current = epoch(of: key, positions)
        #expect(positions.advance(key, from: 999, epoch: current, to: 0, isReset: true))
        #expect(positions.uncommitted() == [key: 0])
        #expect(positions.deliver(record(0, epoch: current)))
    }
}

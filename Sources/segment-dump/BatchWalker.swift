import StrataRecords

/// Walks the batch boundaries of a `.log` that `LogDump` already read, from the start up to
/// `LogFacts.readEnd` (where the framing is known to be sound), reading only headers. The index
/// checks use it to learn which batch starts at a position or holds an offset, so they need no
/// table of every batch: memory stays constant however large the segment.
struct BatchWalker {
    /// The framing of one batch; offsets and timestamp are nil when its magic is not 2.
    struct Batch {
        var position: Int
        var size: Int
        var baseOffset: Int64?
        var lastOffset: Int64?
        var maxTimestamp: Int64?
    }

    private let input: MappedInput
    private let end: Int
    private var nextPosition = 0
    /// The batch the walker stands on (nil before the first step and after the end).
    private(set) var current: Batch?

    init(input: MappedInput, end: Int) {
        self.input = input
        self.end = min(end, input.size)
    }

    /// Moves to the next batch; nil at `end`.
    @discardableResult
    mutating func step() -> Batch? {
        guard nextPosition < end,
            let (_, length) = RecordBatchHeader.peekOffsetAndSize(input.bytes(nextPosition..<end)),
            length >= RecordBatchHeader.Layout.batchLengthMin
        else {
            current = nil
            return nil
        }
        let size = Int(length) + RecordBatchHeader.Layout.logOverhead
        var batch = Batch(position: nextPosition, size: size)
        if let header = try? RecordBatchHeader(parsing: input.bytes(nextPosition..<end)) {
            let (last, overflow) = header.baseOffset.addingReportingOverflow(Int64(header.lastOffsetDelta))
            batch.baseOffset = header.baseOffset
            batch.lastOffset = overflow ? nil : last
            batch.maxTimestamp = header.maxTimestamp
        }
        nextPosition += size
        current = batch
        return batch
    }

    /// Moves forward to the first batch starting at or after `position`; returns it if it starts
    /// exactly there. Never moves backwards.
    mutating func seek(position: Int) -> Batch? {
        while current == nil || current!.position < position {
            guard step() != nil else { return nil }
        }
        return current!.position == position ? current : nil
    }

    /// Moves forward to the first batch whose last offset is ≥ `offset` (offsets increase in a sound
    /// log); returns it if it holds `offset`. Never moves backwards.
    mutating func seek(offset: Int64) -> Batch? {
        while current == nil || (current!.lastOffset ?? Int64.min) < offset {
            guard step() != nil else { return nil }
        }
        guard let batch = current, let base = batch.baseOffset, base <= offset else { return nil }
        return batch
    }
}

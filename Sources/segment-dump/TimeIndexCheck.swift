/// Dumps and checks a `.timeindex` file (Kafka's layout, 12-byte big-endian entries):
///
/// | bytes | field |
/// |---|---|
/// | 0–7 | timestamp i64: the largest record timestamp so far |
/// | 8–11 | relative offset u32 of the batch holding that timestamp |
///
/// Timestamps must strictly increase and offsets never decrease; checked against the `.log`, each
/// offset must lie in the log and the batch holding it must have that max timestamp. Problems name
/// the byte position of the entry in the `.timeindex` file.
struct TimeIndexCheck {
    static let entrySize = 12

    let input: MappedInput
    let file: String
    let baseOffset: Int64

    /// Returns the number of entries.
    func run(log: IndexedLog?, reporter: EventReporter) -> Int {
        let entries = IndexEntries(input: input, entrySize: Self.entrySize)
        if log == nil { reporter.note("no matching .log: entries checked for order only") }
        var walker = log.map { BatchWalker(input: $0.input, end: $0.facts.readEnd) }
        var previous: (index: Int, timestamp: Int64, offset: Int64)?
        for index in 0..<entries.count {
            let timestamp = entries.load(index, 0, as: Int64.self)
            let offset = baseOffset &+ Int64(entries.load(index, 8, as: UInt32.self))
            let at = index * Self.entrySize
            reporter.emit(.timeIndexEntry(file: file, entry: index, timestamp: timestamp, offset: offset))
            if let previous, timestamp <= previous.timestamp || offset < previous.offset {
                reporter.problem(
                    at, offset, .nonMonotonicTimeIndex,
                    "entry \(index) (timestamp \(timestamp), "
                        + "offset \(offset)) does not increase over entry \(previous.index) (timestamp "
                        + "\(previous.timestamp), offset \(previous.offset))")
                continue
            }
            guard let log else {
                previous = (index, timestamp, offset)
                continue
            }
            guard let next = log.facts.nextOffset, offset < next else {
                if !log.facts.stoppedByLimit {
                    let range = log.facts.nextOffset.map { "\(baseOffset)..<\($0)" } ?? "none: no readable batch"
                    reporter.problem(
                        at, offset, .timeIndexOffsetOutOfRange,
                        "entry \(index) offset \(offset) is "
                            + "outside the log's offsets (\(range))")
                }
                continue
            }
            // Only an entry inside the log is a reference for the ones after it.
            previous = (index, timestamp, offset)
            if let batch = walker!.seek(offset: offset) {
                if batch.maxTimestamp != timestamp {
                    reporter.problem(
                        at, offset, .timeIndexTimestampMismatch,
                        "entry \(index) says timestamp "
                            + "\(timestamp) but the batch holding offset \(offset) has maxTimestamp "
                            + "\(batch.maxTimestamp.map(String.init) ?? "?")")
                }
            } else {
                reporter.problem(
                    at, offset, .timeIndexOffsetOutOfRange,
                    "entry \(index) offset \(offset) is not "
                        + "held by any batch of the log")
            }
        }
        entries.reportTail(reporter, truncatedKind: .truncatedTimeIndex)
        return entries.count
    }
}

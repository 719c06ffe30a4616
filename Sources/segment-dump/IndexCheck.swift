/// Dumps and checks a `.index` file (Kafka's layout, 8-byte big-endian entries):
///
/// | bytes | field |
/// |---|---|
/// | 0–3 | relative offset u32 (offset − segment base offset) |
/// | 4–7 | position u32 of the batch in the `.log` |
///
/// Each entry must lie above the previous one in both fields and, checked against the `.log`, point
/// at the start of a batch whose last offset is the entry's offset (the storage engine indexes a
/// batch's last offset). Problems name the byte position of the entry in the `.index` file.
struct IndexCheck {
    static let entrySize = 8

    let input: MappedInput
    let file: String
    let baseOffset: Int64

    /// Returns the number of entries.
    func run(log: IndexedLog?, reporter: EventReporter) -> Int {
        let entries = IndexEntries(input: input, entrySize: Self.entrySize)
        if log == nil { reporter.note("no matching .log: entries checked for order only") }
        var walker = log.map { BatchWalker(input: $0.input, end: $0.facts.readEnd) }
        var previous: (index: Int, offset: Int64, position: Int)?
        for index in 0..<entries.count {
            let relative = entries.load(index, 0, as: UInt32.self)
            let position = Int(entries.load(index, 4, as: UInt32.self))
            let offset = baseOffset &+ Int64(relative)
            let at = index * Self.entrySize
            reporter.emit(.indexEntry(file: file, entry: index, offset: offset, position: position))
            if let previous, offset <= previous.offset || position <= previous.position {
                reporter.problem(
                    at, offset, .nonMonotonicIndex,
                    "entry \(index) (offset \(offset), position "
                        + "\(position)) does not increase over entry \(previous.index) (offset \(previous.offset), "
                        + "position \(previous.position))")
                continue
            }
            // An entry pointing past the log is not a reference for the ones after it.
            let pastLog = log.map { position >= $0.facts.size } ?? false
            if !pastLog { previous = (index, offset, position) }
            guard let log else { continue }
            if position >= log.facts.size {
                reporter.problem(
                    at, offset, .indexEntryPastLog,
                    "entry \(index) points at position \(position), "
                        + "at or past the end of the log (\(log.facts.size) bytes)")
            } else if position >= log.facts.readEnd {
                if !log.facts.stoppedByLimit {
                    reporter.problem(
                        at, offset, .indexEntryInDamagedLog,
                        "entry \(index) points at position "
                            + "\(position), after the log became unreadable at byte \(log.facts.readEnd)")
                }
            } else if let batch = walker!.seek(position: position) {
                if batch.lastOffset != offset {
                    let held = batch.baseOffset.map { "\($0)...\(batch.lastOffset.map(String.init) ?? "?")" } ?? "?"
                    reporter.problem(
                        at, offset, .indexOffsetMismatch,
                        "entry \(index) says offset \(offset) but "
                            + "the batch at position \(position) holds offsets \(held)")
                }
            } else {
                let next = walker!.current.map { "the next batch starts at \($0.position)" } ?? "no batch follows"
                reporter.problem(
                    at, offset, .indexEntryNotBatchBoundary,
                    "entry \(index) points at position "
                        + "\(position), which is not the start of a batch (\(next))")
            }
        }
        entries.reportTail(reporter, truncatedKind: .truncatedIndex)
        return entries.count
    }
}

/// The log side of an index check: the mapped `.log` and what reading it learned.
struct IndexedLog {
    let input: MappedInput
    let facts: LogFacts
}

/// The entry area of an index file: whole entries, ignoring an all-zero preallocated tail (an
/// index left at its preallocated size by a crash), and the bytes after the last whole entry.
struct IndexEntries {
    let input: MappedInput
    let entrySize: Int
    /// Entries before the zero tail.
    let count: Int
    /// Whole all-zero entries after `count`.
    let zeroTail: Int
    /// Bytes after the last whole entry (a torn index when non-zero).
    let trailingBytes: Int

    init(input: MappedInput, entrySize: Int) {
        self.input = input
        self.entrySize = entrySize
        let whole = input.size / entrySize
        trailingBytes = input.size - whole * entrySize
        var count = whole
        while count > 0 && input.bytes((count - 1) * entrySize..<count * entrySize).allSatisfy({ $0 == 0 }) {
            count -= 1
        }
        self.count = count
        zeroTail = whole - count
    }

    /// Big-endian integer at `offset` within entry `index`.
    func load<T: FixedWidthInteger>(_ index: Int, _ offset: Int, as type: T.Type) -> T {
        T(
            bigEndian: input.bytes(index * entrySize + offset..<index * entrySize + offset + MemoryLayout<T>.size)
                .loadUnaligned(as: T.self))
    }

    /// Reports what follows the entries: a note about the zero tail, a `truncatedKind` problem for
    /// bytes after the last whole entry.
    func reportTail(_ reporter: EventReporter, truncatedKind: Problem.Kind) {
        if trailingBytes > 0 {
            reporter.problem(
                input.size - trailingBytes, nil, truncatedKind,
                "file size \(input.size) is not a "
                    + "multiple of \(entrySize): \(trailingBytes) trailing bytes")
        }
        if zeroTail > 0 && count == 0 {
            reporter.note("all \(zeroTail) entries are zero: preallocated space of an empty index; not shown")
        } else if zeroTail > 0 {
            reporter.note("\(zeroTail) all-zero entries after entry \(count - 1) are preallocated space; not shown")
        }
    }
}

/// Sparse map from timestamp to offset in one segment (file `<base>.timeindex`).
///
/// | bytes | field |
/// |---|---|
/// | 0–7 | timestamp i64 (largest record timestamp so far), big-endian |
/// | 8–11 | relative offset u32 of the batch holding that timestamp |
///
/// Appended on the offset index's cadence, only when the timestamp exceeds the last entry's, so
/// timestamps strictly increase. A final entry is forced when the segment is sealed.
/// Ownership as `IndexFile`: writer appends under the partition lock, readers use published counts.
final class TimeIndex: @unchecked Sendable {
    static let entrySize = 12
    let baseOffset: Int64
    let file: IndexFile

    init(path: String, baseOffset: Int64, maxBytes: Int, writable: Bool, fileSystem: FileSystem) throws(StorageError) {
        self.baseOffset = baseOffset
        file = try IndexFile(
            path: path, entrySize: Self.entrySize, maxBytes: maxBytes, writable: writable,
            fileSystem: fileSystem)
    }

    var entryCount: Int { file.entryCount }
    var isFull: Bool { file.isFull }

    @inline(__always)
    func entry(_ index: Int) -> (timestamp: Int64, offset: Int64) {
        let bytes = file.entryBytes(index)
        let timestamp = Int64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: Int64.self))
        let relative = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        return (timestamp, baseOffset + Int64(relative))
    }

    var lastEntry: (timestamp: Int64, offset: Int64)? { entryCount > 0 ? entry(entryCount - 1) : nil }

    /// Appends when `timestamp` is greater than the last entry's; returns whether it did.
    @discardableResult
    func maybeAppend(timestamp: Int64, offset: Int64) -> Bool {
        if let last = lastEntry, timestamp <= last.timestamp { return false }
        guard !file.isFull else { return false }
        let relative = offset - baseOffset
        precondition(relative >= 0 && relative <= Int64(UInt32.max), "relative offset \(relative) out of range")
        if let last = lastEntry { precondition(offset >= last.offset, "time index offsets must not decrease") }
        file.append { pointer in
            pointer.storeBytes(of: timestamp.bigEndian, toByteOffset: 0, as: Int64.self)
            pointer.storeBytes(of: UInt32(relative).bigEndian, toByteOffset: 8, as: UInt32.self)
        }
        return true
    }

    /// Greatest entry with timestamp ≤ `target` among the first `count`, or nil.
    func lookup(_ target: Int64, count: Int) -> (timestamp: Int64, offset: Int64)? {
        file.lastEntry(atOrBelow: target, count: count) { entry($0).timestamp }.map(entry)
    }
}

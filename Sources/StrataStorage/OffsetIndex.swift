/// Sparse map from offset to byte position in one segment's `.log` (file `<base>.index`).
///
/// | bytes | field |
/// |---|---|
/// | 0–3 | relative offset u32 (offset − segment base offset), big-endian |
/// | 4–7 | byte position u32 of the batch in the `.log` |
///
/// One entry per ≥ `index.interval.bytes` written, mapping a batch's *last* offset to its start
/// position; entries strictly increase in both fields. Derived data: rebuilt whenever in doubt.
/// Ownership as `IndexFile`: writer appends under the partition lock, readers use published counts.
final class OffsetIndex: @unchecked Sendable {
    static let entrySize = 8
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
    func entry(_ index: Int) -> (offset: Int64, position: Int) {
        let bytes = file.entryBytes(index)
        let relative = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        let position = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        return (baseOffset + Int64(relative), Int(position))
    }

    var lastEntry: (offset: Int64, position: Int)? { entryCount > 0 ? entry(entryCount - 1) : nil }

    /// Appends (offset, position). Preconditions: both strictly greater than the last entry's and the
    /// relative offset fits 32 bits (the segment rolls before it would not).
    func append(offset: Int64, position: Int) {
        let relative = offset - baseOffset
        precondition(relative >= 0 && relative <= Int64(UInt32.max), "relative offset \(relative) out of range")
        precondition(position >= 0 && position <= Int(UInt32.max), "position \(position) out of range")
        if let last = lastEntry {
            precondition(offset > last.offset && position > last.position, "index entries must increase")
        }
        file.append { pointer in
            pointer.storeBytes(of: UInt32(relative).bigEndian, toByteOffset: 0, as: UInt32.self)
            pointer.storeBytes(of: UInt32(position).bigEndian, toByteOffset: 4, as: UInt32.self)
        }
    }

    /// Greatest entry with offset ≤ `target` among the first `count` entries, or nil.
    func lookup(_ target: Int64, count: Int) -> (offset: Int64, position: Int)? {
        file.lastEntry(atOrBelow: target, count: count) { entry($0).offset }.map(entry)
    }
}

import NIOCore

/// The compaction pass's key → latest offset map, with a fixed memory bound
/// (`log.cleaner.dedupe.buffer.size`). Keys are stored exactly (no hash collisions can drop a
/// record); each entry is charged its key bytes plus `entryOverheadBytes`.
///
/// Owned by one cleaning pass on the cleaner thread.
struct OffsetMap {
    static let entryOverheadBytes = 64
    let bytesMax: Int
    private(set) var bytes = 0
    private var entries: [[UInt8]: Int64] = [:]

    init(bytesMax: Int) { self.bytesMax = bytesMax }

    var count: Int { entries.count }

    /// Records `offset` as the latest for `key`. Returns false (and records nothing) when a new key
    /// would exceed the bound.
    mutating func put(_ key: UnsafeRawBufferPointer, offset: Int64) -> Bool {
        let bytesOfKey = Array(key)
        if let existing = entries[bytesOfKey] {
            assert(offset > existing, "offsets are mapped in increasing order")
            entries[bytesOfKey] = offset
            return true
        }
        let cost = bytesOfKey.count + Self.entryOverheadBytes
        guard bytes + cost <= bytesMax else { return false }
        bytes += cost
        entries[bytesOfKey] = offset
        return true
    }

    func latest(_ key: ByteBuffer) -> Int64? { entries[Array(key.readableBytesView)] }
}

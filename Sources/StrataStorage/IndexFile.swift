#if canImport(Glibc)
import Glibc
#endif

/// A memory-mapped file of fixed-size big-endian entries: the shared mechanics of `OffsetIndex`
/// and `TimeIndex` (preallocate, map, append, trim, truncate, rebuild).
///
/// Owned by one `LogSegment`; `entryCount` and every mutation belong to the partition's writer
/// (under `PartitionLog`'s writer lock). Readers on other threads read only entries below a count
/// that was published to them, which were written before that publication.
final class IndexFile: @unchecked Sendable {
    let path: String
    let entrySize: Int
    private let fileSystem: FileSystem
    private let fd: Int32
    private(set) var mapping: MappedFile?
    /// Entries the mapping has room for.
    private(set) var capacityEntries: Int
    /// Valid entries (writer-owned).
    private(set) var entryCount: Int

    /// Opens or creates the index. When `writable`, the file is extended to `maxBytes` (rounded down
    /// to whole entries) so appends go straight into the mapping; existing entries are kept: the
    /// count is the file's length in whole entries (callers sanity-check and rebuild when unsure).
    init(path: String, entrySize: Int, maxBytes: Int, writable: Bool, fileSystem: FileSystem) throws(StorageError) {
        self.path = path
        self.entrySize = entrySize
        self.fileSystem = fileSystem
        fd = try fileSystem.open(path, flags: O_CREAT | O_RDWR | O_CLOEXEC, mode: 0o644)
        do {
            let existing = Int(try fileSystem.size(fd, path: path))
            entryCount = existing / entrySize
            let wanted = writable ? max(existing, (maxBytes / entrySize) * entrySize) : existing
            if wanted > existing { try fileSystem.truncate(fd, size: Int64(wanted), path: path) }
            capacityEntries = wanted / entrySize
            mapping = wanted > 0 ? try MappedFile(fd: fd, length: wanted, writable: true, path: path) : nil
            // Entries are appended at the end and searched by bisection: readahead around faults only
            // allocates and zeroes pages of the sparse preallocated tail (seen as ~6 % of append time).
            if let mapping { _ = madvise(mapping.base, mapping.length, MADV_RANDOM) }
        } catch {
            fileSystem.close(fd)
            throw error
        }
    }

    deinit { fileSystem.close(fd) }

    var isFull: Bool { entryCount >= capacityEntries }

    /// Bytes of entry `index` (must be < the count the caller was given).
    @inline(__always)
    func entryBytes(_ index: Int) -> UnsafeRawBufferPointer {
        mapping!.bytes(index * entrySize..<(index + 1) * entrySize)
    }

    /// Index of the last of the first `count` entries whose key is ≤ `target`, or nil when none is.
    /// `key(i)` must not decrease with `i` (both indexes keep their keys increasing).
    func lastEntry(atOrBelow target: Int64, count: Int, key: (Int) -> Int64) -> Int? {
        var low = 0
        var high = count - 1
        var found: Int?
        while low <= high {
            let mid = (low + high) >> 1
            if key(mid) <= target {
                found = mid
                low = mid + 1
            } else {
                high = mid - 1
            }
        }
        return found
    }

    /// Appends one entry by writing its bytes into the mapping. Precondition: not full.
    func append(_ write: (UnsafeMutableRawPointer) -> Void) {
        precondition(entryCount < capacityEntries, "index \(path) is full")
        write(mapping!.base + entryCount * entrySize)
        entryCount += 1
    }

    /// Forgets entries from `count` on (their bytes are zeroed so a reopen cannot mistake them).
    func truncate(toEntries count: Int) {
        precondition(count >= 0 && count <= entryCount)
        if let mapping, entryCount > count {
            (mapping.base + count * entrySize).initializeMemory(
                as: UInt8.self, repeating: 0,
                count: (entryCount - count) * entrySize)
        }
        entryCount = count
    }

    /// Shrinks the file to its valid entries (on roll and close). The mapping stays; readers only
    /// touch valid entries, which remain inside the file.
    func trimToValidSize() throws(StorageError) {
        try fileSystem.truncate(fd, size: Int64(entryCount * entrySize), path: path)
        capacityEntries = entryCount
    }

    /// Writes dirty index pages to disk.
    func flush() throws(StorageError) { try mapping?.sync(count: entryCount * entrySize) }

    /// Removes the file (the mapping lives on for readers that hold it).
    func deleteFile() throws(StorageError) { try fileSystem.remove(path) }
}

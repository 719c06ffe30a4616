import CStrataShims

#if canImport(Glibc)
import Glibc
#endif

/// A shared memory map of a file region, unmapped when the last reference goes.
///
/// Immutable after creation; what may be read through it is decided by its owner (an index reads
/// only entries below a published count; a log reader only bytes below a published size), so it is
/// safe to share across threads. Readers that hold a `MappedFile` keep reading it even after the
/// file was renamed `.deleted` or removed.
final class MappedFile: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let length: Int
    let path: String

    /// Maps `length` bytes of `fd` (which may extend past the end of the file; pages past the end
    /// must not be touched). `writable` maps read-write (indexes), else read-only (logs).
    init(fd: Int32, length: Int, writable: Bool, path: String) throws(StorageError) {
        precondition(length > 0, "cannot map an empty region")
        let protection = writable ? (PROT_READ | PROT_WRITE) : PROT_READ
        guard let pointer = mmap(nil, length, protection, MAP_SHARED, fd, 0), pointer != MAP_FAILED else {
            throw .io(operation: "mmap \(length) bytes", path: path, errno: errno)
        }
        self.base = pointer
        self.length = length
        self.path = path
    }

    deinit { munmap(base, length) }

    /// Read-only view of `range` (must lie within the mapping).
    @inline(__always)
    func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        precondition(range.lowerBound >= 0 && range.upperBound <= length, "read past mapping of \(path)")
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    /// Copies `range` to `destination`; a page the kernel cannot produce (the file shrank under the
    /// map, or the disk failed the read: SIGBUS) is a typed error naming the file and position
    /// instead of the end of the process. For bytes that leave storage (fetch answers, headers a
    /// reader parses); bulk scans that tolerate a crash (recovery, cleaning) read the map directly.
    @inline(__always)
    func copy(_ range: Range<Int>, to destination: UnsafeMutableRawPointer) throws(StorageError) {
        precondition(range.lowerBound >= 0 && range.upperBound <= length, "read past mapping of \(path)")
        let status = strata_guarded_copy(destination, base + range.lowerBound, range.count)
        if status != 0 {
            throw .io(
                operation: "read of \(range.count) mapped bytes at position \(range.lowerBound) of", path: path,
                errno: status)
        }
    }

    /// Flushes dirty pages of a writable mapping to the file.
    func sync(count: Int) throws(StorageError) {
        guard count > 0 else { return }
        if msync(base, min(count, length), MS_SYNC) != 0 { throw .io(operation: "msync", path: path, errno: errno) }
    }
}

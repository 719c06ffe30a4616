import StrataStorage
#if canImport(Glibc)
import Glibc
#endif

/// Plain POSIX file operations for the baselines: what the kernel and libc do with no Strata code
/// in between. Every helper opens, works and closes; errors are `BenchError.system`.
public enum PlainFile {
    /// Opens `path` with `flags` (mode 0644), retrying on EINTR.
    public static func open(_ path: String, flags: Int32) throws -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, 0o644)
            if fd >= 0 { return fd }
            if errno != EINTR { throw BenchError.system(operation: "open", path: path, errno: errno) }
        }
    }

    /// Writes all of `bytes` at `offset` with `pwrite`.
    @inline(__always)
    public static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw BenchError.system(operation: "pwrite", path: path, errno: errno)
            }
            done += n
        }
    }

    /// Writes all of `bytes` at the file position with `write`.
    @inline(__always)
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw BenchError.system(operation: "write", path: path, errno: errno)
            }
            done += n
        }
    }

    /// `fdatasync`.
    public static func dataSync(_ fd: Int32, path: String) throws {
        if fdatasync(fd) != 0 { throw BenchError.system(operation: "fdatasync", path: path, errno: errno) }
    }

    /// Size of the file at `path`, by `stat`.
    public static func size(_ path: String) throws -> Int {
        var info = stat()
        if stat(path, &info) != 0 { throw BenchError.system(operation: "stat", path: path, errno: errno) }
        return Int(info.st_size)
    }

    /// Names in a directory (no `.`/`..`), by `readdir`.
    public static func list(_ directory: String) throws -> [String] {
        guard let handle = opendir(directory) else {
            throw BenchError.system(operation: "opendir", path: directory, errno: errno)
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = directoryEntryName(entry)
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

/// A read-only shared memory map of a whole file, unmapped on deinit: the baselines' view of the
/// same page-cache pages Strata reads through its own segment maps.
///
/// Immutable after creation, read from one thread.
public final class ReadOnlyMapping {
    public let bytes: UnsafeRawBufferPointer
    private let fd: Int32

    public init(path: String) throws {
        fd = try PlainFile.open(path, flags: O_RDONLY)
        let length = try PlainFile.size(path)
        guard length > 0, let pointer = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), pointer != MAP_FAILED else {
            let code = errno
            Glibc.close(fd)
            throw BenchError.system(operation: "mmap", path: path, errno: code)
        }
        bytes = UnsafeRawBufferPointer(start: pointer, count: length)
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress!), bytes.count)
        Glibc.close(fd)
    }
}

import CStrataShims
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The file operations storage performs, behind one protocol so tests can inject faults
/// (`FaultInjectingFileSystem`). Every method throws `StorageError.io` naming the path and errno.
///
/// Memory maps are not routed through here: they only read bytes that a routed write already
/// put there, so faults are injected at the write, read and sync boundaries.
public protocol FileSystem: Sendable {
    func open(_ path: String, flags: Int32, mode: mode_t) throws(StorageError) -> Int32
    func close(_ fd: Int32)
    /// Writes all of `first` then `second` at `offset` (pwritev); returns bytes written, which may be
    /// short only when the call is interrupted by a fault.
    func write(
        _ fd: Int32, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, at offset: Int64,
        path: String
    ) throws(StorageError) -> Int
    /// Writes every buffer of `vectors`, in order, at `offset` (pwritev, at most `IOV_MAX` buffers per
    /// call); returns bytes written, which may be short only when a fault interrupts the call. The
    /// default writes one buffer at a time through `write`.
    func write(
        _ fd: Int32, vectors: UnsafeBufferPointer<iovec>, at offset: Int64, path: String
    ) throws(StorageError)
        -> Int
    /// Reads up to `buffer.count` bytes at `offset`; returns bytes read (0 at end of file).
    func read(
        _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String
    )
        throws(StorageError) -> Int
    /// `fdatasync`.
    func sync(_ fd: Int32, path: String) throws(StorageError)
    func truncate(_ fd: Int32, size: Int64, path: String) throws(StorageError)
    func size(_ fd: Int32, path: String) throws(StorageError) -> Int64
    /// Reserves `length` bytes at `offset` without changing the file size where supported.
    func allocate(_ fd: Int32, offset: Int64, length: Int64, path: String) throws(StorageError)
    func rename(_ from: String, to: String) throws(StorageError)
    func remove(_ path: String) throws(StorageError)
    func createDirectory(_ path: String) throws(StorageError)
    /// Names in a directory (no `.`/`..`).
    func listDirectory(_ path: String) throws(StorageError) -> [String]
    func fileExists(_ path: String) -> Bool
    /// fsync of a directory, making renames and creations in it durable.
    func syncDirectory(_ path: String) throws(StorageError)
    /// Starts (or, with `wait`, completes) writeback of a byte range to the device without a journal
    /// commit, so a later fsync has little left to do. A hint: it makes nothing durable.
    func writeback(_ fd: Int32, offset: Int64, length: Int64, wait: Bool, path: String) throws(StorageError)
}

extension FileSystem {
    public func write(
        _ fd: Int32, vectors: UnsafeBufferPointer<iovec>, at offset: Int64, path: String
    )
        throws(StorageError) -> Int
    {
        var done = 0
        for vector in vectors {
            let bytes = UnsafeRawBufferPointer(start: vector.iov_base, count: vector.iov_len)
            let written = try write(
                fd, bytes, UnsafeRawBufferPointer(start: nil, count: 0), at: offset + Int64(done), path: path)
            done += written
            if written < bytes.count { break }
        }
        return done
    }

    /// Default: no writeback hint.
    public func writeback(_ fd: Int32, offset: Int64, length: Int64, wait: Bool, path: String) throws(StorageError) {}

    /// Writes one buffer at `offset`, completely.
    func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String) throws(StorageError) {
        let written = try write(fd, bytes, UnsafeRawBufferPointer(start: nil, count: 0), at: offset, path: path)
        guard written == bytes.count else { throw .io(operation: "write (short)", path: path, errno: EIO) }
    }

    /// Writes a whole small file crash-safely: temp name, fsync, rename, fsync directory.
    func writeFileAtomically(_ path: String, contents: [UInt8]) throws(StorageError) {
        let temporary = path + ".tmp"
        let fd = try open(temporary, flags: O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, mode: 0o644)
        do throws(StorageError) {
            try contents.withUnsafeBytes { bytes in
                Result { () throws(StorageError) in try writeAll(fd, bytes, at: 0, path: temporary) }
            }.get()
            try sync(fd, path: temporary)
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        try rename(temporary, to: path)
        try syncDirectory((path as NSString).deletingLastPathComponent)
    }

    /// Reads a whole small file, nil if it does not exist.
    func readFile(_ path: String) throws(StorageError) -> [UInt8]? {
        guard fileExists(path) else { return nil }
        let fd = try open(path, flags: O_RDONLY | O_CLOEXEC, mode: 0)
        defer { close(fd) }
        let length = Int(try size(fd, path: path))
        var result = [UInt8](repeating: 0, count: length)
        var done = 0
        while done < length {
            let n = try result.withUnsafeMutableBytes { bytes in
                Result { () throws(StorageError) in
                    try read(
                        fd, into: UnsafeMutableRawBufferPointer(rebasing: bytes[done...]), at: Int64(done), path: path)
                }
            }.get()
            if n == 0 { break }
            done += n
        }
        return Array(result[..<done])
    }
}

/// The real file system (POSIX calls, retried on EINTR).
public struct PosixFileSystem: FileSystem {
    public init() {}

    public func open(_ path: String, flags: Int32, mode: mode_t) throws(StorageError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw .io(operation: "open", path: path, errno: errno) }
        }
    }

    public func close(_ fd: Int32) { _ = Glibc.close(fd) }

    public func write(
        _ fd: Int32, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer,
        at offset: Int64, path: String
    ) throws(StorageError) -> Int {
        let total = first.count + second.count
        var done = 0
        while done < total {
            var vectors = (iovec(), iovec())
            var count: Int32 = 0
            if done < first.count {
                vectors.0 = iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: first.baseAddress! + done),
                    iov_len: first.count - done)
                count = 1
                if second.count > 0 {
                    vectors.1 = iovec(
                        iov_base: UnsafeMutableRawPointer(mutating: second.baseAddress!),
                        iov_len: second.count)
                    count = 2
                }
            } else {
                let skip = done - first.count
                vectors.0 = iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: second.baseAddress! + skip),
                    iov_len: second.count - skip)
                count = 1
            }
            let n = withUnsafePointer(to: &vectors) { pointer in
                pointer.withMemoryRebound(to: iovec.self, capacity: 2) {
                    Glibc.pwritev(fd, $0, count, off_t(offset) + off_t(done))
                }
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "pwritev", path: path, errno: errno)
            }
            if n == 0 { throw .io(operation: "pwritev (wrote 0 bytes)", path: path, errno: EIO) }
            done += n
        }
        return done
    }

    /// Most buffers one `pwritev` takes (Linux's `IOV_MAX`).
    static let vectorsPerCallMax = 1024

    public func write(
        _ fd: Int32, vectors: UnsafeBufferPointer<iovec>, at offset: Int64, path: String
    )
        throws(StorageError) -> Int
    {
        var total = 0
        for vector in vectors { total += vector.iov_len }
        var done = 0
        var first = 0  // first vector not completely written
        var skip = 0  // bytes of `vectors[first]` already written
        while done < total {
            let count = min(vectors.count - first, Self.vectorsPerCallMax)
            let n = withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { batch -> Int in
                for k in 0..<count { batch[k] = vectors[first + k] }
                if skip > 0 {
                    batch[0].iov_base = batch[0].iov_base.map { $0 + skip }
                    batch[0].iov_len -= skip
                }
                return Glibc.pwritev(fd, batch.baseAddress, Int32(count), off_t(offset) + off_t(done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(operation: "pwritev", path: path, errno: errno)
            }
            if n == 0 { throw .io(operation: "pwritev (wrote 0 bytes)", path: path, errno: EIO) }
            done += n
            // Step past the vectors this call completed.
            var left = n + skip
            skip = 0
            while first < vectors.count && left >= vectors[first].iov_len {
                left -= vectors[first].iov_len
                first += 1
            }
            skip = left
        }
        return done
    }

    public func read(
        _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String
    )
        throws(StorageError) -> Int
    {
        while true {
            let n = Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno != EINTR { throw .io(operation: "pread", path: path, errno: errno) }
        }
    }

    public func sync(_ fd: Int32, path: String) throws(StorageError) {
        if Glibc.fdatasync(fd) != 0 { throw .io(operation: "fdatasync", path: path, errno: errno) }
    }

    public func truncate(_ fd: Int32, size: Int64, path: String) throws(StorageError) {
        if Glibc.ftruncate(fd, off_t(size)) != 0 { throw .io(operation: "ftruncate", path: path, errno: errno) }
    }

    public func size(_ fd: Int32, path: String) throws(StorageError) -> Int64 {
        var info = stat()
        if Glibc.fstat(fd, &info) != 0 { throw .io(operation: "fstat", path: path, errno: errno) }
        return Int64(info.st_size)
    }

    public func allocate(_ fd: Int32, offset: Int64, length: Int64, path: String) throws(StorageError) {
        let code = strata_fallocate(fd, strata_falloc_keep_size(), off_t(offset), off_t(length))
        // Not every file system supports fallocate; reservation is an optimisation only.
        if code != 0 && code != EOPNOTSUPP && code != ENOSYS {
            throw .io(operation: "fallocate", path: path, errno: code)
        }
    }

    public func writeback(_ fd: Int32, offset: Int64, length: Int64, wait: Bool, path: String) throws(StorageError) {
        let code = strata_writeback(fd, off_t(offset), off_t(length), wait ? 1 : 0)
        if code != 0 && code != ENOSYS && code != EOPNOTSUPP && code != ESPIPE {
            throw .io(operation: "sync_file_range", path: path, errno: code)
        }
    }

    public func rename(_ from: String, to: String) throws(StorageError) {
        if Glibc.rename(from, to) != 0 { throw .io(operation: "rename to \(to)", path: from, errno: errno) }
    }

    public func remove(_ path: String) throws(StorageError) {
        if Glibc.unlink(path) != 0 && errno != ENOENT { throw .io(operation: "unlink", path: path, errno: errno) }
    }

    public func createDirectory(_ path: String) throws(StorageError) {
        if Glibc.mkdir(path, 0o755) != 0 && errno != EEXIST { throw .io(operation: "mkdir", path: path, errno: errno) }
    }

    public func listDirectory(_ path: String) throws(StorageError) -> [String] {
        guard let directory = opendir(path) else { throw .io(operation: "opendir", path: path, errno: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = directoryEntryName(entry)
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public func syncDirectory(_ path: String) throws(StorageError) {
        let fd = try open(path, flags: O_RDONLY | O_DIRECTORY | O_CLOEXEC, mode: 0)
        defer { close(fd) }
        if Glibc.fsync(fd) != 0 { throw .io(operation: "fsync directory", path: path, errno: errno) }
    }
}

/// The name of a `readdir` entry, read in place up to its terminating NUL. Never copy `d_name` as a
/// value: the kernel's record is only as long as the name (`d_reclen`), so copying the declared
/// 256-byte array reads past it, and for the last entry of `readdir`'s buffer past the end of the
/// mapping (the crash campaign's restart 485 died of SIGSEGV there while listing a partition).
public func directoryEntryName(_ entry: UnsafePointer<dirent>) -> String {
    let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
    return String(cString: UnsafeRawPointer(entry).advanced(by: offset).assumingMemoryBound(to: CChar.self))
}

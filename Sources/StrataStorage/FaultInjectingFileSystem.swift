import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `FileSystem` that forwards to another and injects failures on demand: ENOSPC or EIO on
/// writes, short (torn) writes, EIO on reads, failed fsyncs. Tests (and the reliability campaign)
/// arm faults, run operations, and check that storage reports a typed error and stays consistent.
///
/// Thread-safe: the fault plan is guarded by one `Mutex`.
public final class FaultInjectingFileSystem: FileSystem {
    /// Operations a fault can target.
    public enum Operation: Sendable, Hashable {
        case write, read, sync, truncate, rename, open
    }

    /// What happens when an armed fault fires.
    public enum Fault: Sendable, Equatable {
        /// The call fails with this errno, writing nothing.
        case error(Int32)
        /// A write stores only the first `bytes` bytes, then fails with EIO (a torn write).
        case shortWrite(bytes: Int)
    }

    private struct Armed {
        var fault: Fault
        var afterCalls: Int
        var pathContains: String?
        var remaining: Int
    }

    private let base: FileSystem
    private let plan = Mutex<[Operation: Armed]>([:])
    private let fired = Mutex<Int>(0)

    public init(base: FileSystem = PosixFileSystem()) { self.base = base }

    /// Arms `fault` for `operation`: it fires after `afterCalls` more successful matching calls,
    /// `times` times (Int.max = until disarmed), only for paths containing `pathContains` if given.
    public func arm(
        _ operation: Operation, _ fault: Fault, afterCalls: Int = 0, times: Int = 1,
        pathContains: String? = nil
    ) {
        plan.withLock {
            $0[operation] = Armed(fault: fault, afterCalls: afterCalls, pathContains: pathContains, remaining: times)
        }
    }

    /// Removes every armed fault.
    public func disarmAll() { plan.withLock { $0.removeAll() } }

    /// How many faults have fired.
    public var firedCount: Int { fired.withLock { $0 } }

    private let syncs = Mutex<Int>(0)
    /// How many file syncs (fdatasync) succeeded — lets tests observe group commit.
    public var syncCount: Int { syncs.withLock { $0 } }

    private func check(_ operation: Operation, path: String) -> Fault? {
        let fault: Fault? = plan.withLock { plan in
            guard var armed = plan[operation] else { return nil }
            if let filter = armed.pathContains, !path.contains(filter) { return nil }
            if armed.afterCalls > 0 {
                armed.afterCalls -= 1
                plan[operation] = armed
                return nil
            }
            armed.remaining -= 1
            if armed.remaining <= 0 { plan[operation] = nil } else { plan[operation] = armed }
            return armed.fault
        }
        if fault != nil { fired.withLock { $0 += 1 } }
        return fault
    }

    public func open(_ path: String, flags: Int32, mode: mode_t) throws(StorageError) -> Int32 {
        if case .error(let code)? = check(.open, path: path) { throw .io(operation: "open", path: path, errno: code) }
        return try base.open(path, flags: flags, mode: mode)
    }

    public func close(_ fd: Int32) { base.close(fd) }

    public func write(
        _ fd: Int32, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer,
        at offset: Int64, path: String
    ) throws(StorageError) -> Int {
        switch check(.write, path: path) {
        case .error(let code)?:
            throw .io(operation: "pwritev", path: path, errno: code)
        case .shortWrite(let bytes)?:
            // Store a prefix of the data, as a crash or full disk in the middle of a write would.
            let firstPart = min(bytes, first.count)
            let secondPart = min(max(0, bytes - first.count), second.count)
            _ = try base.write(
                fd, UnsafeRawBufferPointer(rebasing: first[..<firstPart]),
                UnsafeRawBufferPointer(rebasing: second[..<secondPart]), at: offset, path: path)
            throw .io(operation: "pwritev (torn after \(firstPart + secondPart) bytes)", path: path, errno: EIO)
        case nil:
            return try base.write(fd, first, second, at: offset, path: path)
        }
    }

    public func write(
        _ fd: Int32, vectors: UnsafeBufferPointer<iovec>, at offset: Int64, path: String
    )
        throws(StorageError) -> Int
    {
        switch check(.write, path: path) {
        case .error(let code)?:
            throw .io(operation: "pwritev", path: path, errno: code)
        case .shortWrite(let bytes)?:
            // Store a prefix of the data, as a crash or full disk in the middle of a write would.
            var kept: [iovec] = []
            var left = bytes
            for vector in vectors where left > 0 {
                var part = vector
                part.iov_len = min(left, vector.iov_len)
                left -= part.iov_len
                kept.append(part)
            }
            let written = try kept.withUnsafeBufferPointer { kept in
                Result { () throws(StorageError) in try base.write(fd, vectors: kept, at: offset, path: path) }
            }.get()
            throw .io(operation: "pwritev (torn after \(written) bytes)", path: path, errno: EIO)
        case nil:
            return try base.write(fd, vectors: vectors, at: offset, path: path)
        }
    }

    public func read(
        _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String
    )
        throws(StorageError) -> Int
    {
        if case .error(let code)? = check(.read, path: path) { throw .io(operation: "pread", path: path, errno: code) }
        return try base.read(fd, into: buffer, at: offset, path: path)
    }

    public func sync(_ fd: Int32, path: String) throws(StorageError) {
        if case .error(let code)? = check(.sync, path: path) {
            throw .io(operation: "fdatasync", path: path, errno: code)
        }
        try base.sync(fd, path: path)
        syncs.withLock { $0 += 1 }
    }

    public func truncate(_ fd: Int32, size: Int64, path: String) throws(StorageError) {
        if case .error(let code)? = check(.truncate, path: path) {
            throw .io(operation: "ftruncate", path: path, errno: code)
        }
        try base.truncate(fd, size: size, path: path)
    }

    public func size(_ fd: Int32, path: String) throws(StorageError) -> Int64 { try base.size(fd, path: path) }

    public func allocate(_ fd: Int32, offset: Int64, length: Int64, path: String) throws(StorageError) {
        try base.allocate(fd, offset: offset, length: length, path: path)
    }

    public func rename(_ from: String, to: String) throws(StorageError) {
        if case .error(let code)? = check(.rename, path: from) {
            throw .io(operation: "rename to \(to)", path: from, errno: code)
        }
        try base.rename(from, to: to)
    }

    public func remove(_ path: String) throws(StorageError) { try base.remove(path) }
    public func createDirectory(_ path: String) throws(StorageError) { try base.createDirectory(path) }
    public func listDirectory(_ path: String) throws(StorageError) -> [String] { try base.listDirectory(path) }
    public func fileExists(_ path: String) -> Bool { base.fileExists(path) }
    public func syncDirectory(_ path: String) throws(StorageError) {
        if case .error(let code)? = check(.sync, path: path) {
            throw .io(operation: "fsync directory", path: path, errno: code)
        }
        try base.syncDirectory(path)
    }
}

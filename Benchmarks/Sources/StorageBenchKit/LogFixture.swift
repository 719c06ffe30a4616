import Logging
import NIOCore
import StrataRecords
import StrataStorage
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Opens and fills Strata partition logs for benchmarks, with logging switched off.
///
/// Stateless; each log it returns is owned by the caller, who must `close()` it.
public enum LogFixture {
    /// A logger that drops everything (benchmarks must not measure log formatting).
    public static let quietLogger = Logger(label: "strata.bench", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Topic-partition name used by every benchmark log.
    public static let partition = TopicPartition("bench", 0)

    /// Default Kafka settings with `segment.bytes` replaced.
    public static func config(segmentBytes: Int = 1 << 30) -> LogConfig {
        var config = LogConfig()
        config.segmentBytes = segmentBytes
        return config
    }

    /// Opens (creating when empty) the partition in `directory`.
    public static func open(directory: String, config: LogConfig = config(),
                            options: PartitionLog.OpenOptions = .init(cleanShutdown: true),
                            executor: BlockingExecutor, fileSystem: FileSystem = PosixFileSystem()) throws
        -> PartitionLog {
        try PartitionLog.open(directory: directory, topicPartition: partition, config: config, options: options,
                              fileSystem: fileSystem, executor: executor, logger: quietLogger)
    }

    /// Wraps producer batches as `RecordBatch` values (no copy).
    public static func recordBatches(_ buffers: [ByteBuffer]) throws -> [RecordBatch] {
        try buffers.map { try RecordBatch(buffer: $0) }
    }

    /// Appends `count` batches, cycling through `batches`; returns the base offset of each append.
    @discardableResult
    public static func fill(_ log: PartitionLog, batches: [RecordBatch], count: Int) throws -> [Int64] {
        var firstOffsets: [Int64] = []
        firstOffsets.reserveCapacity(count)
        for index in 0..<count {
            firstOffsets.append(try log.append(batches[index % batches.count]).firstOffset)
        }
        return firstOffsets
    }

    /// Writes a partition of `count` batches to `directory`, fdatasyncs and closes it, so no
    /// writeback from building it disturbs later measurements. Returns each batch's base offset.
    public static func build(directory: String, config: LogConfig, batches: [RecordBatch], count: Int,
                             executor: BlockingExecutor) throws -> [Int64] {
        let log = try open(directory: directory, config: config, executor: executor)
        let offsets = try fill(log, batches: batches, count: count)
        try log.close()
        return offsets
    }
}

/// The real file system with a count of `fdatasync` calls (to report appends per sync).
///
/// Thread-safe: the count is an atomic; everything else forwards to `PosixFileSystem`.
public final class SyncCountingFileSystem: FileSystem {
    private let base = PosixFileSystem()
    private let syncs = Atomic<Int>(0)

    public init() {}

    /// `fdatasync` calls on files so far.
    public var syncCount: Int { syncs.load(ordering: .relaxed) }

    public func open(_ path: String, flags: Int32, mode: mode_t) throws(StorageError) -> Int32 {
        try base.open(path, flags: flags, mode: mode)
    }

    public func close(_ fd: Int32) { base.close(fd) }

    public func write(_ fd: Int32, _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer,
                      at offset: Int64, path: String) throws(StorageError) -> Int {
        try base.write(fd, first, second, at: offset, path: path)
    }

    public func write(_ fd: Int32, vectors: UnsafeBufferPointer<iovec>, at offset: Int64, path: String)
        throws(StorageError) -> Int {
        try base.write(fd, vectors: vectors, at: offset, path: path)
    }

    public func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String)
        throws(StorageError) -> Int {
        try base.read(fd, into: buffer, at: offset, path: path)
    }

    public func sync(_ fd: Int32, path: String) throws(StorageError) {
        syncs.add(1, ordering: .relaxed)
        try base.sync(fd, path: path)
    }

    public func truncate(_ fd: Int32, size: Int64, path: String) throws(StorageError) {
        try base.truncate(fd, size: size, path: path)
    }

    public func size(_ fd: Int32, path: String) throws(StorageError) -> Int64 { try base.size(fd, path: path) }

    public func allocate(_ fd: Int32, offset: Int64, length: Int64, path: String) throws(StorageError) {
        try base.allocate(fd, offset: offset, length: length, path: path)
    }

    public func rename(_ from: String, to: String) throws(StorageError) { try base.rename(from, to: to) }

    public func remove(_ path: String) throws(StorageError) { try base.remove(path) }

    public func createDirectory(_ path: String) throws(StorageError) { try base.createDirectory(path) }

    public func listDirectory(_ path: String) throws(StorageError) -> [String] { try base.listDirectory(path) }

    public func fileExists(_ path: String) -> Bool { base.fileExists(path) }

    public func syncDirectory(_ path: String) throws(StorageError) { try base.syncDirectory(path) }
}

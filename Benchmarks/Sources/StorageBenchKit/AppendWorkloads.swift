import NIOCore
import StrataRecords
import StrataStorage

#if canImport(Glibc)
import Glibc
#endif

/// Appends through Strata and the plain-file writes they are compared with (targets 1 and 2).
///
/// Each function writes into a file or log it creates in `directory` and leaves it there for the
/// caller to delete; only the writing is timed, never opening or closing.
public enum AppendWorkloads {
    /// `PartitionLog.append` of `count` batches (cycling through `batches`) into a new log, page cache
    /// only. Returns seconds.
    public static func strataAppend(directory: String, batches: [RecordBatch], count: Int,
                                    executor: BlockingExecutor) throws -> Double {
        let log = try LogFixture.open(directory: directory, executor: executor)
        defer { try? log.close() }
        return try secondsTaken {
            for index in 0..<count { _ = try log.append(batches[index % batches.count]) }
        }
    }

    /// `pwrite` of the same batch bytes, in the same order, at increasing offsets of a new file.
    public static func pwriteBaseline(path: String, batches: [ByteBuffer], count: Int) throws -> Double {
        let fd = try PlainFile.open(path, flags: O_CREAT | O_EXCL | O_RDWR)
        defer { close(fd) }
        return try secondsTaken {
            var offset = 0
            for index in 0..<count {
                try batches[index % batches.count].withUnsafeReadableBytes { bytes in
                    try PlainFile.pwriteAll(fd, bytes, at: offset, path: path)
                    offset += bytes.count
                }
            }
        }
    }

    /// Result of a group-commit run.
    public struct GroupCommitResult: Sendable {
        public var seconds: Double
        public var bytes: Int
        public var appends: Int
        public var syncs: Int
        /// Process CPU time (all threads) during the run.
        public var cpuSeconds: Double
    }

    /// `tasks` concurrent appenders, each appending `appendsPerTask` copies of `batch` and waiting for
    /// it to be durable before the next one (acks=all): with `appendDurably` (write coalescing), or
    /// with `append` then `flush(through:)` of its own batch when `coalesced` is false.
    public static func strataGroupCommit(directory: String, batch: RecordBatch, tasks: Int, appendsPerTask: Int,
                                         coalesced: Bool = true,
                                         executor: BlockingExecutor) async throws -> GroupCommitResult {
        let fileSystem = SyncCountingFileSystem()
        let log = try LogFixture.open(directory: directory, executor: executor, fileSystem: fileSystem)
        defer { try? log.close() }
        let syncsBefore = fileSystem.syncCount
        let cpuBefore = processCPUNanoseconds()
        let seconds = try await secondsTaken {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        for _ in 0..<appendsPerTask {
                            if coalesced {
                                _ = try await log.appendDurably(batch)
                            } else {
                                let info = try log.append(batch)
                                try await log.flush(through: info.lastOffset + 1)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        let cpuSeconds = Double(processCPUNanoseconds() - cpuBefore) / 1e9
        let appends = tasks * appendsPerTask
        return GroupCommitResult(seconds: seconds, bytes: appends * batch.sizeInBytes, appends: appends,
                                 syncs: fileSystem.syncCount - syncsBefore, cpuSeconds: cpuSeconds)
    }

    /// `write` of `totalBytes` to a new file in `chunkBytes` chunks, `fdatasync` after each chunk.
    /// Returns seconds; `cpuSeconds` receives the process CPU time it took.
    public static func writeSyncBaseline(path: String, totalBytes: Int, chunkBytes: Int,
                                         cpuSeconds: UnsafeMutablePointer<Double>? = nil) throws -> Double {
        precondition(totalBytes % chunkBytes == 0, "total must be whole chunks")
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkBytes, alignment: 4096)
        defer { chunk.deallocate() }
        var random = SplitMix64(seed: 3)
        for index in stride(from: 0, to: chunkBytes, by: 8) {
            chunk.storeBytes(of: random.next(), toByteOffset: index, as: UInt64.self)
        }
        let fd = try PlainFile.open(path, flags: O_CREAT | O_EXCL | O_WRONLY)
        defer { close(fd) }
        let cpuBefore = processCPUNanoseconds()
        let seconds = try secondsTaken {
            for _ in 0..<(totalBytes / chunkBytes) {
                try PlainFile.writeAll(fd, UnsafeRawBufferPointer(chunk), path: path)
                try PlainFile.dataSync(fd, path: path)
            }
        }
        cpuSeconds?.pointee = Double(processCPUNanoseconds() - cpuBefore) / 1e9
        return seconds
    }
}

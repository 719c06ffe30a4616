import Foundation
import NIOCore
import StrataRecords
import Testing

@testable import StrataStorage

#if canImport(Glibc)
import Glibc
#endif

/// Disk errors surface as typed errors and leave the log consistent.
@Suite struct FaultInjectionTests {
    @Test func enospcOnAppendIsReportedAndWritesResumeAfterwards() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let fileSystem = FaultInjectingFileSystem()
        let log = try openLog(dir.path, fileSystem: fileSystem)
        try log.append(makeBatch(count: 2, tag: "a"))
        fileSystem.arm(.write, .error(ENOSPC))
        #expect {
            try log.append(makeBatch(count: 2, tag: "lost"))
        } throws: { error in
            guard case StorageError.io(_, let path, let code) = error else { return false }
            return code == ENOSPC && path.hasSuffix(".log")
        }
        #expect(log.logEndOffset == 2)
        #expect(try readAll(log).map(\.value) == ["a-0", "a-1"])
        let info = try log.append(makeBatch(count: 1, tag: "b"))
        #expect(info.firstOffset == 2)
        #expect(try readAll(log).map(\.value) == ["a-0", "a-1", "b-0"])
        try log.close()
    }

    /// A read through the segment's memory map of a page the kernel cannot produce raises SIGBUS
    /// (a disk read error, or here the real thing a test can cause: the file shrank under the map).
    /// Every read that leaves storage copies through `MappedFile.copy`, so it is an I/O error naming
    /// the file and position, and the process lives.
    @Test func unreadableSegmentPagesAreAnIOErrorNotACrash() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let log = try openLog(dir.path)
        for tag in ["a", "b", "c"] { try log.append(makeBatch(count: 4, tag: tag, valueSize: 3000)) }
        let early = try #require(try log.read(from: 0, maxBytes: 1 << 20).slice)
        let segment = dir.path + "/00000000000000000000.log"
        #expect(truncate(segment, 0) == 0)
        func isUnreadable(_ error: StorageError?) -> Bool {
            guard case .io(let operation, let path, let code)? = error else { return false }
            return code == EIO && path == segment && operation.contains("at position")
        }
        // A slice taken before the damage: copying it out fails and leaves the buffer as it was.
        var buffer = ByteBufferAllocator().buffer(string: "kept")
        let copyError = #expect(throws: StorageError.self) { try early.copyBytes(into: &buffer) }
        #expect(isUnreadable(copyError), "\(String(describing: copyError))")
        #expect(String(buffer: buffer) == "kept")
        // A new read: locating the batch reads its header from the map.
        let readError = #expect(throws: StorageError.self) { try log.read(from: 4, maxBytes: 1 << 20) }
        #expect(isUnreadable(readError), "\(String(describing: readError))")
        // The guard is per copy: a good region of another log still reads after the faults.
        let other = TemporaryDirectory()
        defer { other.cleanup() }
        let healthy = try openLog(other.path)
        try healthy.append(makeBatch(count: 2, tag: "ok"))
        #expect(try readAll(healthy).map(\.value) == ["ok-0", "ok-1"])
        try healthy.close()
        try? log.close()
    }

    @Test func tornWriteIsCutBackSoTheNextAppendIsIntact() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let fileSystem = FaultInjectingFileSystem()
        let log = try openLog(dir.path, fileSystem: fileSystem)
        try log.append(makeBatch(count: 2, tag: "a"))
        fileSystem.arm(.write, .shortWrite(bytes: 30))
        #expect(throws: StorageError.self) { try log.append(makeBatch(count: 2, tag: "torn")) }
        try log.append(makeBatch(count: 1, tag: "b"))
        try log.close()
        let reopened = try openLog(dir.path, clean: false)
        #expect(try readAll(reopened).map(\.value) == ["a-0", "a-1", "b-0"])
        try reopened.close()
    }

    @Test func tornWriteThatCannotBeCutFailsTheLogAndRecoveryRemovesIt() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let fileSystem = FaultInjectingFileSystem()
        let log = try openLog(dir.path, fileSystem: fileSystem)
        try log.append(makeBatch(count: 2, tag: "a"))
        try log.flush()
        fileSystem.arm(.write, .shortWrite(bytes: 40))
        fileSystem.arm(.truncate, .error(EIO))
        #expect(throws: StorageError.self) { try log.append(makeBatch(count: 2, tag: "torn")) }
        #expect(log.failure != nil)
        #expect {
            try log.append(makeBatch(count: 1))
        } throws: { error in
            if case StorageError.logFailed = error { return true }
            return false
        }
        #expect(try readAll(log).map(\.value) == ["a-0", "a-1"], "reads keep working")
        let reopened = try openLog(dir.path, clean: false)
        #expect(try readAll(reopened).map(\.value) == ["a-0", "a-1"])
        try reopened.append(makeBatch(count: 1, tag: "c"))
        #expect(reopened.logEndOffset == 3)
        try reopened.close()
    }

    @Test func failedFsyncIsNeverAcknowledgedAndFailsTheLog() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let fileSystem = FaultInjectingFileSystem()
        let log = try openLog(dir.path, fileSystem: fileSystem)
        try await log.flush(through: try log.append(makeBatch(count: 2, tag: "durable")).lastOffset + 1)
        let info = try log.append(makeBatch(count: 1, tag: "lost"))
        fileSystem.arm(.sync, .error(EIO), pathContains: ".log")
        await #expect(throws: StorageError.self) { try await log.flush(through: info.lastOffset + 1) }
        #expect(log.recoveryPoint == 2)
        #expect(throws: StorageError.self) { try log.append(makeBatch(count: 1)) }
        // A failed log never reports the lost batch durable, even once the disk is fine again.
        fileSystem.disarmAll()
        await #expect(throws: StorageError.self) { try await log.flush(through: info.lastOffset + 1) }
        // Reads keep working, up to the durable point only: the batch whose fsync failed was never
        // acknowledged and may not be on disk.
        #expect(try readAll(log).map(\.value) == ["durable-0", "durable-1"])
        #expect(log.highWatermark == 2)
        #expect(throws: StorageError.self) { try log.read(from: 3, maxBytes: 1 << 20) }
    }

    @Test func eioOnSegmentOpenIsATypedErrorNamingTheFile() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        do {
            let log = try openLog(dir.path)
            try log.append(makeBatch(count: 1))
            try log.close()
        }
        let fileSystem = FaultInjectingFileSystem()
        fileSystem.arm(.open, .error(EIO), pathContains: ".log")
        #expect {
            _ = try openLog(dir.path, fileSystem: fileSystem)
        } throws: { error in
            guard case StorageError.io(_, let path, let code) = error else { return false }
            return code == EIO && path.hasSuffix("00000000000000000000.log")
        }
    }
}

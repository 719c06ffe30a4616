import Foundation
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
            guard case let StorageError.io(_, path, code) = error else { return false }
            return code == ENOSPC && path.hasSuffix(".log")
        }
        #expect(log.logEndOffset == 2)
        #expect(try readAll(log).map(\.value) == ["a-0", "a-1"])
        let info = try log.append(makeBatch(count: 1, tag: "b"))
        #expect(info.firstOffset == 2)
        #expect(try readAll(log).map(\.value) == ["a-0", "a-1", "b-0"])
        try log.close()
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
        let info = try log.append(makeBatch(count: 2))
        fileSystem.arm(.sync, .error(EIO), pathContains: ".log")
        await #expect(throws: StorageError.self) { try await log.flush(through: info.lastOffset + 1) }
        #expect(log.recoveryPoint == 0)
        #expect(throws: StorageError.self) { try log.append(makeBatch(count: 1)) }
        await #expect(throws: StorageError.self) { try await log.flush(through: 1) }
        #expect(try readAll(log).count == 2, "reads keep working on a failed log")
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
            guard case let StorageError.io(_, path, code) = error else { return false }
            return code == EIO && path.hasSuffix("00000000000000000000.log")
        }
    }
}

import Foundation
import StrataRecords
import Testing
@testable import StrataStorage

#if canImport(Glibc)
import Glibc
#endif

@Suite struct LogManagerTests {
    func open(_ path: String, defaults: LogConfig = LogConfig()) throws -> LogManager {
        try LogManager.open(dataDirectory: path, defaultConfig: defaults, executor: sharedExecutor, logger: quietLogger)
    }

    @Test func createTopicMakesPartitionDirectoriesWithTopicConfig() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let manager = try open(dir.path)
        let logs = try manager.createTopic("orders.v1", partitionCount: 3, configOverrides: ["segment.bytes": "4096"])
        #expect(logs.count == 3)
        for partition in 0..<3 {
            let path = dir.path + "/orders.v1-\(partition)"
            #expect(FileManager.default.fileExists(atPath: path + "/topic.json"))
            #expect(FileManager.default.fileExists(atPath: path + "/00000000000000000000.log"))
        }
        #expect(manager.log(for: TopicPartition("orders.v1", 1))?.config.segmentBytes == 4096)
        #expect(throws: StorageError.topicAlreadyExists("orders.v1")) {
            try manager.createTopic("orders.v1", partitionCount: 1)
        }
        #expect(FileManager.default.fileExists(atPath: dir.path + "/meta.properties"))
        try manager.close()
    }

    /// Regression (protocol fuzzing, issue #10): a CreateTopics whose Nth partition failed to open
    /// (EMFILE) left that partition's directory behind, which a restart or re-creation then found.
    @Test(arguments: [0, 2, 5, 7])
    func failedCreateTopicLeavesNoPartitionDirectory(opensBeforeFailure: Int) throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let fileSystem = FaultInjectingFileSystem()
        let manager = try LogManager.open(
            dataDirectory: dir.path, fileSystem: fileSystem, executor: sharedExecutor, logger: quietLogger)
        fileSystem.arm(.open, .error(EMFILE), afterCalls: opensBeforeFailure)
        #expect(throws: StorageError.self) { try manager.createTopic("half", partitionCount: 3) }
        fileSystem.disarmAll()
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("half") }
        #expect(leftovers.isEmpty, "left behind: \(leftovers)")
        #expect(manager.topic("half") == nil)
        #expect(try manager.createTopic("half", partitionCount: 3).count == 3)
        try manager.close()
    }

    /// Regression (long protocol fuzzing run, seed 20261205, input ≈ 427 700: SIGBUS): a deleteTopic
    /// racing a createTopic of the same name removed the reserved name mid-creation and deleted no
    /// files; the creation then registered its logs under a name no longer known, and the next
    /// creation reopened those files. Create and delete now run one at a time.
    @Test func concurrentCreateAndDeleteOfOneTopicStayConsistent() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let manager = try open(dir.path)
        for round in 0..<20 {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { _ = try? manager.createTopic("race", partitionCount: 8) }
                group.addTask { try? manager.deleteTopic("race") }
                group.addTask { try? manager.deleteTopic("race") }
            }
            let directories = try FileManager.default.contentsOfDirectory(atPath: dir.path)
                .filter { $0.hasPrefix("race-") }
            let logs = manager.allLogs().filter { $0.topicPartition.topic == "race" }
            if manager.topic("race") == nil {
                #expect(directories.isEmpty && logs.isEmpty, "round \(round): deleted, yet \(directories) \(logs.count) logs")
            } else {
                #expect(directories.count == 8 && logs.count == 8, "round \(round): \(directories.count) dirs")
                try manager.deleteTopic("race")
            }
        }
        try manager.close()
    }

    @Test(arguments: ["", ".", "..", "has space", "slash/name", "ünïcode", String(repeating: "x", count: 250)])
    func invalidTopicNamesAreRefused(name: String) throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let manager = try open(dir.path)
        #expect {
            try manager.createTopic(name, partitionCount: 1)
        } throws: { error in
            if case StorageError.invalidTopicName = error { return true }
            return false
        }
        try manager.close()
    }

    @Test func validEdgeTopicNamesAreAccepted() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let manager = try open(dir.path)
        try manager.createTopic(String(repeating: "a", count: 249), partitionCount: 1)
        try manager.createTopic("A-b_c.9", partitionCount: 2)
        #expect(manager.topics().count == 2)
        try manager.close()
    }

    @Test func unknownConfigIsRefused() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let manager = try open(dir.path)
        #expect(throws: StorageError.self) { try manager.createTopic("t", partitionCount: 1, configOverrides: ["nope": "1"]) }
        #expect(throws: StorageError.self) { try manager.createTopic("t", partitionCount: 1, configOverrides: ["segment.bytes": "x"]) }
        #expect(manager.topics().isEmpty)
        try manager.close()
    }

    @Test func cleanCloseWritesMarkerAndCheckpointsAndReopenRestoresTopics() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let clusterId: String
        do {
            let manager = try open(dir.path)
            clusterId = manager.clusterId
            try manager.createTopic("events", partitionCount: 2, configOverrides: ["cleanup.policy": "compact"])
            let log = try #require(manager.log(for: TopicPartition("events", 1)))
            try log.append(makeBatch(count: 4))
            try manager.close()
        }
        #expect(FileManager.default.fileExists(atPath: dir.path + "/" + LogManager.cleanShutdownMarker))
        let checkpoint = try String(contentsOfFile: dir.path + "/" + LogManager.recoveryPointFile, encoding: .utf8)
        #expect(checkpoint == "0\n2\nevents 0 0\nevents 1 4\n")
        let manager = try open(dir.path)
        #expect(manager.openedAfterCleanShutdown)
        #expect(manager.clusterId == clusterId)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/" + LogManager.cleanShutdownMarker),
                "the marker is removed on open so a later crash is detected")
        #expect(manager.topic("events") == TopicDescription(name: "events", partitionCount: 2,
                                                            configOverrides: ["cleanup.policy": "compact"]))
        #expect(manager.log(for: TopicPartition("events", 1))?.logEndOffset == 4)
        #expect(manager.log(for: TopicPartition("events", 1))?.config.isCompacted == true)
        try manager.close()
    }

    @Test func crashWithoutCloseIsRecoveredOnReopen() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        do {
            let manager = try open(dir.path)
            try manager.createTopic("c", partitionCount: 1)
            try manager.log(for: TopicPartition("c", 0))!.append(makeBatch(count: 3))
            // no close(): crash
        }
        let manager = try open(dir.path)
        #expect(!manager.openedAfterCleanShutdown)
        #expect(manager.log(for: TopicPartition("c", 0))?.logEndOffset == 3)
        try manager.close()
    }

    @Test func deleteTopicRemovesItsDirectories() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let manager = try open(dir.path)
        try manager.createTopic("gone", partitionCount: 2)
        try manager.deleteTopic("gone")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/gone-0"))
        #expect(manager.topics().isEmpty)
        #expect(throws: StorageError.self) { try manager.deleteTopic("gone") }
        try manager.close()
    }

    @Test func checkpointDecodingNamesTheBadLine() throws {
        #expect(try OffsetCheckpoint.decode("0\n1\nt 0 5\n", path: "p") == [TopicPartition("t", 0): 5])
        #expect {
            try OffsetCheckpoint.decode("0\n2\nt 0 5\nbad line\n", path: "cp")
        } throws: { error in
            guard case let StorageError.corruptMetadata(path, reason) = error else { return false }
            return path == "cp" && reason.contains("line 4")
        }
    }
}

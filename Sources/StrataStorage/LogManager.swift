import Foundation
import Logging
import Synchronization

/// Description of a topic as stored beside its data (`topic.json` in each partition directory).
public struct TopicDescription: Sendable, Equatable, Codable {
    public var name: String
    public var partitionCount: Int32
    /// Topic-level config overrides (Kafka names).
    public var configOverrides: [String: String]

    public init(name: String, partitionCount: Int32, configOverrides: [String: String] = [:]) {
        self.name = name
        self.partitionCount = partitionCount
        self.configOverrides = configOverrides
    }
}

/// Owns a data directory: `meta.properties`, checkpoints, the clean-shutdown marker and one
/// `PartitionLog` per `<topic>-<partition>` directory. Usable in-process with no server.
///
/// Data directory layout:
///
/// | file | content |
/// |---|---|
/// | `meta.properties` | `version`, `cluster.id`, `node.id` |
/// | `recovery-point-offset-checkpoint` | per partition, the offset below which data was fsynced |
/// | `log-start-offset-checkpoint` | per partition, the first retained offset |
/// | `.strata_cleanshutdown` | present only after a clean close; removed (durably) on open |
/// | `<topic>-<n>/` | segments plus `topic.json` (the topic's partition count and config overrides) |
///
/// Concurrency: the topic and partition maps are guarded by one `Mutex`; each `PartitionLog`
/// guards itself.
public final class LogManager: Sendable {
    public static let cleanShutdownMarker = ".strata_cleanshutdown"
    public static let recoveryPointFile = "recovery-point-offset-checkpoint"
    public static let logStartFile = "log-start-offset-checkpoint"
    public static let cleanerCheckpointFile = "cleaner-offset-checkpoint"
    public static let topicFile = "topic.json"
    /// Files the data directory holds besides partition directories (and `*.tmp` atomic-write leftovers).
    static let knownDataDirectoryEntries: Set<String> = [
        "meta.properties", cleanShutdownMarker, recoveryPointFile, logStartFile, cleanerCheckpointFile,
        producerIdBlockFile,
    ]

    public let dataDirectory: String
    public let clusterId: String
    public let nodeId: Int32
    public let defaultConfig: LogConfig
    /// Whether the previous run ended with a clean close.
    public let openedAfterCleanShutdown: Bool
    let fileSystem: FileSystem
    /// The clock of every log (the broker's group coordinator shares it).
    public let clock: StorageClock
    let executor: BlockingExecutor
    /// Whether `close()` stops the executor (only when this manager created it).
    private let ownsExecutor: Bool
    let logger: Logger

    private struct State {
        var topics: [String: TopicDescription] = [:]
        var logs: [TopicPartition: PartitionLog] = [:]
        var isClosed = false
    }
    private let state = Mutex(State())
    /// Serializes topic creation and deletion end to end (directories, files, registration): a
    /// DeleteTopics racing a CreateTopics of the same name used to remove the name mid-creation and
    /// leave its files behind, which the next creation then opened under the still-registered log
    /// (SIGBUS in the index map; found by protocol fuzzing). Held for the whole operation, never
    /// while taking `state` the other way round.
    private let topicChanges = Mutex(())
    private let checkpointLock = Mutex(())

    private init(
        dataDirectory: String, clusterId: String, nodeId: Int32, defaultConfig: LogConfig, clean: Bool,
        fileSystem: FileSystem, clock: StorageClock, executor: BlockingExecutor, ownsExecutor: Bool,
        logger: Logger
    ) {
        self.dataDirectory = dataDirectory
        self.clusterId = clusterId
        self.nodeId = nodeId
        self.defaultConfig = defaultConfig
        self.openedAfterCleanShutdown = clean
        self.fileSystem = fileSystem
        self.clock = clock
        self.executor = executor
        self.ownsExecutor = ownsExecutor
        self.logger = logger
    }

    /// Opens (creating if needed) a data directory and every partition in it, recovering
    /// partitions after an unclean shutdown.
    public static func open(
        dataDirectory: String, defaultConfig: LogConfig = LogConfig(),
        fileSystem: FileSystem = PosixFileSystem(), clock: StorageClock = SystemClock(),
        executor: BlockingExecutor? = nil,
        logger: Logger = Logger(label: "strata.storage")
    ) throws(StorageError) -> LogManager {
        try createDirectories(dataDirectory, fileSystem: fileSystem)
        let isNew = !fileSystem.fileExists(dataDirectory + "/meta.properties")
        let (clusterId, nodeId) = try loadOrCreateMeta(dataDirectory, fileSystem: fileSystem)
        let markerPath = dataDirectory + "/" + cleanShutdownMarker
        let clean = fileSystem.fileExists(markerPath)
        let manager = LogManager(
            dataDirectory: dataDirectory, clusterId: clusterId, nodeId: nodeId,
            defaultConfig: defaultConfig, clean: clean, fileSystem: fileSystem, clock: clock,
            executor: executor ?? BlockingExecutor(), ownsExecutor: executor == nil,
            logger: logger)
        var recoveryPoints: [TopicPartition: Int64]?
        var logStarts: [TopicPartition: Int64] = [:]
        var cleanerCheckpoints: [TopicPartition: Int64] = [:]
        do throws(StorageError) {
            cleanerCheckpoints =
                try OffsetCheckpoint.read(
                    dataDirectory + "/" + cleanerCheckpointFile,
                    fileSystem: fileSystem) ?? [:]
            recoveryPoints = try OffsetCheckpoint.read(dataDirectory + "/" + recoveryPointFile, fileSystem: fileSystem)
            logStarts = try OffsetCheckpoint.read(dataDirectory + "/" + logStartFile, fileSystem: fileSystem) ?? [:]
        } catch {
            logger.warning(
                "ignoring unreadable checkpoint; recovering every partition fully", metadata: ["error": "\(error)"])
            recoveryPoints = nil
        }
        if !clean && !isNew {
            logger.notice(
                "no clean-shutdown marker: recovering unflushed segments", metadata: ["dir": "\(dataDirectory)"])
        }
        for name in try fileSystem.listDirectory(dataDirectory).sorted() {
            guard let partition = TopicPartition(directoryName: name) else {
                if !LogManager.knownDataDirectoryEntries.contains(name) && !name.hasSuffix(".tmp") {
                    // Not ours: left alone (never deleted), named so an operator can find it.
                    logger.warning(
                        "ignoring unknown entry in the data directory (not a <topic>-<partition> directory)",
                        metadata: ["path": "\(dataDirectory)/\(name)"])
                }
                continue
            }
            let directory = dataDirectory + "/" + name
            guard let description = try readTopicFile(directory, fileSystem: fileSystem) else {
                logger.warning("skipping partition directory without topic.json", metadata: ["dir": "\(directory)"])
                continue
            }
            let config = try LogConfig(overrides: description.configOverrides, defaults: defaultConfig)
            let options = PartitionLog.OpenOptions(
                cleanShutdown: clean, recoveryPoint: recoveryPoints?[partition],
                logStartOffset: logStarts[partition],
                cleanerCheckpoint: cleanerCheckpoints[partition])
            let log = try PartitionLog.open(
                directory: directory, topicPartition: partition, config: config,
                options: options, fileSystem: fileSystem, clock: clock,
                executor: manager.executor, logger: logger)
            manager.state.withLock { state in
                state.logs[partition] = log
                state.topics[description.name] = description
            }
        }
        if clean {
            // A crash from now on must be detected: the marker's removal has to be durable.
            try fileSystem.remove(markerPath)
            try fileSystem.syncDirectory(dataDirectory)
        }
        return manager
    }

    private static func createDirectories(_ path: String, fileSystem: FileSystem) throws(StorageError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            try fileSystem.createDirectory(current)
        }
    }

    private static func loadOrCreateMeta(
        _ directory: String, fileSystem: FileSystem
    ) throws(StorageError)
        -> (String, Int32)
    {
        let path = directory + "/meta.properties"
        if let bytes = try fileSystem.readFile(path) {
            var values: [String: String] = [:]
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { values[parts[0]] = parts[1] }
            }
            guard let cluster = values["cluster.id"], let node = values["node.id"].flatMap(Int32.init) else {
                throw .corruptMetadata(path: path, reason: "missing cluster.id or node.id")
            }
            return (cluster, node)
        }
        var uuid = UUID().uuid
        let bytes = withUnsafeBytes(of: &uuid) { Data($0) }
        let cluster = bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        try fileSystem.writeFileAtomically(path, contents: Array("version=1\ncluster.id=\(cluster)\nnode.id=0\n".utf8))
        return (cluster, 0)
    }

    private static func readTopicFile(
        _ directory: String, fileSystem: FileSystem
    ) throws(StorageError) -> TopicDescription? {
        let path = directory + "/" + topicFile
        guard let bytes = try fileSystem.readFile(path) else { return nil }
        do {
            return try JSONDecoder().decode(TopicDescription.self, from: Data(bytes))
        } catch {
            throw .corruptMetadata(path: path, reason: "\(error)")
        }
    }

    private func writeTopicFile(_ description: TopicDescription, directory: String) throws(StorageError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data: Data
        do { data = try encoder.encode(description) } catch {
            throw .corruptMetadata(path: directory, reason: "cannot encode topic.json: \(error)")
        }
        try fileSystem.writeFileAtomically(directory + "/" + Self.topicFile, contents: Array(data))
    }

    // MARK: Topics

    /// Creates a topic with `partitionCount` partitions (directories, first segments, topic.json).
    @discardableResult
    public func createTopic(
        _ name: String, partitionCount: Int32, configOverrides: [String: String] = [:]
    )
        throws(StorageError) -> [PartitionLog]
    {
        if let reason = Topic.validationError(name) { throw .invalidTopicName(name: name, reason: reason) }
        return try topicChanges.withLock { _ throws(StorageError) in
            try createTopicSerialized(name, partitionCount: partitionCount, configOverrides: configOverrides)
        }
    }

    private func createTopicSerialized(
        _ name: String, partitionCount: Int32, configOverrides: [String: String]
    ) throws(StorageError) -> [PartitionLog] {
        guard partitionCount > 0 else {
            throw .invalidConfig(key: "num.partitions", value: "\(partitionCount)", reason: "must be positive")
        }
        let config = try LogConfig(overrides: configOverrides, defaults: defaultConfig)
        let description = TopicDescription(name: name, partitionCount: partitionCount, configOverrides: configOverrides)
        try state.withLock { (state) throws(StorageError) in
            if state.isClosed { throw .closed(partition: name) }
            if state.topics[name] != nil { throw .topicAlreadyExists(name) }
            state.topics[name] = description  // reserve the name while the directories are made
        }
        var created: [PartitionLog] = []
        do throws(StorageError) {
            for partition in 0..<partitionCount {
                let topicPartition = TopicPartition(name, partition)
                let directory = dataDirectory + "/" + topicPartition.directoryName
                try fileSystem.createDirectory(directory)
                try writeTopicFile(description, directory: directory)
                let log = try PartitionLog.open(
                    directory: directory, topicPartition: topicPartition, config: config,
                    options: .init(cleanShutdown: true), fileSystem: fileSystem,
                    clock: clock, executor: executor, logger: logger)
                created.append(log)
            }
            try fileSystem.syncDirectory(dataDirectory)
        } catch {
            for log in created { try? log.deleteFiles() }
            // The partition that failed may have left its directory, topic.json or segment files:
            // remove them too, or a later restart or re-creation would find a partial partition.
            let failed = TopicPartition(name, Int32(created.count))
            removeLeftoverDirectory(dataDirectory + "/" + failed.directoryName)
            _ = state.withLock { $0.topics.removeValue(forKey: name) }
            throw error
        }
        state.withLock { state in
            for log in created { state.logs[log.topicPartition] = log }
        }
        logger.info("created topic", metadata: ["topic": "\(name)", "partitions": "\(partitionCount)"])
        return created
    }

    /// Removes a directory and the files in it, ignoring errors (best-effort rollback).
    private func removeLeftoverDirectory(_ directory: String) {
        guard fileSystem.fileExists(directory) else { return }
        for name in (try? fileSystem.listDirectory(directory)) ?? [] { try? fileSystem.remove(directory + "/" + name) }
        _ = rmdir(directory)
        try? fileSystem.syncDirectory(dataDirectory)
    }

    /// Deletes a topic and its files. Readers holding slices finish their reads.
    public func deleteTopic(_ name: String) throws(StorageError) {
        try topicChanges.withLock { _ throws(StorageError) in try deleteTopicSerialized(name) }
    }

    private func deleteTopicSerialized(_ name: String) throws(StorageError) {
        let logs = try state.withLock { (state) throws(StorageError) -> [PartitionLog] in
            guard state.topics.removeValue(forKey: name) != nil else {
                throw .unknownTopicOrPartition(topic: name, partition: nil)
            }
            let doomed = state.logs.values.filter { $0.topicPartition.topic == name }
            for log in doomed { state.logs[log.topicPartition] = nil }
            return doomed
        }
        for log in logs { try log.deleteFiles() }
        try fileSystem.syncDirectory(dataDirectory)
    }

    /// Replaces a topic's config overrides (validated first) and persists them.
    public func alterTopicConfig(_ name: String, overrides: [String: String]) throws(StorageError) {
        _ = try LogConfig(overrides: overrides, defaults: defaultConfig)
        let (description, logs) = try state.withLock {
            (state) throws(StorageError) -> (TopicDescription, [PartitionLog]) in
            guard var description = state.topics[name] else {
                throw .unknownTopicOrPartition(topic: name, partition: nil)
            }
            description.configOverrides = overrides
            state.topics[name] = description
            return (description, state.logs.values.filter { $0.topicPartition.topic == name })
        }
        let config = try LogConfig(overrides: overrides, defaults: defaultConfig)
        for log in logs {
            try writeTopicFile(description, directory: log.directory)
            log.updateConfig(config)
        }
    }

    /// The topic's description, if it exists.
    public func topic(_ name: String) -> TopicDescription? { state.withLock { $0.topics[name] } }

    /// All topics, sorted by name.
    public func topics() -> [TopicDescription] { state.withLock { $0.topics.values.sorted { $0.name < $1.name } } }

    /// The log of one partition.
    public func log(for partition: TopicPartition) -> PartitionLog? { state.withLock { $0.logs[partition] } }

    /// Every partition log.
    public func allLogs() -> [PartitionLog] { state.withLock { Array($0.logs.values) } }

    /// File holding the first producer id not yet handed out (text, one integer).
    public static let producerIdBlockFile = "producer-id-block"

    /// Reserves `count` producer ids that no earlier run of this data directory handed out: the
    /// end of the block is made durable before any id in it is used.
    public func reserveProducerIds(count: Int64) throws(StorageError) -> Range<Int64> {
        precondition(count > 0)
        let path = dataDirectory + "/" + Self.producerIdBlockFile
        return try checkpointLock.withLock { (_) throws(StorageError) -> Range<Int64> in
            var start: Int64 = 0
            if let bytes = try fileSystem.readFile(path) {
                guard
                    let value = Int64(
                        String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
                    value >= 0
                else {
                    throw .corruptMetadata(path: path, reason: "expected a non-negative integer")
                }
                start = value
            }
            try fileSystem.writeFileAtomically(path, contents: Array("\(start + count)\n".utf8))
            return start..<(start + count)
        }
    }

    // MARK: Maintenance

    /// Writes both checkpoint files from the logs' current recovery points and start offsets.
    public func checkpoint() throws(StorageError) {
        let logs = allLogs()
        var recovery: [TopicPartition: Int64] = [:]
        var starts: [TopicPartition: Int64] = [:]
        var cleaned: [TopicPartition: Int64] = [:]
        for log in logs {
            recovery[log.topicPartition] = log.recoveryPoint
            starts[log.topicPartition] = log.logStartOffset
            if log.config.isCompacted { cleaned[log.topicPartition] = log.cleanerCheckpoint }
        }
        try checkpointLock.withLock { (_) throws(StorageError) in
            try OffsetCheckpoint.write(
                recovery, to: dataDirectory + "/" + Self.recoveryPointFile, fileSystem: fileSystem)
            try OffsetCheckpoint.write(starts, to: dataDirectory + "/" + Self.logStartFile, fileSystem: fileSystem)
            try OffsetCheckpoint.write(
                cleaned, to: dataDirectory + "/" + Self.cleanerCheckpointFile,
                fileSystem: fileSystem)
        }
    }

    /// Applies the `flush.ms` policy to every log (call periodically).
    public func flushDueLogs() {
        let now = clock.nowMilliseconds()
        for log in allLogs() { log.flushIfDue(nowMilliseconds: now) }
    }

    /// Closes every log (fsync, index flush), writes the checkpoints, then the clean-shutdown
    /// marker — the marker is written only if everything before it succeeded.
    public func close() throws(StorageError) {
        let logs = state.withLock { state -> [PartitionLog] in
            state.isClosed = true
            return Array(state.logs.values)
        }
        var firstError: StorageError?
        for log in logs {
            do throws(StorageError) { try log.close() } catch {
                logger.error(
                    "closing log failed", metadata: ["partition": "\(log.topicPartition)", "error": "\(error)"])
                if firstError == nil { firstError = error }
            }
        }
        try checkpoint()
        if let firstError { throw firstError }
        if logs.allSatisfy({ $0.failure == nil }) {
            try fileSystem.writeFileAtomically(dataDirectory + "/" + Self.cleanShutdownMarker, contents: [])
        }
        if ownsExecutor { executor.shutdown() }
    }
}

import Dispatch
import Logging
import NIOCore
import StrataRecords
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One partition: an ordered list of segments in a directory, appended at the end, read anywhere.
///
/// Concurrency (one owner per piece of state):
/// - `writer` (a `Mutex`) owns the segment list, the active segment's mutable state, the failure
///   flag and the flush counters. Appends, rolls and closes take it; I/O for an append happens
///   under it, so appends to one partition are serial.
/// - `published` (a `Mutex`) holds an immutable `LogSnapshot` replaced by the writer after each
///   change. Readers copy it (a few reference-count operations) and never wait for writer I/O.
/// - `durability` (a `Mutex`) owns group-commit state: the durable offset, whether a sync is
///   running, and the waiters. `fdatasync` runs on a `BlockingExecutor` thread, one at a time per
///   partition; every append that arrived before a sync starts is covered by it.
/// - `combining` (a `Mutex`) owns the queues of `appendDurably` calls, which a writer job and a sync
///   job on the `BlockingExecutor` write and sync in groups (see `PartitionLog+DurableAppend.swift`).
public final class PartitionLog: Sendable {
    public let topicPartition: TopicPartition
    public let directory: String
    let fileSystem: FileSystem
    let clock: StorageClock
    let executor: BlockingExecutor
    let logger: Logger

    struct Writer {
        var config: LogConfig
        var segments: [LogSegment]
        var closedViews: [SegmentView]
        var logStartOffset: Int64
        /// First offset not yet compacted (`cleaner-offset-checkpoint`).
        var cleanerCheckpoint: Int64 = 0
        var unflushedMessages: Int64 = 0
        var failure: String?
        /// After a failed fsync: the durable offset at the failure. Readers see nothing from here on
        /// (the kernel may have dropped those pages; what was never acknowledged is not served).
        var readableEnd: Int64?
        var isClosed = false
        /// A compaction swap is between its commit (`.swap` made durable) and its rename into place:
        /// DeleteRecords then only moves the log start offset and leaves the segments to retention.
        var compactionSwapPending = false
        /// Segments renamed `.deleted`, with the time their files may be removed.
        var pendingDeletes: [(segment: LogSegment, removeAtMilliseconds: Int64)] = []
        var active: LogSegment { segments[segments.count - 1] }
        var logEndOffset: Int64 { active.nextOffset }
    }

    struct Durability {
        var durableOffset: Int64
        var lastFlushMilliseconds: Int64
        var syncRunning = false
        var waiters: [(offset: Int64, continuation: CheckedContinuation<Result<Void, StorageError>, Never>)] = []
        /// Waiters the previous sync released: the concurrency the next sync should expect.
        var lastRoundWaiters = 0
        /// While the sync thread gathers: the waiter count at which registering signals `gathered`.
        var gatherTarget = 0
    }

    /// Longest a sync waits for the expected group to gather (see `gatherGroup`).
    static let groupCommitGatherNanosecondsMax: UInt64 = 200_000

    struct LogSnapshot: Sendable {
        var config: LogConfig
        var closed: [SegmentView]
        var active: SegmentView
        var logStartOffset: Int64
        var logEndOffset: Int64
        var failure: String?

        func view(at index: Int) -> SegmentView { index < closed.count ? closed[index] : active }
        var count: Int { closed.count + 1 }

        /// Index of the segment whose range holds `offset` (greatest base ≤ offset).
        func segmentIndex(for offset: Int64) -> Int {
            var low = 0
            var high = count - 1
            while low < high {
                let mid = (low + high + 1) >> 1
                if view(at: mid).baseOffset <= offset { low = mid } else { high = mid - 1 }
            }
            return low
        }
    }

    let writer: Mutex<Writer>
    private let published: Mutex<LogSnapshot>
    let durability: Mutex<Durability>
    /// Signalled when the waiters the sync thread is gathering for have registered.
    let gathered = DispatchSemaphore(value: 0)
    /// Queued and written durable appends and the state of their writer and sync jobs (see
    /// `appendDurably`).
    let combining = Mutex<Combining>(Combining())

    private init(
        topicPartition: TopicPartition, directory: String, config: LogConfig, segments: [LogSegment],
        logStartOffset: Int64, durableOffset: Int64, fileSystem: FileSystem, clock: StorageClock,
        executor: BlockingExecutor, logger: Logger
    ) {
        self.topicPartition = topicPartition
        self.directory = directory
        self.fileSystem = fileSystem
        self.clock = clock
        self.executor = executor
        var logger = logger
        logger[metadataKey: "topic"] = "\(topicPartition.topic)"
        logger[metadataKey: "partition"] = "\(topicPartition.partition)"
        self.logger = logger
        let closedViews = segments.dropLast().map { $0.view() }
        let state = Writer(
            config: config, segments: segments, closedViews: Array(closedViews),
            logStartOffset: logStartOffset)
        writer = Mutex(state)
        published = Mutex(
            LogSnapshot(
                config: config, closed: Array(closedViews), active: segments.last!.view(),
                logStartOffset: logStartOffset, logEndOffset: segments.last!.nextOffset))
        durability = Mutex(Durability(durableOffset: durableOffset, lastFlushMilliseconds: clock.nowMilliseconds()))
    }

    // MARK: Opening

    /// How to open a partition directory.
    public struct OpenOptions: Sendable {
        /// True after a clean shutdown: trust the files (cheap index checks only).
        public var cleanShutdown: Bool
        /// Offset up to which data was known durable (from the checkpoint); recovery starts at the
        /// segment holding it. nil means recover everything.
        public var recoveryPoint: Int64?
        /// Log start offset from the checkpoint, if any.
        public var logStartOffset: Int64?
        /// First uncompacted offset from `cleaner-offset-checkpoint`, if any.
        public var cleanerCheckpoint: Int64?

        public init(
            cleanShutdown: Bool, recoveryPoint: Int64? = nil, logStartOffset: Int64? = nil,
            cleanerCheckpoint: Int64? = nil
        ) {
            self.cleanShutdown = cleanShutdown
            self.recoveryPoint = recoveryPoint
            self.logStartOffset = logStartOffset
            self.cleanerCheckpoint = cleanerCheckpoint
        }
    }

    /// Opens (or creates) the partition in `directory`: resolves leftover cleaner files, loads
    /// segments, and after an unclean shutdown re-validates everything from the recovery point,
    /// truncating at the first bad batch and deleting later segments.
    public static func open(
        directory: String, topicPartition: TopicPartition, config: LogConfig,
        options: OpenOptions, fileSystem: FileSystem = PosixFileSystem(),
        clock: StorageClock = SystemClock(), executor: BlockingExecutor,
        logger: Logger
    ) throws(StorageError) -> PartitionLog {
        try fileSystem.createDirectory(directory)
        let now = clock.nowMilliseconds()
        var names = try fileSystem.listDirectory(directory)
        let swapped = try resolveLeftovers(directory: directory, names: &names, fileSystem: fileSystem, logger: logger)
        let bases = names.compactMap { SegmentFileName.baseOffset(of: $0, suffix: SegmentFileName.logSuffix) }.sorted()
        var segments: [LogSegment] = []
        var durableOffset: Int64
        if bases.isEmpty {
            let start = options.logStartOffset ?? 0
            segments = [
                try LogSegment.create(
                    directory: directory, baseOffset: start, config: config,
                    fileSystem: fileSystem, nowMilliseconds: now)
            ]
            try fileSystem.syncDirectory(directory)
            durableOffset = start
        } else {
            // First segment to re-validate: the one holding the recovery point (unclean shutdown).
            var recoverFrom = bases.count
            if !options.cleanShutdown {
                recoverFrom = 0
                if let point = options.recoveryPoint {
                    recoverFrom = max(0, (bases.lastIndex { $0 <= point }) ?? 0)
                }
            }
            var index = 0
            var truncated = false
            while index < bases.count {
                let base = bases[index]
                let isLast = index == bases.count - 1
                let nextBase = isLast ? nil : bases[index + 1]
                // A segment just swapped in by recovery has no trustworthy index yet.
                var needsRecovery = index >= recoverFrom || swapped.contains(base)
                var segment = try LogSegment.open(
                    directory: directory, baseOffset: base, config: config,
                    fileSystem: fileSystem, writable: isLast || needsRecovery,
                    nowMilliseconds: now)
                if !needsRecovery,
                    let reason = try segment.loadAfterCleanShutdown(
                        scanTail: isLast, nextSegmentBase: nextBase, logger: logger)
                {
                    logger.warning(
                        "segment needs recovery", metadata: ["file": "\(segment.logPath)", "reason": "\(reason)"])
                    needsRecovery = true
                    if !isLast {
                        segment = try LogSegment.open(
                            directory: directory, baseOffset: base, config: config,
                            fileSystem: fileSystem, writable: true, nowMilliseconds: now)
                    }
                }
                if needsRecovery {
                    let result = try segment.recover(config: config, logger: logger)
                    if let previous = segments.last, segment.size > 0, previous.nextOffset > base {
                        throw .corruptSegment(
                            path: segment.logPath, position: 0,
                            reason: "segment base \(base) overlaps previous segment ending at \(previous.nextOffset)")
                    }
                    try segment.syncLog()
                    if !isLast && result.truncatedBytes == 0 { try segment.seal() }
                    if result.truncatedBytes > 0 { truncated = true }
                }
                segments.append(segment)
                index += 1
                if truncated && index < bases.count {
                    // Everything after a cut is unreachable: delete it, oldest first.
                    for later in bases[index...] {
                        let doomed = try LogSegment.open(
                            directory: directory, baseOffset: later, config: config,
                            fileSystem: fileSystem, writable: false, nowMilliseconds: now)
                        logger.warning(
                            "recovery deleted segment after truncation",
                            metadata: [
                                "file": "\(doomed.logPath)", "bytes": "\(doomed.size)",
                            ])
                        try doomed.deleteFiles()
                    }
                    try fileSystem.syncDirectory(directory)
                    // The truncated segment becomes the writable last one.
                    if segments.last!.isSealed {
                        let last = segments.removeLast()
                        segments.append(
                            try LogSegment.open(
                                directory: directory, baseOffset: last.baseOffset,
                                config: config, fileSystem: fileSystem, writable: true,
                                nowMilliseconds: now))
                        _ = try segments.last!.recover(config: config, logger: logger)
                    }
                    break
                }
            }
            // A segment opened writable for recovery but not last must be sealed.
            for segment in segments.dropLast() where !segment.isSealed { try segment.seal() }
            durableOffset = segments.last!.nextOffset
        }
        let firstBase = segments[0].baseOffset
        let logStart = max(firstBase, min(options.logStartOffset ?? firstBase, segments.last!.nextOffset))
        let log = PartitionLog(
            topicPartition: topicPartition, directory: directory, config: config,
            segments: segments, logStartOffset: logStart, durableOffset: durableOffset,
            fileSystem: fileSystem, clock: clock, executor: executor, logger: logger)
        if let checkpoint = options.cleanerCheckpoint {
            log.writer.withLock { $0.cleanerCheckpoint = min(checkpoint, $0.logEndOffset) }
        }
        return log
    }

    /// Where the cleaner builds a compacted segment (with its indexes) before swapping it in.
    static let cleaningDirectoryName = ".cleaning"

    /// Deletes `.cleaned`, `.deleted` and `.tmp` files and the `.cleaning` directory, then completes
    /// any interrupted compaction swap: a `<base>.log.<end>.swap` file replaces every segment whose base offset lies in
    /// `[base, end)` (their files are removed) and becomes `<base>.log`. Returns the bases of the
    /// swapped-in segments (their indexes must be rebuilt).
    private static func resolveLeftovers(
        directory: String, names: inout [String], fileSystem: FileSystem,
        logger: Logger
    ) throws(StorageError) -> Set<Int64> {
        var changed = false
        for name in names where name.hasSuffix(".cleaned") || name.hasSuffix(".deleted") || name.hasSuffix(".tmp") {
            logger.info("removing leftover file", metadata: ["file": "\(directory)/\(name)"])
            try fileSystem.remove(directory + "/" + name)
            changed = true
        }
        if names.contains(Self.cleaningDirectoryName) {
            let cleaning = directory + "/" + Self.cleaningDirectoryName
            logger.info("removing unfinished compaction output", metadata: ["dir": "\(cleaning)"])
            for name in try fileSystem.listDirectory(cleaning) { try fileSystem.remove(cleaning + "/" + name) }
            if rmdir(cleaning) != 0 && errno != ENOENT { throw .io(operation: "rmdir", path: cleaning, errno: errno) }
            changed = true
        }
        var swapped: Set<Int64> = []
        for name in names where name.hasSuffix(".swap") {
            guard let (base, end) = SegmentFileName.parseSwap(name) else {
                logger.warning("ignoring unrecognised swap file", metadata: ["file": "\(directory)/\(name)"])
                continue
            }
            logger.notice(
                "completing interrupted compaction swap",
                metadata: [
                    "file": "\(directory)/\(name)", "replaces": "[\(base), \(end))",
                ])
            for other in names {
                for suffix in [SegmentFileName.logSuffix, SegmentFileName.indexSuffix, SegmentFileName.timeIndexSuffix]
                {
                    if let otherBase = SegmentFileName.baseOffset(of: other, suffix: suffix), otherBase >= base,
                        otherBase < end
                    {
                        try fileSystem.remove(directory + "/" + other)
                    }
                }
            }
            try fileSystem.rename(
                directory + "/" + name, to: directory + "/" + SegmentFileName.stem(base) + SegmentFileName.logSuffix)
            swapped.insert(base)
            changed = true
        }
        if changed {
            try fileSystem.syncDirectory(directory)
            names = try fileSystem.listDirectory(directory)
        }
        return swapped
    }

    // MARK: Offsets

    func snapshot() -> LogSnapshot { published.withLock { $0 } }

    /// First offset still in the log.
    public var logStartOffset: Int64 { snapshot().logStartOffset }
    /// Offset the next appended record will get.
    public var logEndOffset: Int64 { snapshot().logEndOffset }
    /// Single node: every appended record is committed, so the high watermark is the log end.
    public var highWatermark: Int64 { logEndOffset }
    /// Everything below this offset has been fdatasync'ed.
    public var recoveryPoint: Int64 { durability.withLock { $0.durableOffset } }
    /// Current configuration.
    public var config: LogConfig { snapshot().config }
    /// Number of segments.
    public var segmentCount: Int { snapshot().count }
    /// Total bytes in all segments.
    public var sizeInBytes: Int {
        let snap = snapshot()
        return snap.closed.reduce(snap.active.size) { $0 + $1.size }
    }
    /// Base offsets of the segments, oldest first.
    public var segmentBaseOffsets: [Int64] {
        let snap = snapshot()
        return snap.closed.map(\.baseOffset) + [snap.active.baseOffset]
    }

    func publish(_ state: Writer) {
        let snap = LogSnapshot(
            config: state.config, closed: state.closedViews, active: state.active.view(),
            logStartOffset: min(state.logStartOffset, state.readableEnd ?? .max),
            logEndOffset: min(state.logEndOffset, state.readableEnd ?? .max), failure: state.failure)
        published.withLock { $0 = snap }
    }

    // MARK: Append

    /// Validates `batch` (magic, lengths, counts, CRC, `max.message.bytes`), assigns it the next
    /// offsets, stamps `baseOffset` and `partitionLeaderEpoch` in the written bytes and appends it,
    /// rolling the segment first when needed. The batch reaches the page cache; call
    /// `flush(through:)` for durability. Invalid batches change nothing.
    @discardableResult
    public func append(_ batch: RecordBatch, leaderEpoch: Int32 = 0) throws(StorageError) -> AppendInfo {
        var header = try validateForAppend(batch, leaderEpoch: leaderEpoch)
        let now = clock.nowMilliseconds()
        let result = try writer.withLock { (state) throws(StorageError) -> (AppendInfo, Bool) in
            if state.isClosed { throw .closed(partition: topicPartition.description) }
            if let failure = state.failure { throw .logFailed(partition: topicPartition.description, cause: failure) }
            header.baseOffset = state.logEndOffset
            if state.active.shouldRoll(
                batchBytes: header.sizeInBytes, lastOffset: header.lastOffset,
                config: state.config, nowMilliseconds: now)
            {
                try roll(&state, now: now)
            }
            do throws(StorageError) {
                try batch.buffer.withUnsafeReadableBytes { (bytes) throws(StorageError) in
                    try state.active.append(batch: bytes, header: header, config: state.config)
                }
            } catch {
                if case .io(let operation, _, _) = error, operation.contains("also failed") {
                    state.failure = "\(error)"
                    publish(state)
                }
                throw error
            }
            state.unflushedMessages += Int64(header.recordCount)
            let flushDue = state.unflushedMessages >= state.config.flushMessages
            publish(state)
            return (
                AppendInfo(
                    firstOffset: header.baseOffset, lastOffset: header.lastOffset,
                    maxTimestamp: header.maxTimestamp, logAppendTime: -1,
                    sizeInBytes: header.sizeInBytes, logStartOffset: state.logStartOffset), flushDue
            )
        }
        if result.1 { requestBackgroundFlush() }
        return result.0
    }

    /// The checks every append makes before taking the writer lock (magic, lengths, counts, CRC,
    /// producer shape, `max.message.bytes`). Returns the header with `partitionLeaderEpoch` set.
    func validateForAppend(_ batch: RecordBatch, leaderEpoch: Int32) throws(StorageError) -> RecordBatchHeader {
        let maxMessageBytes = published.withLock { $0.config.maxMessageBytes }
        var header: RecordBatchHeader
        do {
            header = try batch.validate(batchBytesMax: Int.max)
            try header.checkProducedShape()
        } catch {
            throw .invalidBatch(partition: topicPartition.description, reason: error)
        }
        guard batch.sizeInBytes <= maxMessageBytes + RecordBatchHeader.Layout.logOverhead else {
            throw .batchTooLarge(
                partition: topicPartition.description, size: batch.sizeInBytes, limit: maxMessageBytes)
        }
        header.partitionLeaderEpoch = leaderEpoch
        return header
    }

    func roll(_ state: inout Writer, now: Int64) throws(StorageError) {
        let old = state.active
        try old.flushIndexes()
        try old.seal()
        let segment = try LogSegment.create(
            directory: directory, baseOffset: state.logEndOffset, config: state.config,
            fileSystem: fileSystem, nowMilliseconds: now)
        try fileSystem.syncDirectory(directory)
        state.closedViews.append(old.view())
        state.segments.append(segment)
        logger.debug("rolled segment", metadata: ["baseOffset": "\(segment.baseOffset)"])
    }

    /// Forces a new active segment (tests, and `segment.ms` checks by the owner).
    public func roll() throws(StorageError) {
        let now = clock.nowMilliseconds()
        try writer.withLock { (state) throws(StorageError) in
            guard state.active.size > 0 else { return }
            try roll(&state, now: now)
            publish(state)
        }
    }

    // MARK: Reading

    /// Whole batches starting with the one containing `offset`, from a single segment, up to
    /// `maxBytes` (at least one batch when `minOneBatch`, whatever its size). Returns no slice at
    /// the log end. Offsets outside `[logStartOffset, logEndOffset]` throw `offsetOutOfRange`.
    public func read(from offset: Int64, maxBytes: Int, minOneBatch: Bool = true) throws(StorageError) -> LogReadInfo {
        let snap = snapshot()
        var info = LogReadInfo(
            slice: nil, highWatermark: snap.logEndOffset, logStartOffset: snap.logStartOffset,
            logEndOffset: snap.logEndOffset)
        guard offset >= snap.logStartOffset && offset <= snap.logEndOffset else {
            throw .offsetOutOfRange(
                partition: topicPartition.description, offset: offset,
                logStartOffset: snap.logStartOffset, logEndOffset: snap.logEndOffset)
        }
        if offset == snap.logEndOffset { return info }
        var index = snap.segmentIndex(for: offset)
        while index < snap.count {
            let view = snap.view(at: index)
            index += 1
            guard view.size > 0 else { continue }
            let map = try view.segment.mapping(covering: view.size)
            guard let (start, first) = try view.locate(offset, map: map) else { continue }
            var end = start + first.sizeInBytes
            var last = first
            if !minOneBatch && first.sizeInBytes > maxBytes { return info }
            while end < view.size {
                let next = try view.header(at: end, map: map)
                // Below the published end only (after a failed fsync it is the durable point).
                if next.baseOffset >= snap.logEndOffset { break }
                if end - start + next.sizeInBytes > maxBytes { break }
                end += next.sizeInBytes
                last = next
            }
            info.slice = LogSlice(
                map: map, segment: view.segment, filePosition: start, length: end - start,
                firstOffset: first.baseOffset, lastOffset: last.lastOffset)
            return info
        }
        return info
    }

    /// First offset whose record timestamp is ≥ `timestamp`, with that record's timestamp; nil
    /// when every record is older (ListOffsets answers -1 then).
    public func offset(forTimestamp timestamp: Int64) throws(StorageError) -> (offset: Int64, timestamp: Int64)? {
        let snap = snapshot()
        for index in 0..<snap.count {
            let view = snap.view(at: index)
            guard view.size > 0, view.maxTimestamp >= timestamp else { continue }
            let map = try view.segment.mapping(covering: view.size)
            let startOffset = max(
                snap.logStartOffset,
                view.segment.timeIndex.lookup(timestamp, count: view.timeIndexEntries)?.offset
                    ?? view.baseOffset)
            guard var (position, header) = try view.locate(startOffset, map: map) else { continue }
            while true {
                if header.maxTimestamp >= timestamp {
                    let batch = map.bytes(position..<position + header.sizeInBytes)
                    var buffer = ByteBufferAllocator().buffer(capacity: batch.count)
                    buffer.writeBytes(batch)
                    do {
                        var records = try RecordBatch(buffer: buffer).makeRecordIterator()
                        while let record = try records.next() {
                            if record.timestamp >= timestamp && record.offset >= snap.logStartOffset {
                                return (record.offset, record.timestamp)
                            }
                        }
                    } catch {
                        throw .corruptSegment(path: view.segment.logPath, position: position, reason: "\(error)")
                    }
                }
                position += header.sizeInBytes
                guard position < view.size else { break }
                header = try view.header(at: position, map: map)
            }
        }
        return nil
    }

    /// Calls `body` with the header of every batch in the newest `segments` segments, oldest first
    /// (idempotent-producer state is rebuilt from these on startup). Headers only: no decompression.
    public func forEachBatchHeader(
        inLastSegments segments: Int, _ body: (RecordBatchHeader) -> Void
    )
        throws(StorageError)
    {
        let snap = snapshot()
        for index in max(0, snap.count - segments)..<snap.count {
            let view = snap.view(at: index)
            guard view.size > 0 else { continue }
            let map = try view.segment.mapping(covering: view.size)
            var position = 0
            while position < view.size {
                let header = try view.header(at: position, map: map)
                if header.lastOffset >= snap.logStartOffset { body(header) }
                position += header.sizeInBytes
            }
        }
    }

    // MARK: Lifecycle

    /// Syncs, trims and flushes the indexes, and refuses further appends. Readers holding slices
    /// keep them. Safe to call twice.
    public func close() throws(StorageError) {
        let alreadyClosed = writer.withLock { state in
            defer { state.isClosed = true }
            return state.isClosed
        }
        guard !alreadyClosed else { return }
        let failed = writer.withLock { $0.failure != nil }
        if !failed { try flush() }
        try writer.withLock { (state) throws(StorageError) in
            for segment in state.segments {
                try segment.flushIndexes()
            }
            try state.active.trimIndexesForClose()
        }
    }

    /// Closes and removes the directory and every file in it.
    func deleteFiles() throws(StorageError) {
        try? close()
        for name in try fileSystem.listDirectory(directory) { try fileSystem.remove(directory + "/" + name) }
        if rmdir(directory) != 0 && errno != ENOENT { throw .io(operation: "rmdir", path: directory, errno: errno) }
    }

    /// Whether a write or fsync failed, making the log read-only until reopened.
    public var failure: String? { snapshot().failure }
}

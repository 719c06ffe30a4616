import CStrataShims
import Foundation
import Logging
import Synchronization

/// Settings of the cleaner thread (Kafka's broker-level names).
public struct CleanerConfig: Sendable, Equatable {
    /// `log.cleaner.enable`.
    public var enabled = true
    /// `log.retention.check.interval.ms`: how often retention runs (5 minutes).
    public var retentionCheckIntervalMilliseconds: Int64 = 300_000
    /// `log.cleaner.backoff.ms`: sleep between compaction passes when nothing was dirty (15 s).
    public var backoffMilliseconds: Int64 = 15_000
    /// `log.cleaner.dedupe.buffer.size`: memory bound of the key → offset map (128 MiB).
    public var dedupeBufferBytes: Int = 128 << 20

    public init() {}
}

/// What one cleaner pass did.
public struct CleanerPassResult: Sendable, Equatable {
    public var segmentsDeleted = 0
    public var bytesDeleted = 0
    public var logsCompacted = 0
    /// Bytes removed by compaction (input minus output) over all logs.
    public var bytesCompactedAway = 0
    /// Records removed by compaction (superseded, keyless and expired tombstones).
    public var recordsCompactedAway = 0
}

/// What the cleaner tells its observer; storage has no metrics dependency, so the server turns
/// these into metrics (see `BrokerMetrics.cleanerObserver`).
public enum CleanerEvent: Sendable {
    /// Retention deleted `segments` segments (`bytes` bytes) of one partition.
    case retention(TopicPartition, segments: Int, bytes: Int)
    /// One partition was compacted in `seconds`; `dirtyRatio` is the ratio that selected it.
    case compaction(TopicPartition, CompactionResult, seconds: Double, dirtyRatio: Double)
    /// A whole pass ended: its duration, the dirty ratio of every compacted log before cleaning, and
    /// the largest compaction delay (now minus the oldest dirty record's timestamp, 0 when none).
    case pass(
        CleanerPassResult, seconds: Double, dirtyRatios: [TopicPartition: Double], maxCompactionDelayMilliseconds: Int64
    )
}

/// The cleaner: a dedicated thread (never an event loop) that wakes every
/// `log.retention.check.interval.ms`, or when `wake()` is called, and applies retention (time,
/// size, log start offset) to every log, compacts `cleanup.policy=compact` logs whose dirty ratio
/// qualifies (dirtiest first), then removes files of deleted segments once `file.delete.delay.ms`
/// has passed. `runPass(nowMilliseconds:)` does one pass synchronously (tests).
///
/// Thread state (`stopping`, `wakeRequested`) is guarded by one `NSCondition`.
public final class LogCleaner: @unchecked Sendable {
    public let config: CleanerConfig
    private let manager: LogManager
    private let clock: StorageClock
    private let logger: Logger
    private let condition = NSCondition()
    private var stopping = false  // guarded by `condition`
    private var wakeRequested = false  // guarded by `condition`
    private var thread: Thread?  // set once by start()
    private let stopped = DispatchSemaphore(value: 0)
    private let observer: (@Sendable (CleanerEvent) -> Void)?

    /// - Parameter observer: called on the cleaner thread after each retention deletion, each
    ///   compaction and each pass; it must not block.
    public init(
        manager: LogManager, config: CleanerConfig = CleanerConfig(), clock: StorageClock = SystemClock(),
        logger: Logger = Logger(label: "strata.cleaner"), observer: (@Sendable (CleanerEvent) -> Void)? = nil
    ) {
        self.manager = manager
        self.config = config
        self.clock = clock
        self.logger = logger
        self.observer = observer
    }

    /// Starts the cleaner thread (no-op when disabled).
    public func start() {
        guard config.enabled, thread == nil else { return }
        let thread = Thread { [self] in self.run() }
        thread.name = "strata-cleaner"
        self.thread = thread
        thread.start()
    }

    /// Asks for a pass now.
    public func wake() {
        condition.lock()
        wakeRequested = true
        condition.signal()
        condition.unlock()
    }

    /// Stops the thread after its current pass and waits for it.
    public func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        if thread != nil { stopped.wait() }
    }

    /// Lowers the calling thread's CPU priority (nice +10), as the cleaner thread does so that
    /// request handling wins the CPU on a busy machine. Returns false if the system refused.
    @discardableResult
    public static func lowerCurrentThreadPriority() -> Bool { strata_lower_thread_priority(10) == 0 }

    private func run() {
        defer { stopped.signal() }
        if !Self.lowerCurrentThreadPriority() {
            logger.warning("could not lower the cleaner thread's priority; it competes with request handling")
        }
        while true {
            condition.lock()
            let deadline = Date().addingTimeInterval(Double(config.retentionCheckIntervalMilliseconds) / 1000)
            while !stopping && !wakeRequested {
                if !condition.wait(until: deadline) { break }
            }
            if stopping {
                condition.unlock()
                return
            }
            wakeRequested = false
            condition.unlock()
            _ = runPass(nowMilliseconds: clock.nowMilliseconds())
        }
    }

    /// One pass over every log: retention, then removal of expired `.deleted` files, then
    /// compaction of qualifying logs, dirtiest first.
    @discardableResult
    public func runPass(nowMilliseconds now: Int64) -> CleanerPassResult {
        let passStart = ContinuousClock.now
        var result = CleanerPassResult()
        for log in manager.allLogs() {
            do throws(StorageError) {
                let deleted = try log.applyRetention(nowMilliseconds: now)
                result.segmentsDeleted += deleted.segments
                result.bytesDeleted += deleted.bytes
                if deleted.segments > 0 {
                    logger.info(
                        "retention deleted segments",
                        metadata: [
                            "partition": "\(log.topicPartition)", "segments": "\(deleted.segments)",
                            "bytes": "\(deleted.bytes)", "logStartOffset": "\(log.logStartOffset)",
                        ])
                    observer?(.retention(log.topicPartition, segments: deleted.segments, bytes: deleted.bytes))
                }
            } catch {
                logger.error("retention failed", metadata: ["partition": "\(log.topicPartition)", "error": "\(error)"])
            }
            log.removeDeletedFiles(nowMilliseconds: now)
        }
        // Compaction: dirtiest log first; a log qualifies above min.cleanable.dirty.ratio or when its
        // oldest dirty record is older than max.compaction.lag.ms.
        var candidates: [(log: PartitionLog, ratio: Double)] = []
        var ratios: [TopicPartition: Double] = [:]
        var maxDelay: Int64 = 0
        for log in manager.allLogs() where log.config.isCompacted {
            let dirty = log.dirtyRatio(nowMilliseconds: now)
            ratios[log.topicPartition] = dirty.ratio
            if let oldest = dirty.oldestDirtyTimestamp { maxDelay = max(maxDelay, now - oldest) }
            guard dirty.dirtyBytes > 0 else { continue }
            let config = log.config
            let overdue = dirty.oldestDirtyTimestamp.map { now - $0 > config.maxCompactionLagMilliseconds } ?? false
            if dirty.ratio > config.minCleanableDirtyRatio || overdue { candidates.append((log, dirty.ratio)) }
        }
        for candidate in candidates.sorted(by: { $0.ratio > $1.ratio }) {
            let start = ContinuousClock.now
            do throws(StorageError) {
                if let compacted = try candidate.log.compact(
                    nowMilliseconds: now, dedupeBufferBytes: config.dedupeBufferBytes)
                {
                    result.logsCompacted += 1
                    result.bytesCompactedAway += compacted.bytesIn - compacted.bytesOut
                    result.recordsCompactedAway += compacted.recordsRemoved
                    observer?(
                        .compaction(
                            candidate.log.topicPartition, compacted, seconds: Self.seconds(since: start),
                            dirtyRatio: candidate.ratio))
                }
            } catch {
                logger.error(
                    "compaction failed",
                    metadata: [
                        "partition": "\(candidate.log.topicPartition)",
                        "error": "\(error)",
                    ])
            }
        }
        if result.segmentsDeleted > 0 || result.logsCompacted > 0 {
            do throws(StorageError) { try manager.checkpoint() } catch {
                logger.error("checkpoint after retention failed", metadata: ["error": "\(error)"])
            }
        }
        observer?(
            .pass(
                result, seconds: Self.seconds(since: passStart), dirtyRatios: ratios,
                maxCompactionDelayMilliseconds: maxDelay))
        return result
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

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

    public init(
        manager: LogManager, config: CleanerConfig = CleanerConfig(), clock: StorageClock = SystemClock(),
        logger: Logger = Logger(label: "strata.cleaner")
    ) {
        self.manager = manager
        self.config = config
        self.clock = clock
        self.logger = logger
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

    private func run() {
        defer { stopped.signal() }
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

    /// One pass over every log: retention, then removal of expired `.deleted` files.
    @discardableResult
    public func runPass(nowMilliseconds now: Int64) -> CleanerPassResult {
        var result = CleanerPassResult()
        for log in manager.allLogs() {
            do throws(StorageError) {
                let deleted = try log.applyRetention(nowMilliseconds: now)
                result.segmentsDeleted += deleted.segments
                result.bytesDeleted += deleted.bytes
            } catch {
                logger.error("retention failed", metadata: ["partition": "\(log.topicPartition)", "error": "\(error)"])
            }
            log.removeDeletedFiles(nowMilliseconds: now)
        }
        // Compaction: dirtiest log first; a log qualifies above min.cleanable.dirty.ratio or when its
        // oldest dirty record is older than max.compaction.lag.ms.
        var candidates: [(log: PartitionLog, ratio: Double)] = []
        for log in manager.allLogs() where log.config.isCompacted {
            let dirty = log.dirtyRatio(nowMilliseconds: now)
            guard dirty.dirtyBytes > 0 else { continue }
            let config = log.config
            let overdue = dirty.oldestDirtyTimestamp.map { now - $0 > config.maxCompactionLagMilliseconds } ?? false
            if dirty.ratio > config.minCleanableDirtyRatio || overdue { candidates.append((log, dirty.ratio)) }
        }
        for candidate in candidates.sorted(by: { $0.ratio > $1.ratio }) {
            do throws(StorageError) {
                if try candidate.log.compact(nowMilliseconds: now, dedupeBufferBytes: config.dedupeBufferBytes) != nil {
                    result.logsCompacted += 1
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
        return result
    }
}

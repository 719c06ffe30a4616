import Dispatch
import Logging
import StrataRecords
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Retention and DeleteRecords: deleting whole segments from the front of the log under the writer
/// lock (rename `.deleted`, remove later), advancing the log start offset.
extension PartitionLog {
    /// Why segments were deleted.
    public enum DeletionReason: String, Sendable {
        case retentionTime = "retention.ms"
        case retentionSize = "retention.bytes"
        case logStartOffset = "log start offset"
    }

    /// Replaces the configuration (AlterConfigs); applies to the next append, roll and cleaning.
    public func updateConfig(_ config: LogConfig) {
        writer.withLock { state in
            state.config = config
            publish(state)
        }
    }

    /// Moves the log start offset forward to `offset` (DeleteRecords); segments wholly below it are
    /// deleted. Returns the new log start offset. Offsets above the high watermark are refused.
    @discardableResult
    public func deleteRecords(before offset: Int64) throws(StorageError) -> Int64 {
        let now = clock.nowMilliseconds()
        return try writer.withLock { (state) throws(StorageError) -> Int64 in
            if state.isClosed { throw .closed(partition: topicPartition.description) }
            guard offset >= 0 && offset <= state.logEndOffset else {
                throw .offsetOutOfRange(
                    partition: topicPartition.description, offset: offset,
                    logStartOffset: state.logStartOffset, logEndOffset: state.logEndOffset)
            }
            state.logStartOffset = max(state.logStartOffset, offset)
            let start = state.logStartOffset
            // During a compaction swap the segments stay; the next retention pass removes them.
            if !state.compactionSwapPending {
                _ = try deleteSegments(&state, now: now) { _, _, next in next <= start ? .logStartOffset : nil }
            }
            publish(state)
            return state.logStartOffset
        }
    }

    /// Deletes the oldest closed segments past `retention.ms` (by largest record timestamp, or the
    /// file's mtime when none) or beyond `retention.bytes`, advancing the log start offset to the
    /// next segment's base. The active segment is never deleted. Returns (segments, bytes) deleted.
    @discardableResult
    public func applyRetention(nowMilliseconds now: Int64) throws(StorageError) -> (segments: Int, bytes: Int) {
        try writer.withLock { (state) throws(StorageError) -> (segments: Int, bytes: Int) in
            guard !state.isClosed else { return (0, 0) }
            let config = state.config
            let byTimeAndSize = config.cleanupPolicy.contains("delete")
            let start = state.logStartOffset
            var total = state.segments.reduce(0) { $0 + $1.size }
            let result = try deleteSegments(&state, now: now) { segment, size, next in
                if next <= start {  // wholly below the log start offset (DeleteRecords), any policy
                    total -= size
                    return .logStartOffset
                }
                guard byTimeAndSize else { return nil }
                if config.retentionMilliseconds >= 0 {
                    let newest = segment.maxTimestamp >= 0 ? segment.maxTimestamp : segment.lastModifiedMilliseconds()
                    if now - newest > config.retentionMilliseconds {
                        total -= size
                        return .retentionTime
                    }
                }
                if config.retentionBytes >= 0 && Int64(total - size) >= config.retentionBytes {
                    total -= size
                    return .retentionSize
                }
                return nil
            }
            if result.segments > 0 { publish(state) }
            return result
        }
    }

    /// Deletes closed segments from the oldest while `reason` names a reason (stops at the first
    /// nil): renames their files `.deleted`, drops them from the published list and advances the
    /// log start offset. Files are removed later by `removeDeletedFiles(nowMilliseconds:)`.
    fileprivate func deleteSegments(
        _ state: inout Writer, now: Int64,
        reason: (LogSegment, Int, Int64) -> DeletionReason?
    ) throws(StorageError)
        -> (segments: Int, bytes: Int)
    {
        var deleted = 0
        var bytes = 0
        while state.segments.count > 1 {
            let segment = state.segments[0]
            let next = state.segments[1].baseOffset
            guard let why = reason(segment, segment.size, next) else { break }
            try segment.markDeleted()
            state.segments.removeFirst()
            state.closedViews.removeFirst()
            state.logStartOffset = max(state.logStartOffset, next)
            state.pendingDeletes.append((segment, now + state.config.fileDeleteDelayMilliseconds))
            deleted += 1
            bytes += segment.size
            logger.info(
                "deleted segment",
                metadata: [
                    "baseOffset": "\(segment.baseOffset)", "bytes": "\(segment.size)",
                    "reason": "\(why.rawValue)", "logStartOffset": "\(state.logStartOffset)",
                ])
        }
        if deleted > 0 { try fileSystem.syncDirectory(directory) }
        return (deleted, bytes)
    }

    /// Removes the files of deleted segments whose `file.delete.delay.ms` has passed.
    public func removeDeletedFiles(nowMilliseconds now: Int64) {
        let due = writer.withLock { state -> [LogSegment] in
            let due = state.pendingDeletes.filter { $0.removeAtMilliseconds <= now }.map(\.segment)
            state.pendingDeletes.removeAll { $0.removeAtMilliseconds <= now }
            return due
        }
        for segment in due {
            do throws(StorageError) { try segment.removeDeletedFiles() } catch {
                logger.warning("cannot remove deleted segment files", metadata: ["error": "\(error)"])
            }
        }
    }
}

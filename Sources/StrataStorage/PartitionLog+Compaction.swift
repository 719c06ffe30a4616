import Logging
import NIOCore
import StrataRecords

#if canImport(Glibc)
import Glibc
#endif

/// The steps of a compaction swap, named so tests can simulate a crash after each one.
public enum CompactionStep: String, Sendable, CaseIterable {
    /// The compacted segment (log and indexes) is complete and fsynced in `.cleaning/`.
    case cleanedWritten
    /// `.cleaning/<base>.log` renamed to `<base>.log.<end>.swap`: the new version is committed.
    case swapCommitted
    /// The replaced segments' files renamed `.deleted`.
    case oldSegmentsDeleted
    /// The swap file renamed to `<base>.log`; the swap is complete.
    case swapRenamed
}

/// What one compaction pass did to one log.
public struct CompactionResult: Sendable, Equatable {
    public var segmentsIn = 0
    public var segmentsOut = 0
    public var bytesIn = 0
    public var bytesOut = 0
    public var recordsRemoved = 0
    public var tombstonesRemoved = 0
    /// First offset not compacted (the new cleaner checkpoint).
    public var cleanedThrough: Int64 = 0
}

extension PartitionLog {
    /// First offset not yet compacted.
    public var cleanerCheckpoint: Int64 { writer.withLock { $0.cleanerCheckpoint } }

    /// Closed segments old enough to compact (`min.compaction.lag.ms`), oldest first.
    private func cleanableViews(_ snap: LogSnapshot, now: Int64) -> [SegmentView] {
        var views: [SegmentView] = []
        let lag = snap.config.minCompactionLagMilliseconds
        for view in snap.closed {
            if lag > 0 && view.maxTimestamp > now - lag { break }
            views.append(view)
        }
        return views
    }

    /// Dirty bytes / cleanable bytes of the compactable section, and the oldest dirty timestamp.
    public func dirtyRatio(nowMilliseconds now: Int64) -> (ratio: Double, dirtyBytes: Int, oldestDirtyTimestamp: Int64?)
    {
        let snap = snapshot()
        let views = cleanableViews(snap, now: now)
        let firstDirty = max(cleanerCheckpoint, snap.logStartOffset)
        var dirty = 0
        var total = 0
        var oldest: Int64?
        for view in views {
            total += view.size
            if view.nextOffset > firstDirty {
                dirty += view.size
                if oldest == nil, view.maxTimestamp >= 0 { oldest = view.maxTimestamp }
            }
        }
        return (total == 0 ? 0 : Double(dirty) / Double(total), dirty, oldest)
    }

    /// One compaction pass: maps the dirty section's keys to their latest offsets (bounded by
    /// `dedupeBufferBytes`; a segment that does not fit stays for the next pass), then recopies the
    /// closed segments up to the mapped end, keeping the latest record per key, dropping keyless
    /// records and tombstones whose delete horizon passed, and merging neighbours up to
    /// `segment.bytes`. Batches keep their base and last offsets and producer fields; only rebuilt
    /// batches are recompressed. Each group is swapped in crash-safely (see `CompactionStep`).
    /// Returns nil when there was nothing to do.
    public func compact(
        nowMilliseconds now: Int64, dedupeBufferBytes: Int,
        crashHook: ((CompactionStep) throws(StorageError) -> Void)? = nil
    )
        throws(StorageError) -> CompactionResult?
    {
        let snap = snapshot()
        let config = snap.config
        guard config.isCompacted else { return nil }
        let views = cleanableViews(snap, now: now)
        let firstDirty = max(cleanerCheckpoint, snap.logStartOffset)
        guard let dirtyStart = views.firstIndex(where: { $0.nextOffset > firstDirty }) else { return nil }

        var map = OffsetMap(bytesMax: dedupeBufferBytes)
        var mapped = dirtyStart
        var mapEnd = firstDirty
        for index in dirtyStart..<views.count {
            var full = false
            try forEachRecord(in: views[index], while: { !full }) { record in
                guard !full, let key = record.key, record.offset >= firstDirty else { return }
                if !map.put(key, offset: record.offset) { full = true }
            }
            if full { break }
            mapped = index + 1
            mapEnd = views[index].nextOffset
        }
        guard mapped > dirtyStart else {
            logger.warning(
                "compaction skipped: one segment's keys exceed log.cleaner.dedupe.buffer.size",
                metadata: ["segment": "\(views[dirtyStart].baseOffset)", "limit": "\(dedupeBufferBytes)"])
            return nil
        }

        var result = CompactionResult()
        result.cleanedThrough = mapEnd
        for group in groups(Array(views[..<mapped]), config: config) {
            try cleanGroup(group, map: map, now: now, config: config, result: &result, crashHook: crashHook)
        }
        writer.withLock { $0.cleanerCheckpoint = max($0.cleanerCheckpoint, mapEnd) }
        logger.info(
            "compacted",
            metadata: [
                "segmentsIn": "\(result.segmentsIn)", "segmentsOut": "\(result.segmentsOut)",
                "bytesIn": "\(result.bytesIn)",
                "bytesOut": "\(result.bytesOut)", "recordsRemoved": "\(result.recordsRemoved)",
                "tombstonesRemoved": "\(result.tombstonesRemoved)", "cleanedThrough": "\(mapEnd)",
            ])
        return result
    }

    /// Neighbouring segments merged while their total stays within `segment.bytes` and their offsets
    /// fit one segment's 32-bit relative range.
    private func groups(_ views: [SegmentView], config: LogConfig) -> [[SegmentView]] {
        var result: [[SegmentView]] = []
        var current: [SegmentView] = []
        var size = 0
        for view in views {
            if let first = current.first,
                size + view.size > config.segmentBytes || view.nextOffset - first.baseOffset > Int64(UInt32.max)
            {
                result.append(current)
                current = []
                size = 0
            }
            current.append(view)
            size += view.size
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    /// Calls `body` with a borrowed view of every record of a segment view, decoded straight from
    /// the segment's memory map (no copy of the batch, no reference per record), while `proceed()`
    /// holds at the start of each batch.
    private func forEachRecord(
        in view: SegmentView, while proceed: () -> Bool, _ body: (borrowing RecordView) -> Void
    ) throws(StorageError) {
        guard view.size > 0 else { return }
        let map = try view.segment.mapping(covering: view.size)
        var position = 0
        while position < view.size && proceed() {
            let header = try view.header(at: position, map: map)
            defer { position += header.sizeInBytes }
            if header.isControl { continue }
            do {
                try RecordBatch.forEachRecord(batchBytes: map.bytes(position..<position + header.sizeInBytes), body)
            } catch {
                throw .corruptSegment(path: view.segment.logPath, position: position, reason: "\(error)")
            }
        }
    }

    private func decodeBatch(
        _ view: SegmentView, position: Int, header: RecordBatchHeader, map: MappedFile
    )
        throws(StorageError) -> RecordBatch
    {
        var buffer = ByteBufferAllocator().buffer(capacity: header.sizeInBytes)
        buffer.writeBytes(map.bytes(position..<position + header.sizeInBytes))
        do { return try RecordBatch(buffer: buffer) } catch {
            throw .corruptSegment(path: view.segment.logPath, position: position, reason: "\(error)")
        }
    }

    /// Recopies one group into `.cleaning/<base>.log` (with indexes), then swaps it in.
    /// Bytes of compacted output between writeback windows.
    static let cleanerWritebackBytes = 1 << 20

    private func cleanGroup(
        _ group: [SegmentView], map: OffsetMap, now: Int64, config: LogConfig,
        result: inout CompactionResult,
        crashHook: ((CompactionStep) throws(StorageError) -> Void)?
    ) throws(StorageError) {
        let base = group[0].baseOffset
        let cleaningDirectory = directory + "/" + Self.cleaningDirectoryName
        try fileSystem.createDirectory(cleaningDirectory)
        var cleaningConfig = config
        cleaningConfig.segmentBytes = Int(Int32.max)
        let output = try LogSegment.create(
            directory: cleaningDirectory, baseOffset: base, config: cleaningConfig,
            fileSystem: fileSystem, nowMilliseconds: now)
        // The output is written back in windows as it grows (start one, finish the one before), so
        // the final fdatasync — and any producer's fsync that the journal ties to it — finds little
        // dirty data left.
        var writtenBack = 0
        var pendingWriteback = 0..<0
        func writeBackIfDue() throws(StorageError) {
            guard output.size - writtenBack >= Self.cleanerWritebackBytes else { return }
            try output.writeback(pendingWriteback, wait: true)
            pendingWriteback = writtenBack..<output.size
            try output.writeback(pendingWriteback, wait: false)
            writtenBack = output.size
        }
        for view in group {
            result.segmentsIn += 1
            result.bytesIn += view.size
            guard view.size > 0 else { continue }
            let mapping = try view.segment.mapping(covering: view.size)
            var position = 0
            while position < view.size {
                let header = try view.header(at: position, map: mapping)
                let original = mapping.bytes(position..<position + header.sizeInBytes)
                if let rebuilt = try filter(
                    view, position: position, header: header, mapping: mapping, map: map,
                    now: now, config: config, result: &result)
                {
                    if let rebuilt {
                        var bytes = rebuilt
                        let rebuiltHeader = try headerOf(bytes, path: view.segment.logPath, position: position)
                        try bytes.withUnsafeReadableBytes { (raw) throws(StorageError) in
                            try output.append(batch: raw, header: rebuiltHeader, config: cleaningConfig)
                        }
                        bytes.clear()
                    } else {
                        let originalHeader = header
                        try output.append(batch: original, header: originalHeader, config: cleaningConfig)
                    }
                    try writeBackIfDue()
                }
                position += header.sizeInBytes
            }
        }
        try output.flushIndexes()
        try output.seal()
        try output.syncLog()
        result.segmentsOut += 1
        result.bytesOut += output.size
        try fileSystem.syncDirectory(cleaningDirectory)
        try crashHook?(.cleanedWritten)
        try swapIn(group: group, cleaned: output, cleaningDirectory: cleaningDirectory, now: now, crashHook: crashHook)
    }

    private func headerOf(_ buffer: ByteBuffer, path: String, position: Int) throws(StorageError) -> RecordBatchHeader {
        do {
            return try buffer.withUnsafeReadableBytes { (bytes) throws(RecordsError) in
                try RecordBatchHeader(parsing: bytes)
            }
        } catch {
            throw .corruptSegment(path: path, position: position, reason: "rebuilt batch: \(error)")
        }
    }

    /// Decides one batch's fate. Returns nil to drop it, `.some(nil)` to copy it verbatim, or
    /// `.some(bytes)` for a rebuilt batch.
    private func filter(
        _ view: SegmentView, position: Int, header: RecordBatchHeader, mapping: MappedFile,
        map: OffsetMap, now: Int64, config: LogConfig, result: inout CompactionResult
    )
        throws(StorageError) -> ByteBuffer??
    {
        if header.isControl { return .some(nil) }
        guard header.compression == CompressionCodec.none || header.compression == .lz4 else {
            return .some(nil)  // cannot decode other codecs: keep the batch whole
        }
        let batch = try decodeBatch(view, position: position, header: header, map: mapping)
        let horizonPassed = header.hasDeleteHorizon && now >= header.baseTimestamp
        var kept: [Record] = []
        var hasTombstone = false
        var total = 0
        do {
            var records = try batch.makeRecordIterator()
            while let record = try records.next() {
                total += 1
                guard let key = record.key else {
                    result.recordsRemoved += 1
                    continue
                }
                if let latest = map.latest(key), latest > record.offset {
                    result.recordsRemoved += 1
                    continue
                }
                if record.value == nil {
                    if horizonPassed {
                        result.tombstonesRemoved += 1
                        result.recordsRemoved += 1
                        continue
                    }
                    hasTombstone = true
                }
                kept.append(record)
            }
        } catch {
            throw .corruptSegment(path: view.segment.logPath, position: position, reason: "\(error)")
        }
        if kept.isEmpty { return nil }
        let needsHorizon = hasTombstone && !header.hasDeleteHorizon
        if kept.count == total && !needsHorizon { return .some(nil) }
        var builder = RecordBatchBuilder(
            compression: header.compression ?? .none, producerId: header.producerId,
            producerEpoch: header.producerEpoch, baseSequence: header.baseSequence,
            partitionLeaderEpoch: header.partitionLeaderEpoch, isTransactional: header.isTransactional,
            timestampType: header.timestampType, capacity: header.sizeInBytes)
        if needsHorizon {
            builder.hasDeleteHorizon = true
            builder.fixedBaseTimestamp = now + config.deleteRetentionMilliseconds
        } else {
            builder.hasDeleteHorizon = header.hasDeleteHorizon && hasTombstone
            builder.fixedBaseTimestamp = header.baseTimestamp
        }
        for record in kept {
            builder.append(
                offsetDelta: Int32(record.offset - header.baseOffset), key: record.key, value: record.value,
                headers: Array(record.headers), timestamp: record.timestamp)
        }
        do {
            var bytes = try builder.build(lastOffsetDelta: header.lastOffsetDelta)
            bytes.setInteger(header.baseOffset, at: bytes.readerIndex + RecordBatchHeader.Layout.baseOffset)
            return .some(bytes)
        } catch {
            throw .corruptSegment(path: view.segment.logPath, position: position, reason: "rebuilding: \(error)")
        }
    }

    /// Swaps the compacted segment in, in the order recovery understands: commit (`.swap`), retire
    /// the old files (`.deleted`), move the indexes, rename into place. The two directory fsyncs run
    /// outside the writer lock, so appends to this partition never wait for them: under the lock the
    /// group is checked and marked (DeleteRecords leaves segments alone while a swap is pending),
    /// then committed without it, then swapped in under the lock with renames only.
    private func swapIn(
        group: [SegmentView], cleaned: LogSegment, cleaningDirectory: String, now: Int64,
        crashHook: ((CompactionStep) throws(StorageError) -> Void)?
    ) throws(StorageError) {
        let base = group[0].baseOffset
        let stem = SegmentFileName.stem(base)
        func groupStart(_ state: Writer) -> Int? {
            guard !state.isClosed, let start = state.segments.firstIndex(where: { $0 === group[0].segment }),
                start + group.count < state.segments.count,
                zip(state.segments[start..<(start + group.count)], group).allSatisfy({ $0.0 === $0.1.segment })
            else { return nil }
            return start
        }
        let end = writer.withLock { (state) -> Int64? in
            guard let start = groupStart(state) else { return nil }
            state.compactionSwapPending = true
            return state.segments[start + group.count].baseOffset
        }
        guard let end else {
            // Retention, DeleteRecords or a close removed part of the group meanwhile: drop this output.
            try cleaned.deleteFiles()
            return
        }
        let swapPath = directory + "/" + SegmentFileName.swapName(base: base, end: end)
        do throws(StorageError) {
            try fileSystem.rename(cleaned.logPath, to: swapPath)
            try fileSystem.syncDirectory(directory)
            try crashHook?(.swapCommitted)
        } catch {
            writer.withLock { $0.compactionSwapPending = false }
            throw error
        }
        try writer.withLock { (state) throws(StorageError) in
            defer { state.compactionSwapPending = false }
            guard let start = groupStart(state) else {
                // Only a close can get here (deletions wait while the swap is pending): the committed
                // `.swap` is completed by recovery when the log is next opened.
                throw .closed(partition: topicPartition.description)
            }
            for view in group { try view.segment.markDeleted() }
            try crashHook?(.oldSegmentsDeleted)
            try fileSystem.rename(
                cleaned.offsetIndex.file.path, to: directory + "/" + stem + SegmentFileName.indexSuffix)
            try fileSystem.rename(
                cleaned.timeIndex.file.path, to: directory + "/" + stem + SegmentFileName.timeIndexSuffix)
            try fileSystem.rename(swapPath, to: directory + "/" + stem + SegmentFileName.logSuffix)
            let replacement = try LogSegment.open(
                directory: directory, baseOffset: base, config: state.config,
                fileSystem: fileSystem, writable: false, nowMilliseconds: now)
            if let reason = try replacement.loadAfterCleanShutdown(
                scanTail: false, nextSegmentBase: end, logger: logger)
            {
                throw .corruptSegment(path: replacement.logPath, position: 0, reason: "compacted segment: \(reason)")
            }
            state.segments.replaceSubrange(start..<(start + group.count), with: [replacement])
            state.closedViews.replaceSubrange(start..<(start + group.count), with: [replacement.view()])
            for view in group {
                state.pendingDeletes.append((view.segment, now + state.config.fileDeleteDelayMilliseconds))
            }
            publish(state)
        }
        // The renames become durable before the old files can be removed (file.delete.delay.ms later).
        try fileSystem.syncDirectory(directory)
        try crashHook?(.swapRenamed)
    }
}

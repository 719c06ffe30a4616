import Logging
import StrataRecords
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// File naming of segments: `<base offset, 20 digits>.log|.index|.timeindex`, with temporary
/// suffixes `.cleaned`, `.swap`, `.deleted` used by the cleaner.
public enum SegmentFileName {
    public static let logSuffix = ".log"
    public static let indexSuffix = ".index"
    public static let timeIndexSuffix = ".timeindex"

    /// 20-digit zero-padded base offset.
    public static func stem(_ baseOffset: Int64) -> String {
        let digits = String(baseOffset)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// Name of a compaction swap file: `<base>.log.<end>.swap` replaces segments in `[base, end)`.
    public static func swapName(base: Int64, end: Int64) -> String {
        stem(base) + logSuffix + "." + stem(end) + ".swap"
    }

    /// Parses `swapName`'s format.
    public static func parseSwap(_ name: String) -> (base: Int64, end: Int64)? {
        let parts = name.split(separator: ".")
        guard parts.count == 4, parts[1] == "log", parts[3] == "swap",
            let base = baseOffset(of: String(parts[0]) + logSuffix, suffix: logSuffix),
            let end = baseOffset(of: String(parts[2]) + logSuffix, suffix: logSuffix), end > base
        else { return nil }
        return (base, end)
    }

    /// Base offset of a file named `<20 digits><suffix>`, else nil.
    public static func baseOffset(of name: String, suffix: String) -> Int64? {
        guard name.hasSuffix(suffix) else { return nil }
        let stem = name.dropLast(suffix.count)
        guard stem.count == 20, stem.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int64(stem)
    }
}

/// What recovery found in one segment.
public struct SegmentRecoveryResult: Sendable, Equatable {
    public var validBytes: Int
    public var truncatedBytes: Int
    public var batches: Int
    /// Why the tail was cut (nil when nothing was cut).
    public var reason: String?
}

/// One segment of a partition: the `.log` file of RecordBatch v2 bytes plus its `.index` and
/// `.timeindex`.
///
/// Concurrency: the mutable fields (`size`, `nextOffset`, timestamps, index counters) belong to the
/// partition's writer and change only under `PartitionLog`'s writer lock. Readers use a
/// `SegmentView` published by the writer (size and index counts captured under the same lock),
/// read only below those bounds, and otherwise touch only immutable fields and the memory map
/// (whose replacement is guarded by `mappingLock`). Hence `@unchecked Sendable`.
final class LogSegment: @unchecked Sendable {
    let baseOffset: Int64
    let logPath: String
    let directory: String
    let offsetIndex: OffsetIndex
    let timeIndex: TimeIndex
    let fd: Int32
    private let fileSystem: FileSystem
    private let mappingLock = Mutex<MappedFile?>(nil)
    private let reservedMapBytes: Int

    // Writer-owned state.
    private(set) var size: Int
    private(set) var nextOffset: Int64
    private(set) var maxTimestamp: Int64 = -1
    private(set) var offsetOfMaxTimestamp: Int64
    private var bytesSinceLastIndexEntry = 0
    private(set) var createdAtMilliseconds: Int64
    private(set) var isSealed = false

    private init(
        directory: String, baseOffset: Int64, config: LogConfig, fileSystem: FileSystem,
        writable: Bool, create: Bool, nowMilliseconds: Int64
    ) throws(StorageError) {
        self.directory = directory
        self.baseOffset = baseOffset
        self.fileSystem = fileSystem
        let stem = directory + "/" + SegmentFileName.stem(baseOffset)
        logPath = stem + SegmentFileName.logSuffix
        let flags = (create ? O_CREAT | O_EXCL : 0) | O_RDWR | O_CLOEXEC
        fd = try fileSystem.open(logPath, flags: flags, mode: 0o644)
        do {
            size = Int(try fileSystem.size(fd, path: logPath))
            offsetIndex = try OffsetIndex(
                path: stem + SegmentFileName.indexSuffix, baseOffset: baseOffset,
                maxBytes: config.segmentIndexBytes, writable: writable,
                fileSystem: fileSystem)
            timeIndex = try TimeIndex(
                path: stem + SegmentFileName.timeIndexSuffix, baseOffset: baseOffset,
                maxBytes: config.segmentIndexBytes, writable: writable, fileSystem: fileSystem)
        } catch {
            fileSystem.close(fd)
            throw error
        }
        nextOffset = baseOffset
        offsetOfMaxTimestamp = baseOffset
        createdAtMilliseconds = nowMilliseconds
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let wanted = writable ? max(size, config.segmentBytes + config.maxMessageBytes) : size
        reservedMapBytes = (wanted + page - 1) / page * page
        isSealed = !writable
    }

    deinit { fileSystem.close(fd) }

    /// Creates a new empty, writable segment.
    static func create(
        directory: String, baseOffset: Int64, config: LogConfig, fileSystem: FileSystem,
        nowMilliseconds: Int64
    ) throws(StorageError) -> LogSegment {
        let segment = try LogSegment(
            directory: directory, baseOffset: baseOffset, config: config,
            fileSystem: fileSystem, writable: true, create: true,
            nowMilliseconds: nowMilliseconds)
        segment.offsetIndex.file.truncate(toEntries: 0)
        segment.timeIndex.file.truncate(toEntries: 0)
        return segment
    }

    /// Opens an existing segment without validating its bytes. `writable` for the last segment.
    /// Call `loadAfterCleanShutdown` or `recover` next.
    static func open(
        directory: String, baseOffset: Int64, config: LogConfig, fileSystem: FileSystem,
        writable: Bool, nowMilliseconds: Int64
    ) throws(StorageError) -> LogSegment {
        try LogSegment(
            directory: directory, baseOffset: baseOffset, config: config, fileSystem: fileSystem,
            writable: writable, create: false, nowMilliseconds: nowMilliseconds)
    }

    // MARK: Memory map

    /// A mapping covering at least `end` bytes.
    func mapping(covering end: Int) throws(StorageError) -> MappedFile {
        try mappingLock.withLock { (current) throws(StorageError) -> MappedFile in
            if let existing = current, existing.length >= end { return existing }
            let length = max(end, reservedMapBytes)
            let mapped = try MappedFile(fd: fd, length: length, writable: false, path: logPath)
            current = mapped
            return mapped
        }
    }

    // MARK: Loading and recovery

    /// After a clean shutdown: trusts the bytes, checks the indexes cheaply (rebuilding them when in
    /// doubt) and, when `scanTail`, finds the next offset and largest timestamp by reading batch
    /// headers after the last index entry. Returns a reason when the segment needs full recovery.
    func loadAfterCleanShutdown(
        scanTail: Bool, nextSegmentBase: Int64?, logger: Logger
    ) throws(StorageError)
        -> String?
    {
        try checkFirstBatchBelongs(nextSegmentBase: nextSegmentBase)
        if let last = offsetIndex.lastEntry, last.position >= size || last.offset < baseOffset {
            return "index \(offsetIndex.file.path) last entry (\(last.offset), \(last.position)) outside the log"
        }
        if let last = timeIndex.lastEntry {
            maxTimestamp = last.timestamp
            offsetOfMaxTimestamp = last.offset
        }
        if !scanTail {
            nextOffset = nextSegmentBase ?? baseOffset
            return nil
        }
        var position = offsetIndex.lastEntry?.position ?? 0
        nextOffset = offsetIndex.lastEntry?.offset ?? baseOffset
        guard size > 0 else { return nil }
        let map = try mapping(covering: size)
        while position < size {
            let bytes = map.bytes(position..<size)
            guard let header = try? RecordBatchHeader(parsing: bytes),
                header.batchLength >= RecordBatchHeader.Layout.batchLengthMin,
                header.sizeInBytes <= bytes.count
            else { return "unreadable batch header at byte \(position) of \(logPath)" }
            nextOffset = header.nextOffset
            if header.maxTimestamp > maxTimestamp {
                maxTimestamp = header.maxTimestamp
                offsetOfMaxTimestamp = header.lastOffset
            }
            position += header.sizeInBytes
        }
        return nil
    }

    /// Refuses a segment whose first batch lies outside the offsets its file name gives it (below its
    /// base, or at or past the next segment's base). No crash or cleaning makes such a file: it was
    /// copied from another partition or renamed, and serving it would hand out another log's
    /// records, so opening stops with an error naming the file. Reads one batch header.
    func checkFirstBatchBelongs(nextSegmentBase: Int64?) throws(StorageError) {
        guard size >= RecordBatchHeader.Layout.size else { return }
        let map = try mapping(covering: RecordBatchHeader.Layout.size)
        guard let header = try? RecordBatchHeader(parsing: map.bytes(0..<RecordBatchHeader.Layout.size)) else {
            return  // unreadable bytes are recovery's business
        }
        if header.baseOffset < baseOffset || nextSegmentBase.map({ header.baseOffset >= $0 }) == true {
            throw .corruptSegment(
                path: logPath, position: 0,
                reason: "first batch has offset \(header.baseOffset), outside this segment's range (base "
                    + "\(baseOffset)\(nextSegmentBase.map { ", next segment \($0)" } ?? "")): a segment from "
                    + "another partition or a renamed file; move it away to start")
        }
    }

    /// Re-validates every batch (size, magic, CRC, offsets increasing and fitting this segment),
    /// rebuilds both indexes and truncates the file at the first invalid batch.
    func recover(config: LogConfig, logger: Logger) throws(StorageError) -> SegmentRecoveryResult {
        offsetIndex.file.truncate(toEntries: 0)
        timeIndex.file.truncate(toEntries: 0)
        maxTimestamp = -1
        offsetOfMaxTimestamp = baseOffset
        nextOffset = baseOffset
        bytesSinceLastIndexEntry = 0
        let fileSize = size
        var position = 0
        var batches = 0
        var reason: String?
        if fileSize > 0 {
            try checkFirstBatchBelongs(nextSegmentBase: nil)
            let map = try mapping(covering: fileSize)
            while position < fileSize {
                let bytes = map.bytes(position..<fileSize)
                let header: RecordBatchHeader
                do {
                    header = try RecordBatch.validate(bytes: bytes, batchBytesMax: bytes.count)
                } catch {
                    reason = "\(error)"
                    break
                }
                if header.baseOffset < nextOffset {
                    reason = "batch baseOffset \(header.baseOffset) below expected \(nextOffset)"
                    break
                }
                if header.lastOffset - baseOffset > Int64(UInt32.max) {
                    reason = "batch lastOffset \(header.lastOffset) does not fit segment \(baseOffset)"
                    break
                }
                indexBatch(header: header, position: position, config: config)
                position += header.sizeInBytes
                batches += 1
            }
        }
        size = position
        if position < fileSize {
            try fileSystem.truncate(fd, size: Int64(position), path: logPath)
            logger.warning(
                "recovery truncated segment",
                metadata: [
                    "file": "\(logPath)", "position": "\(position)", "bytesCut": "\(fileSize - position)",
                    "reason": "\(reason ?? "")",
                ])
        }
        return SegmentRecoveryResult(
            validBytes: position, truncatedBytes: fileSize - position, batches: batches,
            reason: position < fileSize ? reason : nil)
    }

    /// Index maintenance shared by append and recovery (Kafka's cadence: an entry for a batch when
    /// more than `index.interval.bytes` were written since the previous entry).
    private func indexBatch(header: RecordBatchHeader, position: Int, config: LogConfig) {
        if header.maxTimestamp > maxTimestamp {
            maxTimestamp = header.maxTimestamp
            offsetOfMaxTimestamp = header.lastOffset
        }
        if bytesSinceLastIndexEntry > config.indexIntervalBytes && !offsetIndex.isFull {
            offsetIndex.append(offset: header.lastOffset, position: position)
            timeIndex.maybeAppend(timestamp: maxTimestamp, offset: offsetOfMaxTimestamp)
            bytesSinceLastIndexEntry = 0
        }
        bytesSinceLastIndexEntry += header.sizeInBytes
        nextOffset = header.nextOffset
    }

    // MARK: Writing

    /// Whether appending `batchBytes` ending at `lastOffset` requires a new segment first, when
    /// `pendingBytes` are about to be written before it.
    func shouldRoll(
        batchBytes: Int, lastOffset: Int64, config: LogConfig, nowMilliseconds: Int64, pendingBytes: Int = 0
    ) -> Bool {
        let size = self.size + pendingBytes
        guard size > 0 else { return false }
        return size + batchBytes > config.segmentBytes
            || nowMilliseconds - createdAtMilliseconds > config.segmentMilliseconds
            || offsetIndex.isFull || timeIndex.isFull
            || lastOffset - baseOffset > Int64(UInt32.max)
    }

    /// One validated batch for `append(batches:)`: its bytes (as received, unmodified) and the header
    /// whose `baseOffset` and `partitionLeaderEpoch` are written in place of the received ones.
    struct StampedBatch {
        var bytes: UnsafeRawBufferPointer
        var header: RecordBatchHeader
    }

    /// Bytes of each batch's stamped prefix (`baseOffset` … `magic`).
    static let stampedPrefixBytes = RecordBatchHeader.Layout.magic + 1

    /// Writes one validated batch at the end (see `append(batches:config:)`).
    func append(
        batch bytes: UnsafeRawBufferPointer, header: RecordBatchHeader, config: LogConfig
    )
        throws(StorageError)
    {
        try withUnsafeTemporaryAllocation(of: StampedBatch.self, capacity: 1) { (one) throws(StorageError) in
            one.initialize(repeating: StampedBatch(bytes: bytes, header: header))
            try append(batches: UnsafeBufferPointer(one), config: config)
        }
    }

    /// Writes validated batches at the end, in order, with as few `pwritev` calls as `IOV_MAX` allows:
    /// each batch is two buffers, a copy of its first 17 bytes with `baseOffset` and
    /// `partitionLeaderEpoch` patched in, then the rest of the caller's bytes (which are not modified,
    /// so no copy-on-write). Then maintains the indexes. On a failed write nothing is appended: the
    /// file is cut back to its previous size; if even that fails the error says so and the caller
    /// fails the log.
    func append(batches: UnsafeBufferPointer<StampedBatch>, config: LogConfig) throws(StorageError) {
        precondition(!isSealed, "append to sealed segment \(logPath)")
        guard !batches.isEmpty else { return }
        let prefixSize = Self.stampedPrefixBytes
        let position = size
        var expected = nextOffset
        var total = 0
        for batch in batches {
            precondition(batch.header.baseOffset >= expected, "offsets must increase in \(logPath)")
            precondition(batch.bytes.count == batch.header.sizeInBytes && batch.bytes.count > prefixSize)
            expected = batch.header.nextOffset
            total += batch.bytes.count
        }
        try withUnsafeTemporaryAllocation(byteCount: prefixSize * batches.count, alignment: 8) {
            (prefixes) throws(StorageError) in
            try withUnsafeTemporaryAllocation(of: iovec.self, capacity: 2 * batches.count) {
                (vectors) throws(StorageError) in
                for (k, batch) in batches.enumerated() {
                    let prefix = UnsafeMutableRawBufferPointer(
                        rebasing: prefixes[(k * prefixSize)..<((k + 1) * prefixSize)])
                    prefix.copyMemory(from: UnsafeRawBufferPointer(rebasing: batch.bytes[..<prefixSize]))
                    prefix.storeBytes(of: batch.header.baseOffset.bigEndian, toByteOffset: 0, as: Int64.self)
                    prefix.storeBytes(
                        of: batch.header.partitionLeaderEpoch.bigEndian,
                        toByteOffset: RecordBatchHeader.Layout.partitionLeaderEpoch, as: Int32.self)
                    vectors[2 * k] = iovec(iov_base: prefix.baseAddress, iov_len: prefixSize)
                    vectors[2 * k + 1] = iovec(
                        iov_base: UnsafeMutableRawPointer(mutating: batch.bytes.baseAddress! + prefixSize),
                        iov_len: batch.bytes.count - prefixSize)
                }
                do throws(StorageError) {
                    let written = try fileSystem.write(
                        fd, vectors: UnsafeBufferPointer(vectors), at: Int64(position), path: logPath)
                    guard written == total else {
                        throw StorageError.io(
                            operation: "pwritev (short: \(written) of \(total) bytes)", path: logPath, errno: EIO)
                    }
                } catch {
                    do throws(StorageError) {
                        try fileSystem.truncate(fd, size: Int64(position), path: logPath)
                    } catch let cutError {
                        var code = EIO
                        if case .io(_, _, let cutCode) = cutError { code = cutCode }
                        throw StorageError.io(
                            operation: "write failed (\(error)); cutting back to \(position) also failed",
                            path: logPath, errno: code)
                    }
                    throw error
                }
            }
        }
        var at = position
        for batch in batches {
            indexBatch(header: batch.header, position: at, config: config)
            at += batch.header.sizeInBytes
        }
        size = at
    }

    /// Forces the final time-index entry and trims both indexes: the segment becomes read-only.
    func seal() throws(StorageError) {
        guard !isSealed else { return }
        if maxTimestamp >= 0 { timeIndex.maybeAppend(timestamp: maxTimestamp, offset: offsetOfMaxTimestamp) }
        try offsetIndex.file.trimToValidSize()
        try timeIndex.file.trimToValidSize()
        isSealed = true
    }

    /// fdatasync of the log file.
    func syncLog() throws(StorageError) { try fileSystem.sync(fd, path: logPath) }

    /// Starts writeback of `range` of the log file, or waits for it to finish (see
    /// `FileSystem.writeback`).
    func writeback(_ range: Range<Int>, wait: Bool) throws(StorageError) {
        guard !range.isEmpty else { return }
        try fileSystem.writeback(
            fd, offset: Int64(range.lowerBound), length: Int64(range.count), wait: wait, path: logPath)
    }

    /// Writes the index pages to disk (at close, so a clean reopen can trust them).
    func flushIndexes() throws(StorageError) {
        try offsetIndex.file.flush()
        try timeIndex.file.flush()
    }

    /// Trims indexes at close without sealing the log (the last segment stays writable on reopen).
    func trimIndexesForClose() throws(StorageError) {
        if !isSealed {
            try offsetIndex.file.trimToValidSize()
            try timeIndex.file.trimToValidSize()
        }
    }

    static let deletedSuffix = ".deleted"

    /// First step of deleting a segment: renames its three files to `<name>.deleted` (recovery
    /// removes such leftovers). Readers holding slices keep their mapping and descriptor.
    func markDeleted() throws(StorageError) {
        for path in [logPath, offsetIndex.file.path, timeIndex.file.path] {
            try fileSystem.rename(path, to: path + Self.deletedSuffix)
        }
    }

    /// Second step: removes the renamed files (after `file.delete.delay.ms`).
    func removeDeletedFiles() throws(StorageError) {
        for path in [logPath, offsetIndex.file.path, timeIndex.file.path] {
            try fileSystem.remove(path + Self.deletedSuffix)
        }
    }

    /// Last-modified time of the `.log` file (retention of segments without record timestamps).
    func lastModifiedMilliseconds() -> Int64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return 0 }
        return Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000
    }

    /// Removes the three files. Readers holding slices keep their mapping and descriptor.
    func deleteFiles() throws(StorageError) {
        try fileSystem.remove(logPath)
        try offsetIndex.file.deleteFile()
        try timeIndex.file.deleteFile()
    }

    /// A view capturing the writer's current bounds, for publication to readers.
    func view() -> SegmentView {
        SegmentView(
            segment: self, size: size, indexEntries: offsetIndex.entryCount,
            timeIndexEntries: timeIndex.entryCount, nextOffset: nextOffset, maxTimestamp: maxTimestamp)
    }
}

/// An immutable reader's view of one segment: the bounds the writer had published.
struct SegmentView: Sendable {
    let segment: LogSegment
    let size: Int
    let indexEntries: Int
    let timeIndexEntries: Int
    let nextOffset: Int64
    let maxTimestamp: Int64

    var baseOffset: Int64 { segment.baseOffset }

    /// Position and header of the first batch whose last offset is ≥ `target`, nil if none here.
    func locate(_ target: Int64, map: MappedFile) throws(StorageError) -> (position: Int, header: RecordBatchHeader)? {
        var position = 0
        if let entry = segment.offsetIndex.lookup(target, count: indexEntries) {
            // An entry maps a batch's last offset to its position. Indexes are derived data and a clean
            // open checks only the last entry, so verify this one against the log before trusting it;
            // a bad entry costs a scan from the segment start, never a wrong or failed read.
            if entry.position < size, let header = try? self.header(at: entry.position, map: map),
                header.lastOffset == entry.offset
            {
                position = entry.position
            }
        }
        while position < size {
            let header = try self.header(at: position, map: map)
            if header.lastOffset >= target { return (position, header) }
            position += header.sizeInBytes
        }
        return nil
    }

    /// Header of the batch at `position`, checked for a plausible length.
    /// The header is copied out of the map first (`MappedFile.copy`), so a page that cannot be read
    /// is an I/O error naming the file and position, not a SIGBUS.
    func header(at position: Int, map: MappedFile) throws(StorageError) -> RecordBatchHeader {
        let available = size - position
        let count = min(available, RecordBatchHeader.Layout.size)
        do {
            let header = try withUnsafeTemporaryAllocation(byteCount: RecordBatchHeader.Layout.size, alignment: 8) {
                (scratch) throws(StorageError) -> Result<RecordBatchHeader, RecordsError> in
                try map.copy(position..<position + count, to: scratch.baseAddress!)
                do throws(RecordsError) {
                    return .success(try RecordBatchHeader(parsing: UnsafeRawBufferPointer(rebasing: scratch[..<count])))
                } catch {
                    return .failure(error)
                }
            }.get()
            guard header.batchLength >= RecordBatchHeader.Layout.batchLengthMin, header.sizeInBytes <= available
            else {
                throw StorageError.corruptSegment(
                    path: segment.logPath, position: position,
                    reason: "batch length \(header.batchLength) runs past the end")
            }
            return header
        } catch let error as StorageError {
            throw error
        } catch {
            throw .corruptSegment(path: segment.logPath, position: position, reason: "\(error)")
        }
    }
}

import StrataRecords

/// Everything the dumpers report, in output order. Sinks (`TextSink`, `JSONSink`) turn events into
/// lines; the dumpers never format output themselves.
enum DumpEvent {
    /// A file is about to be dumped (`kind`: log, index, timeindex) with its segment base offset.
    case fileStart(file: String, kind: FileKind, baseOffset: Int64, size: Int)
    case batch(BatchLine)
    case record(RecordLine)
    case indexEntry(file: String, entry: Int, offset: Int64, position: Int)
    case timeIndexEntry(file: String, entry: Int, timestamp: Int64, offset: Int64)
    case problem(Problem)
    /// Something worth knowing that is not a problem (a `--max-bytes` stop, preallocated entries).
    case note(file: String, message: String)
    case logSummary(file: String, LogTotals)
    case indexSummary(file: String, kind: FileKind, entries: Int, problems: Int)
    /// The last event: totals over every file.
    case total(files: Int, LogTotals)
}

/// The three segment file kinds.
enum FileKind: String, Sendable {
    case log
    case index
    case timeindex

    /// The file-name suffix (`.log`, `.index`, `.timeindex`).
    var suffix: String { "." + rawValue }
}

/// One batch as `kafka-dump-log` prints it.
struct BatchLine {
    var file: String
    var position: Int
    var header: RecordBatchHeader
    /// `baseOffset + lastOffsetDelta` (computed without trapping; see `LogDump`).
    var lastOffset: Int64
    var isValid: Bool
}

/// One record as `kafka-dump-log --deep-iteration` prints it; `key`/`payload` only with `--print-data`.
struct RecordLine {
    var file: String
    var offset: Int64
    var timestampType: TimestampType
    var timestamp: Int64
    var keySize: Int
    var valueSize: Int
    var sequence: Int32
    var headerKeys: [String]
    /// Header values in order, with `--print-data` only.
    var headerValues: [RenderedData]?
    var key: RenderedData?
    var payload: RenderedData?
    /// For records of control batches: `(marker, coordinatorEpoch)`, e.g. `("COMMIT", 0)`.
    var controlMarker: (type: String, coordinatorEpoch: Int32?)?
}

/// Running totals of `.log` files (per file, and over everything for the final summary).
struct LogTotals: Sendable, Equatable {
    var batches = 0
    /// Batches whose CRC did not match (their records are not counted below).
    var invalidBatches = 0
    var records: Int64 = 0
    /// Bytes of whole batches read.
    var bytes = 0
    var firstOffset: Int64?
    var lastOffset: Int64?
    var minTimestamp: Int64?
    var maxTimestamp: Int64?
    /// Codec names seen, in first-seen order.
    var codecs: [String] = []
    var problems = 0
    /// Bytes left unread after reading stopped at a problem.
    var unreadBytes = 0

    /// Adds another file's totals.
    mutating func add(_ other: LogTotals) {
        batches += other.batches
        invalidBatches += other.invalidBatches
        records &+= other.records
        bytes += other.bytes
        if let first = other.firstOffset { firstOffset = min(firstOffset ?? first, first) }
        if let last = other.lastOffset { lastOffset = max(lastOffset ?? last, last) }
        if let low = other.minTimestamp { minTimestamp = min(minTimestamp ?? low, low) }
        if let high = other.maxTimestamp { maxTimestamp = max(maxTimestamp ?? high, high) }
        for codec in other.codecs where !codecs.contains(codec) { codecs.append(codec) }
        problems += other.problems
        unreadBytes += other.unreadBytes
    }
}

/// Where events go (text or JSON lines on stdout). Reference type: one sink serves the whole run.
protocol DumpSink: AnyObject {
    func emit(_ event: DumpEvent)
    /// Writes out anything buffered.
    func finish()
}

/// The dumpers' handle on the sink for one file: counts the file's problems, drops per-entry lines
/// under `--verify`, and drops everything when muted (a `.log` read only to check its index).
final class EventReporter {
    private let sink: DumpSink?
    private let verify: Bool
    let file: String
    private(set) var problems = 0

    init(sink: DumpSink?, verify: Bool, file: String) {
        self.sink = sink
        self.verify = verify
        self.file = file
    }

    func emit(_ event: DumpEvent) {
        switch event {
        case .problem: problems += 1
        case .batch, .record, .indexEntry, .timeIndexEntry: if verify { return }
        default: break
        }
        sink?.emit(event)
    }

    /// Reports a problem in this reporter's file.
    func problem(_ position: Int, _ offset: Int64?, _ kind: Problem.Kind, _ message: String, unread: Int? = nil) {
        emit(
            .problem(
                Problem(
                    file: file, position: position, offset: offset, kind: kind, message: message,
                    unreadBytes: unread)))
    }

    func note(_ message: String) { emit(.note(file: file, message: message)) }
}

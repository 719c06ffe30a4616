import StrataRecords

/// `--json`: one JSON object per line, nothing else on stdout. Every object has a `type`
/// (`file`, `batch`, `record`, `index`, `timeindex`, `problem`, `note`, `summary`, `total`) and
/// fixed field names, documented in the README; fields are never removed or renamed.
final class JSONSink: DumpSink {
    private var out: OutputWriter

    init(out: OutputWriter) { self.out = out }

    func finish() { out.flush() }

    func emit(_ event: DumpEvent) {
        var object = JSONObject()
        switch event {
        case .fileStart(let file, let kind, let baseOffset, let size):
            object.add("type", "file")
            object.add("file", file)
            object.add("kind", kind.rawValue)
            object.add("baseOffset", baseOffset)
            object.add("size", size)
        case .batch(let batch):
            Self.add(batch, to: &object)
        case .record(let record):
            Self.add(record, to: &object)
        case .indexEntry(let file, let entry, let offset, let position):
            object.add("type", "index")
            object.add("file", file)
            object.add("entry", entry)
            object.add("offset", offset)
            object.add("position", position)
        case .timeIndexEntry(let file, let entry, let timestamp, let offset):
            object.add("type", "timeindex")
            object.add("file", file)
            object.add("entry", entry)
            object.add("timestamp", timestamp)
            object.add("offset", offset)
        case .problem(let problem):
            object.add("type", "problem")
            object.add("file", problem.file)
            object.add("position", problem.position)
            object.add("offset", problem.offset)
            object.add("kind", problem.kind.rawValue)
            object.add("message", problem.message)
            object.add("unreadBytes", problem.unreadBytes)
        case .note(let file, let message):
            object.add("type", "note")
            object.add("file", file)
            object.add("message", message)
        case .logSummary(let file, let totals):
            object.add("type", "summary")
            object.add("file", file)
            object.add("kind", FileKind.log.rawValue)
            Self.add(totals, to: &object)
        case .indexSummary(let file, let kind, let entries, let problems):
            object.add("type", "summary")
            object.add("file", file)
            object.add("kind", kind.rawValue)
            object.add("entries", entries)
            object.add("problems", problems)
        case .total(let files, let totals):
            object.add("type", "total")
            object.add("files", files)
            Self.add(totals, to: &object)
        }
        out.line(object.json)
    }

    private static func add(_ batch: BatchLine, to object: inout JSONObject) {
        let header = batch.header
        object.add("type", "batch")
        object.add("file", batch.file)
        object.add("position", batch.position)
        object.add("baseOffset", header.baseOffset)
        object.add("lastOffset", batch.lastOffset)
        object.add("count", header.recordCount)
        object.add("baseSequence", header.baseSequence)
        object.add("lastSequence", header.lastSequence)
        object.add("producerId", header.producerId)
        object.add("producerEpoch", header.producerEpoch)
        object.add("partitionLeaderEpoch", header.partitionLeaderEpoch)
        object.add("isTransactional", header.isTransactional)
        object.add("isControl", header.isControl)
        object.add("deleteHorizonMs", header.hasDeleteHorizon ? header.baseTimestamp : nil)
        object.add("timestampType", header.timestampType == .logAppendTime ? "LogAppendTime" : "CreateTime")
        object.add("maxTimestamp", header.maxTimestamp)
        object.add("size", header.sizeInBytes)
        object.add("magic", header.magic)
        object.add("compresscodec", codecName(header))
        object.add("crc", header.crc)
        object.add("isvalid", batch.isValid)
    }

    private static func add(_ record: RecordLine, to object: inout JSONObject) {
        object.add("type", "record")
        object.add("file", record.file)
        object.add("offset", record.offset)
        object.add("timestampType", record.timestampType == .logAppendTime ? "LogAppendTime" : "CreateTime")
        object.add("timestamp", record.timestamp)
        object.add("keySize", record.keySize)
        object.add("valueSize", record.valueSize)
        object.add("sequence", record.sequence)
        object.add("headerKeys", strings: record.headerKeys)
        if let marker = record.controlMarker {
            object.add("endTxnMarker", marker.type)
            object.add("coordinatorEpoch", marker.coordinatorEpoch)
        }
        if let values = record.headerValues {
            object.add("headerValues", json: "[" + values.map(json).joined(separator: ",") + "]")
        }
        if let key = record.key { object.add("key", json: json(key)) }
        if let payload = record.payload { object.add("payload", json: json(payload)) }
    }

    /// `null`, `{"utf8":…}`, `{"hex":…}` (either with `"omittedBytes"` when cut) or `{"decoded":…}`.
    private static func json(_ data: RenderedData) -> String {
        var object = JSONObject()
        switch data {
        case .null, .tombstone:
            return "null"
        case .json(let json):
            object.add("decoded", json: json)
        case .text(let text, let omitted):
            object.add("utf8", text)
            if omitted > 0 { object.add("omittedBytes", omitted) }
        case .hex(let digits, let omitted):
            object.add("hex", digits)
            if omitted > 0 { object.add("omittedBytes", omitted) }
        }
        return object.json
    }

    private static func add(_ totals: LogTotals, to object: inout JSONObject) {
        object.add("batches", totals.batches)
        object.add("invalidBatches", totals.invalidBatches)
        object.add("records", totals.records)
        object.add("bytes", totals.bytes)
        object.add("firstOffset", totals.firstOffset)
        object.add("lastOffset", totals.lastOffset)
        object.add("minTimestamp", totals.minTimestamp)
        object.add("maxTimestamp", totals.maxTimestamp)
        object.add("codecs", strings: totals.codecs)
        object.add("problems", totals.problems)
        object.add("unreadBytes", totals.unreadBytes)
    }
}

import StrataRecords

/// The text output: `kafka-dump-log`'s lines and field names for batches, records and index
/// entries, plus `PROBLEM`, `NOTE`, `Summary` and `Total` lines.
final class TextSink: DumpSink {
    private var out: OutputWriter

    init(out: OutputWriter) { self.out = out }

    func finish() { out.flush() }

    func emit(_ event: DumpEvent) {
        switch event {
        case .fileStart(let file, let kind, let baseOffset, _):
            out.line("Dumping \(file)")
            if kind == .log { out.line("Log starting offset: \(baseOffset)") }
        case .batch(let batch):
            out.line(Self.batchLine(batch))
        case .record(let record):
            out.line(Self.recordLine(record))
        case .indexEntry(_, _, let offset, let position):
            out.line("offset: \(offset) position: \(position)")
        case .timeIndexEntry(_, _, let timestamp, let offset):
            out.line("timestamp: \(timestamp) offset: \(offset)")
        case .problem(let problem):
            var line = "PROBLEM file: \(problem.file) position: \(problem.position)"
            if let offset = problem.offset { line += " offset: \(offset)" }
            line += " kind: \(problem.kind.rawValue)"
            if let unread = problem.unreadBytes { line += " unreadBytes: \(unread)" }
            out.line(line + " message: \(problem.message)")
        case .note(let file, let message):
            out.line("NOTE file: \(file) message: \(message)")
        case .logSummary(let file, let totals):
            out.line("Summary file: \(file) " + Self.totalsText(totals))
        case .indexSummary(let file, _, let entries, let problems):
            out.line("Summary file: \(file) entries: \(entries) problems: \(problems)")
        case .total(let files, let totals):
            out.line("Total files: \(files) " + Self.totalsText(totals))
        }
    }

    static func batchLine(_ batch: BatchLine) -> String {
        let header = batch.header
        let horizon = header.hasDeleteHorizon ? "OptionalLong[\(header.baseTimestamp)]" : "OptionalLong.empty"
        let timestampName = header.timestampType == .logAppendTime ? "LogAppendTime" : "CreateTime"
        return "baseOffset: \(header.baseOffset) lastOffset: \(batch.lastOffset) count: \(header.recordCount) "
            + "baseSequence: \(header.baseSequence) lastSequence: \(header.lastSequence) "
            + "producerId: \(header.producerId) producerEpoch: \(header.producerEpoch) "
            + "partitionLeaderEpoch: \(header.partitionLeaderEpoch) isTransactional: \(header.isTransactional) "
            + "isControl: \(header.isControl) deleteHorizonMs: \(horizon) position: \(batch.position) "
            + "\(timestampName): \(header.maxTimestamp) size: \(header.sizeInBytes) magic: \(header.magic) "
            + "compresscodec: \(codecName(header)) crc: \(header.crc) isvalid: \(batch.isValid)"
    }

    static func recordLine(_ record: RecordLine) -> String {
        let timestampName = record.timestampType == .logAppendTime ? "LogAppendTime" : "CreateTime"
        var line =
            "| offset: \(record.offset) \(timestampName): \(record.timestamp) keySize: \(record.keySize) "
            + "valueSize: \(record.valueSize) sequence: \(record.sequence) "
            + "headerKeys: [\(record.headerKeys.joined(separator: ","))]"
        if let marker = record.controlMarker {
            line += " endTxnMarker: \(marker.type)"
            if let epoch = marker.coordinatorEpoch { line += " coordinatorEpoch: \(epoch)" }
        }
        if let values = record.headerValues, !values.isEmpty {
            let pairs = zip(record.headerKeys, values).map { "\($0)=\($1.textForm)" }
            line += " headers: [\(pairs.joined(separator: ","))]"
        }
        if let key = record.key { line += " key: \(key.textForm)" }
        if let payload = record.payload { line += " payload: \(payload.textForm)" }
        return line
    }

    static func totalsText(_ totals: LogTotals) -> String {
        var text =
            "batches: \(totals.batches) invalidBatches: \(totals.invalidBatches) records: \(totals.records) "
            + "bytes: \(totals.bytes) offsets: "
        if let first = totals.firstOffset, let last = totals.lastOffset {
            text += "\(first)-\(last)"
        } else {
            text += "none"
        }
        text += " timestamps: "
        if let low = totals.minTimestamp, let high = totals.maxTimestamp {
            text += "\(low)-\(high)"
        } else {
            text += "none"
        }
        text += " codecs: \(totals.codecs.isEmpty ? "none" : totals.codecs.joined(separator: ","))"
        return text + " problems: \(totals.problems) unreadBytes: \(totals.unreadBytes)"
    }
}

/// Kafka's name for the batch's codec; `unknown(N)` for the undefined values 5–7.
func codecName(_ header: RecordBatchHeader) -> String {
    header.compression?.name ?? "unknown(\(header.compressionCodecRaw))"
}

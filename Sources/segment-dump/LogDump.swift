import NIOCore
import StrataRecords

/// What the user asked to see and check.
struct DumpOptions: Sendable {
    /// Decode and show every record (`--records`; implied by `--print-data`).
    var records = false
    /// Show keys, values and header values (`--print-data`; implied by `--offsets-decoder`).
    var printData = false
    /// Show only problems, notes and summaries (`--verify`).
    var verify = false
    var json = false
    /// Stop reading each `.log` after this many bytes of batches (`--max-bytes`).
    var maxBytes: Int?
    /// Decode `__consumer_offsets` keys and values (`--offsets-decoder`).
    var offsetsDecoder = false
    var stdoutIsTerminal = false
}

/// What reading one `.log` learned, for the index checks and the next segment of a directory.
struct LogFacts: Sendable {
    var size: Int
    /// End of the last whole batch read: the framing is sound below this position.
    var readEnd: Int
    /// Where reading stopped at a framing problem (torn tail, impossible length), if it did.
    var damagedAt: Int?
    /// Reading stopped at `--max-bytes` (bytes after `readEnd` were not looked at).
    var stoppedByLimit = false
    /// The offset after the last batch whose CRC matched, nil when there was none.
    var nextOffset: Int64?
}

/// Reads a `.log` batch by batch through its memory map, reporting each batch (and with `--records`
/// each record) and every problem: framing (torn tail, impossible length; reading stops there and the
/// unread bytes are counted), content (magic, CRC, counts; reading continues with the next batch,
/// whose position the intact length field gives) and offsets (below the segment base, not
/// increasing, not fitting a 32-bit relative offset). Never traps on any bytes: every length is
/// checked against the file before use and offset arithmetic is overflow-checked.
struct LogDump {
    let input: MappedInput
    /// The file as shown to the user.
    let file: String
    /// Base offset from the file name.
    let baseOffset: Int64
    let options: DumpOptions

    typealias Layout = RecordBatchHeader.Layout

    /// Dumps the log through `reporter`; returns the facts and totals.
    func run(_ reporter: EventReporter) -> (LogFacts, LogTotals) {
        var totals = LogTotals()
        var facts = LogFacts(size: input.size, readEnd: 0)
        var progress = Progress(file: file, total: input.size, stdoutIsTerminal: options.stdoutIsTerminal)
        var position = 0
        let size = input.size
        while position < size {
            if let limit = options.maxBytes, position >= limit {
                facts.stoppedByLimit = true
                reporter.note(
                    "stopped after \(position) bytes (--max-bytes \(limit)); "
                        + "\(size - position) bytes not read")
                break
            }
            let bytes = input.bytes(from: position)
            guard let (peekedBase, length) = RecordBatchHeader.peekOffsetAndSize(bytes) else {
                reporter.problem(
                    position, nil, .truncatedBatch,
                    "only \(bytes.count) bytes left: a batch needs at "
                        + "least \(Layout.size)", unread: bytes.count)
                facts.damagedAt = position
                break
            }
            guard length >= Layout.batchLengthMin else {
                reporter.problem(
                    position, peekedBase, .invalidBatchLength,
                    "batchLength \(length) is below the minimum \(Layout.batchLengthMin)",
                    unread: bytes.count)
                facts.damagedAt = position
                break
            }
            let batchSize = Int(length) + Layout.logOverhead
            guard batchSize <= bytes.count else {
                reporter.problem(
                    position, peekedBase, .truncatedBatch,
                    "batch declares \(batchSize) bytes but only \(bytes.count) remain",
                    unread: bytes.count)
                facts.damagedAt = position
                break
            }
            let batchBytes = UnsafeRawBufferPointer(rebasing: bytes[..<batchSize])
            dumpBatch(batchBytes, at: position, totals: &totals, facts: &facts, reporter: reporter)
            totals.batches += 1
            totals.bytes += batchSize
            position += batchSize
            facts.readEnd = position
            input.release(below: position)
            progress.update(position)
        }
        progress.finish()
        if position < size && !facts.stoppedByLimit { totals.unreadBytes = size - position }
        totals.problems = reporter.problems
        return (facts, totals)
    }

    /// One whole batch (its declared length fits the file).
    private func dumpBatch(
        _ bytes: UnsafeRawBufferPointer, at position: Int, totals: inout LogTotals,
        facts: inout LogFacts, reporter: EventReporter
    ) {
        let header: RecordBatchHeader
        do {
            header = try RecordBatchHeader(parsing: bytes)
        } catch {
            let magic = Int8(bitPattern: bytes[Layout.magic])
            let base = RecordBatchHeader.peekOffsetAndSize(bytes)?.baseOffset
            reporter.problem(
                position, base, .unsupportedMagic,
                "magic \(magic) (only RecordBatch v2, magic 2, is "
                    + "supported); skipping \(bytes.count) bytes by the batch length")
            return
        }
        let (lastOffset, overflow) = header.baseOffset.addingReportingOverflow(Int64(header.lastOffsetDelta))
        let computed = RecordBatchHeader.computeCRC(batchBytes: bytes)
        let isValid = computed == header.crc
        reporter.emit(
            .batch(
                BatchLine(
                    file: file, position: position, header: header, lastOffset: lastOffset,
                    isValid: isValid)))
        guard isValid else {
            reporter.problem(
                position, header.baseOffset, .crcMismatch,
                "CRC-32C mismatch: stored "
                    + "0x\(hex32(header.crc)), computed 0x\(hex32(computed)) over bytes "
                    + "\(position + Layout.attributes)..<\(position + bytes.count); records not decoded")
            totals.invalidBatches += 1
            return
        }
        do {
            try header.checkBounds(batchBytesMax: Int.max)
        } catch {
            reporter.problem(position, header.baseOffset, .invalidRecordCount, "\(error)")
        }
        var offsetsUsable = !overflow
        if overflow {
            reporter.problem(
                position, header.baseOffset, .offsetOverflow,
                "baseOffset \(header.baseOffset) + lastOffsetDelta \(header.lastOffsetDelta) overflows")
        } else if lastOffset - baseOffset > Int64(UInt32.max) {
            reporter.problem(
                position, header.baseOffset, .offsetOverflow,
                "lastOffset \(lastOffset) does not fit "
                    + "a 32-bit offset relative to the segment base \(baseOffset)")
        }
        if header.baseOffset < baseOffset {
            reporter.problem(
                position, header.baseOffset, .offsetBelowSegmentBase,
                "baseOffset \(header.baseOffset) is below the segment's base offset \(baseOffset)")
            offsetsUsable = false
        } else if let expected = facts.nextOffset, header.baseOffset < expected {
            reporter.problem(
                position, header.baseOffset, .nonMonotonicOffsets,
                "baseOffset \(header.baseOffset) is below the previous batch's next offset \(expected)")
            offsetsUsable = false
        }
        add(header, lastOffset: lastOffset, offsetsUsable: offsetsUsable, to: &totals, facts: &facts)
        if options.records {
            RecordDump(file: file, options: options)
                .dump(bytes, header: header, lastOffset: lastOffset, position: position, reporter: reporter)
        }
    }

    /// Adds a batch whose CRC matched to the totals.
    private func add(
        _ header: RecordBatchHeader, lastOffset: Int64, offsetsUsable: Bool,
        to totals: inout LogTotals, facts: inout LogFacts
    ) {
        totals.records &+= Int64(max(0, header.recordCount))
        let codec = header.compression?.name ?? "unknown(\(header.compressionCodecRaw))"
        if !totals.codecs.contains(codec) { totals.codecs.append(codec) }
        let firstTimestamp =
            header.timestampType == .logAppendTime || header.hasDeleteHorizon
            ? header.maxTimestamp : header.baseTimestamp
        if firstTimestamp >= 0 { totals.minTimestamp = min(totals.minTimestamp ?? firstTimestamp, firstTimestamp) }
        if header.maxTimestamp >= 0 {
            totals.maxTimestamp = max(totals.maxTimestamp ?? header.maxTimestamp, header.maxTimestamp)
        }
        guard offsetsUsable else { return }
        if totals.firstOffset == nil { totals.firstOffset = header.baseOffset }
        totals.lastOffset = lastOffset
        if lastOffset < Int64.max { facts.nextOffset = lastOffset + 1 }
    }
}

/// `value` as 8 lowercase hex digits.
func hex32(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 8 - digits.count) + digits
}

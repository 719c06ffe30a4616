import NIOCore
import StrataRecords

/// `--records`: decodes one batch's records (decompressing LZ4) and reports a line per record;
/// with `--print-data` also keys, values and header values. A record that cannot be decoded, or one
/// whose offset lies outside its batch, is a `malformedRecords` problem at the batch's position.
struct RecordDump {
    let file: String
    let options: DumpOptions

    /// Most bytes one batch may hold, or decompress to, for its records to be decoded (memory bound;
    /// also a bound against decompression bombs).
    static let decompressedBytesMax = 64 << 20

    func dump(
        _ bytes: UnsafeRawBufferPointer, header: RecordBatchHeader, lastOffset: Int64, position: Int,
        reporter: EventReporter
    ) {
        guard bytes.count <= Self.decompressedBytesMax else {
            reporter.note(
                "records of the batch at position \(position) not decoded: its \(bytes.count) bytes "
                    + "exceed \(Self.decompressedBytesMax)")
            return
        }
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        var index = 0
        do throws(RecordsError) {
            let batch = try RecordBatch(buffer: buffer)
            var records = try batch.makeRecordIterator(decompressedBytesMax: Self.decompressedBytesMax)
            while let record = try records.next() {
                if record.offset > lastOffset {
                    reporter.problem(
                        position, header.baseOffset, .malformedRecords,
                        "record #\(index) has offset "
                            + "\(record.offset), past the batch's lastOffset \(lastOffset)")
                }
                reporter.emit(.record(line(record, header: header)))
                index += 1
            }
        } catch {
            reporter.problem(
                position, header.baseOffset, .malformedRecords,
                "cannot decode the records after \(index) of \(header.recordCount): \(error)")
        }
    }

    private func line(_ record: Record, header: RecordBatchHeader) -> RecordLine {
        let offsetDelta = record.offset &- header.baseOffset
        let sequence =
            header.baseSequence < 0
            ? -1 : Int32(truncatingIfNeeded: (Int64(header.baseSequence) &+ offsetDelta) % (Int64(Int32.max) + 1))
        var line = RecordLine(
            file: file, offset: record.offset, timestampType: header.timestampType,
            timestamp: header.timestampType == .logAppendTime ? header.maxTimestamp : record.timestamp,
            keySize: record.key?.readableBytes ?? -1, valueSize: record.value?.readableBytes ?? -1,
            sequence: sequence, headerKeys: record.headers.map(\.key))
        if header.isControl { line.controlMarker = Self.controlMarker(key: record.key, value: record.value) }
        if options.printData {
            line.headerValues = record.headers.map { RenderedData($0.value) }
            if options.offsetsDecoder {
                let decoded = OffsetsDecoder.render(key: record.key, value: record.value)
                line.key = decoded.key
                line.payload = decoded.payload
            } else {
                line.key = RenderedData(record.key)
                line.payload = RenderedData(record.value)
            }
        }
        return line
    }

    /// A control record's marker: key `version i16, type i16` (0 ABORT, 1 COMMIT), value
    /// `version i16, coordinator_epoch i32`. nil when the key is not a control key.
    static func controlMarker(key: ByteBuffer?, value: ByteBuffer?) -> (type: String, coordinatorEpoch: Int32?)? {
        guard let key, key.readableBytes >= 4, let type = key.getInteger(at: key.readerIndex + 2, as: Int16.self)
        else { return nil }
        let name: String
        switch type {
        case 0: name = "ABORT"
        case 1: name = "COMMIT"
        default: name = "type\(type)"
        }
        var epoch: Int32?
        if let value, value.readableBytes >= 6 { epoch = value.getInteger(at: value.readerIndex + 2, as: Int32.self) }
        return (name, epoch)
    }
}

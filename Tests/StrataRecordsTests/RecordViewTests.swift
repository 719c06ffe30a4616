import NIOCore
import StrataRecords
import Testing

/// `bytes.withUnsafeBytes` keeping `body`'s typed error (Array's version rethrows untyped).
func withRawBytes<T>(
    _ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(RecordsError) -> T
) throws(RecordsError)
    -> T
{
    try bytes.withUnsafeBytes { raw in Result { () throws(RecordsError) in try body(raw) } }.get()
}

/// One record in comparable form, from either decoding path.
private struct Decoded: Equatable, CustomStringConvertible {
    var offset: Int64
    var timestamp: Int64
    var attributes: Int8
    var key: [UInt8]?
    var value: [UInt8]?
    var headerKeys: [[UInt8]]
    var headerValues: [[UInt8]?]

    init(_ record: Record) {
        offset = record.offset
        timestamp = record.timestamp
        attributes = record.attributes
        key = record.key?.array
        value = record.value?.array
        let headers = Array(record.headers)
        headerKeys = headers.map { Array($0.key.utf8) }
        headerValues = headers.map { $0.value?.array }
    }

    init(_ view: borrowing RecordView) {
        offset = view.offset
        timestamp = view.timestamp
        attributes = view.attributes
        key = view.key.map { Array($0) }
        value = view.value.map { Array($0) }
        var keys: [[UInt8]] = []
        var values: [[UInt8]?] = []
        view.forEachHeader { key, value in
            // As `Record.headers` shows it: a header key is a UTF-8 string, so bytes that are not valid
            // UTF-8 (a damaged batch) read as U+FFFD there; the view hands out the raw bytes.
            keys.append(Array(String(decoding: Array(key), as: UTF8.self).utf8))
            values.append(value.map { Array($0) })
        }
        #expect(keys.count == view.headerCount)
        headerKeys = keys
        headerValues = values
    }

    var description: String {
        "offset \(offset) ts \(timestamp) key \(key?.count ?? -1) value \(value?.count ?? -1) "
            + "headers \(headerKeys.count)"
    }
}

/// The records `makeRecordIterator` yields and the error that stopped it.
private func iterated(_ batch: RecordBatch, decompressedBytesMax: Int = 64 << 20) -> ([Decoded], RecordsError?) {
    var records: [Decoded] = []
    do {
        var iterator = try batch.makeRecordIterator(decompressedBytesMax: decompressedBytesMax)
        while let record = try iterator.next() { records.append(Decoded(record)) }
        return (records, nil)
    } catch {
        return (records, error)
    }
}

/// The records `forEachRecord` visits and the error it threw.
private func visited(_ batch: RecordBatch, decompressedBytesMax: Int = 64 << 20) -> ([Decoded], RecordsError?) {
    var records: [Decoded] = []
    let error = thrownError { () throws(RecordsError) in
        try batch.forEachRecord(decompressedBytesMax: decompressedBytesMax) { records.append(Decoded($0)) }
    }
    return (records, error)
}

/// A random batch: 1–200 records with null, empty and long keys and values, headers (with null values),
/// and timestamps around a random base; LZ4 or uncompressed.
private func randomBatch(_ rng: inout SplitMix64, compression: CompressionCodec) throws -> RecordBatch {
    func bytes(_ rng: inout SplitMix64) -> [UInt8]? {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: return nil
        case 1: return []
        case 2: return rng.bytes(Int.random(in: 64...3_000, using: &rng))
        default: return rng.bytes(Int.random(in: 1...63, using: &rng))
        }
    }
    var builder = RecordBatchBuilder(compression: compression)
    let base = Int64.random(in: 0...(1 << 41), using: &rng)
    for _ in 0..<Int.random(in: 1...200, using: &rng) {
        let headers = (0..<Int.random(in: 0...3, using: &rng)).map { h in
            RecordHeader(
                key: "header-\(h)",
                value: Bool.random(using: &rng)
                    ? nil : ByteBuffer(bytes: rng.bytes(Int.random(in: 0...40, using: &rng))))
        }
        builder.append(
            key: bytes(&rng), value: bytes(&rng), headers: headers,
            timestamp: base + Int64.random(in: -100_000...100_000, using: &rng))
    }
    var buffer = try builder.build()
    buffer.setInteger(Int64.random(in: 0...(1 << 50), using: &rng), at: buffer.readerIndex)  // a stamped base offset
    return try RecordBatch(buffer: buffer)
}

@Suite struct RecordViewTests {
    /// Seeded random batches, uncompressed and LZ4, interleaved so the reused decompression buffer
    /// sees bigger and smaller sections in turn: `forEachRecord` sees exactly the records the
    /// iterator returns (offsets, timestamps, attributes, keys, values, headers).
    @Test func forEachRecordVisitsWhatTheIteratorReturns() throws {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        var mismatches: [String] = []
        var records = 0
        for iteration in 0..<300 {
            let compression: CompressionCodec = Bool.random(using: &rng) ? .lz4 : .none
            let batch = try randomBatch(&rng, compression: compression)
            let expected = iterated(batch)
            let got = visited(batch)
            records += got.0.count
            if got.0 != expected.0 || got.1 != nil || expected.1 != nil {
                mismatches.append("iteration \(iteration) (\(compression)): \(got.0.count) vs \(expected.0.count)")
            }
        }
        #expect(mismatches.isEmpty, "seed \(seed): \(mismatches.prefix(3))")
        #expect(records > 10_000, "seed \(seed)")
    }

    /// The golden kafka-python batch through the view: keys, values and headers as written.
    @Test func goldenBatchThroughTheView() throws {
        let batch = try RecordBatch(buffer: GoldenBatch.buffer)
        let (records, error) = visited(batch)
        #expect(error == nil)
        #expect(records == iterated(batch).0)
        #expect(records.map(\.key) == [Array("k".utf8), nil])
        #expect(records.map(\.value) == [Array("hello".utf8), Array("world".utf8)])
        #expect(records.first?.headerKeys == [Array("h".utf8)])
    }

    /// `makeRecord()` copies a view into an owning record equal to the iterator's.
    @Test func makeRecordCopiesEverything() throws {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        for compression in [CompressionCodec.none, .lz4] {
            let batch = try randomBatch(&rng, compression: compression)
            var copies: [Record] = []
            try batch.forEachRecord { copies.append($0.makeRecord()) }
            // Decode another LZ4 batch so the reused buffer is overwritten before the copies are read.
            _ = visited(try randomBatch(&rng, compression: .lz4))
            #expect(copies.map(Decoded.init) == iterated(batch).0, "seed \(seed), \(compression)")
        }
    }

    /// Raw batch bytes followed by other bytes (as in a mapped segment): only the first batch is read.
    @Test func staticForEachRecordReadsOneBatchFromLongerBytes() throws {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        for compression in [CompressionCodec.none, .lz4] {
            let batch = try randomBatch(&rng, compression: compression)
            let bytes = batch.buffer.array + rng.bytes(500)
            var records: [Decoded] = []
            try withRawBytes(bytes) { (raw) throws(RecordsError) in
                try RecordBatch.forEachRecord(batchBytes: raw) { records.append(Decoded($0)) }
            }
            #expect(records == iterated(batch).0, "seed \(seed), \(compression)")
            let cut = Array(bytes.prefix(batch.sizeInBytes - 1))
            let error = thrownError { () throws(RecordsError) in
                try withRawBytes(cut) { (raw) throws(RecordsError) in
                    try RecordBatch.forEachRecord(batchBytes: raw) { _ in }
                }
            }
            #expect(error != nil, "a cut batch must throw")
        }
    }

    /// Corrupt and over-limit LZ4 batches fail as the iterator fails, with nothing visited.
    @Test func lz4FailuresMatchTheIterator() throws {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        for iteration in 0..<100 {
            let batch = try randomBatch(&rng, compression: .lz4)
            var bytes = batch.buffer.array
            let limit: Int
            if Bool.random(using: &rng) {
                let at = Int.random(in: RecordBatchHeader.Layout.size..<bytes.count, using: &rng)
                bytes[at] ^= UInt8.random(in: 1...255, using: &rng)
                limit = 64 << 20
            } else {
                limit = Int.random(in: 0...10_000, using: &rng)
            }
            let damaged = try RecordBatch(buffer: ByteBuffer(bytes: bytes))
            let expected = iterated(damaged, decompressedBytesMax: limit)
            let got = visited(damaged, decompressedBytesMax: limit)
            // liblz4 may notice corruption at a different input byte with a different output room, so
            // LZ4 errors match by kind; anything else must match exactly.
            let sameError = got.1 == expected.1 || (isLZ4Error(got.1) && isLZ4Error(expected.1))
            #expect(got.0 == expected.0 && sameError, "seed \(seed) iteration \(iteration): \(got.1) vs \(expected.1)")
        }
        // A frame that does not fit the limit must leave the pooled buffers usable.
        let batch = try randomBatch(&rng, compression: .lz4)
        #expect(visited(batch).0 == iterated(batch).0, "seed \(seed)")
    }

    @Test func unsupportedCompressionThrows() throws {
        var bytes = handMadeBatch(records: [], recordCount: 0, attributes: 4)  // zstd
        refreshCRC(&bytes)
        let batch = try RecordBatch(buffer: ByteBuffer(bytes: bytes))
        #expect(visited(batch).1 == .unsupportedCompression(codec: 4))
    }
}

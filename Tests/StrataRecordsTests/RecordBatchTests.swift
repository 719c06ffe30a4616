import NIOCore
import StrataRecords
import Testing

/// Error from wrapping `bytes` as a batch and validating it (nil when both succeed).
private func validationError(_ bytes: [UInt8], batchBytesMax: Int = RecordBatch.batchBytesMaxDefault) -> RecordsError? {
    thrownError { () throws(RecordsError) in
        try RecordBatch(buffer: ByteBuffer(bytes: bytes)).validate(batchBytesMax: batchBytesMax)
    }
}

/// Error from the raw-bytes validator (the one storage runs over mapped segments).
private func rawValidationError(
    _ bytes: [UInt8], batchBytesMax: Int = RecordBatch.batchBytesMaxDefault
) -> RecordsError? {
    bytes.withUnsafeBytes { raw in
        thrownError { () throws(RecordsError) in try RecordBatch.validate(bytes: raw, batchBytesMax: batchBytesMax) }
    }
}

/// Error from splitting the first batch off `bytes`.
private func nextError(_ bytes: [UInt8], batchBytesMax: Int = RecordBatch.batchBytesMaxDefault) -> RecordsError? {
    var buffer = ByteBuffer(bytes: bytes)
    return thrownError { () throws(RecordsError) in try RecordBatch.next(from: &buffer, batchBytesMax: batchBytesMax) }
}

private func crcOfCoveredRange(_ bytes: [UInt8]) -> UInt32 {
    CRC32C.checksum(Array(bytes[Layout.attributes...]))
}

/// A small uncompressed and a small LZ4 batch, plus the golden one: a stream of three batches.
private func threeBatchStream() throws -> (stream: [UInt8], sizes: [Int], counts: [Int]) {
    var plain = RecordBatchBuilder()
    for i in 0..<3 {
        plain.append(key: [UInt8(i)], value: Array(repeating: UInt8(i), count: 40), timestamp: 10 + Int64(i))
    }
    var compressed = RecordBatchBuilder(compression: .lz4)
    for i in 0..<5 { compressed.append(key: nil, value: Array(repeating: 7, count: 200 + i), timestamp: 20) }
    let batches = [GoldenBatch.bytes, try plain.build().array, try compressed.build().array]
    return (batches.flatMap { $0 }, batches.map(\.count), [2, 3, 5])
}

@Suite struct RecordBatchTests {
    // MARK: validate on good batches

    @Test(arguments: [CompressionCodec.none, .lz4])
    func validateAcceptsBuiltBatches(codec: CompressionCodec) throws {
        var builder = RecordBatchBuilder(compression: codec, producerId: 9, producerEpoch: 1, baseSequence: 0)
        for i in 0..<20 {
            builder.append(
                key: Array("key-\(i)".utf8), value: Array(repeating: 0x41, count: i * 10), timestamp: 1_000 + Int64(i))
        }
        let batch = try RecordBatch(buffer: try builder.build())
        let header = try batch.validate()
        #expect(header == (try batch.header()))
        #expect(header.compression == codec)
        try header.checkProducedShape()
        #expect(try batch.records().count == 20)
    }

    @Test func rawValidatorAcceptsBytesExtendingPastTheBatch() {
        #expect(rawValidationError(GoldenBatch.bytes + [0xDE, 0xAD, 0xBE, 0xEF]) == nil)
    }

    @Test func batchBytesMaxIsInclusive() {
        #expect(validationError(GoldenBatch.bytes, batchBytesMax: 90) == nil)
        #expect(validationError(GoldenBatch.bytes, batchBytesMax: 89) == .invalidBatchLength(length: 78, limit: 77))
    }

    // MARK: corruption → typed errors

    @Test func flippedRecordByteIsCrcMismatchWithBaseOffset() throws {
        for baseOffset: Int64 in [0, 987_654_321] {
            var stamped = GoldenBatch.bytes
            patch(&stamped, at: Layout.baseOffset, baseOffset)
            for position in Layout.size..<stamped.count {
                for bit in 0..<8 {
                    var bytes = stamped
                    bytes[position] ^= 1 << bit
                    let expected = RecordsError.crcMismatch(
                        stored: GoldenBatch.crc, computed: crcOfCoveredRange(bytes), baseOffset: baseOffset)
                    #expect(validationError(bytes) == expected, "byte \(position) bit \(bit)")
                    #expect(rawValidationError(bytes) == expected, "byte \(position) bit \(bit)")
                }
            }
        }
    }

    /// Header fields inside the CRC range that `checkBounds` does not look at: a flip is only caught
    /// by the CRC. (lastOffsetDelta and recordCount are covered by the count tests.)
    @Test func flippedHeaderByteInCrcRangeIsCrcMismatch() {
        let positions = Array(Layout.attributes..<Layout.lastOffsetDelta)
            + Array(Layout.baseTimestamp..<Layout.recordCount)
        for position in positions {
            for bit in 0..<8 {
                var bytes = GoldenBatch.bytes
                bytes[position] ^= 1 << bit
                let expected = RecordsError.crcMismatch(
                    stored: GoldenBatch.crc, computed: crcOfCoveredRange(bytes), baseOffset: 0)
                #expect(validationError(bytes) == expected, "byte \(position) bit \(bit)")
            }
        }
    }

    @Test func flippedStoredCrcIsCrcMismatch() {
        for position in Layout.crc..<Layout.attributes {
            var bytes = GoldenBatch.bytes
            bytes[position] ^= 0x10
            let stored = bytes[Layout.crc..<Layout.attributes].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(validationError(bytes) == .crcMismatch(stored: stored, computed: GoldenBatch.crc, baseOffset: 0))
        }
    }

    @Test func baseOffsetAndEpochAreOutsideTheCrc() {
        var bytes = GoldenBatch.bytes
        let outside = Array(Layout.baseOffset..<Layout.batchLength) + Array(Layout.partitionLeaderEpoch..<Layout.magic)
        for position in outside {
            bytes[position] = 0x5A
        }
        #expect(validationError(bytes) == nil)
    }

    @Test(arguments: [Int8(0), 1, 3, -1, 127])
    func wrongMagicIsUnsupportedMagic(magic: Int8) {
        var bytes = GoldenBatch.bytes
        bytes[Layout.magic] = UInt8(bitPattern: magic)
        #expect(validationError(bytes) == .unsupportedMagic(magic))
        #expect(rawValidationError(bytes) == .unsupportedMagic(magic))
        #expect(nextError(bytes) == .unsupportedMagic(magic))
        let parse = bytes.withUnsafeBytes { raw in
            thrownError { () throws(RecordsError) in try RecordBatchHeader(parsing: raw) }
        }
        #expect(parse == .unsupportedMagic(magic))
    }

    @Test(arguments: [Int32(48), 12, 0, -1, Int32.min])
    func batchLengthBelowHeaderIsInvalidBatchLength(length: Int32) {
        var bytes = GoldenBatch.bytes
        patch(&bytes, at: Layout.batchLength, length)
        let expected = RecordsError.invalidBatchLength(
            length: Int64(length), limit: RecordBatch.batchBytesMaxDefault - 12)
        #expect(rawValidationError(bytes) == expected)
        #expect(nextError(bytes) == expected)
    }

    @Test(arguments: [Int32(1_048_589), 100_000_000, Int32.max])
    func batchLengthAboveLimitIsInvalidBatchLength(length: Int32) {
        var bytes = GoldenBatch.bytes
        patch(&bytes, at: Layout.batchLength, length)
        let expected = RecordsError.invalidBatchLength(
            length: Int64(length), limit: RecordBatch.batchBytesMaxDefault - 12)
        #expect(rawValidationError(bytes) == expected)
        #expect(nextError(bytes) == expected)
    }

    @Test func batchLengthPastBufferEndIsTruncated() {
        var bytes = GoldenBatch.bytes
        patch(&bytes, at: Layout.batchLength, Int32(100))
        #expect(rawValidationError(bytes) == .truncated(field: "batch", position: 0, needed: 112, available: 90))
        #expect(nextError(bytes) == .truncated(field: "batch", position: 0, needed: 112, available: 90))
        #expect(validationError(bytes) == .truncated(field: "batch", position: 0, needed: 112, available: 90))
    }

    @Test func everyTruncatedPrefixIsTruncated() {
        for length in 0..<GoldenBatch.bytes.count {
            let prefix = Array(GoldenBatch.bytes[..<length])
            let expected: RecordsError = length < Layout.size
                ? .truncated(field: "batch header", position: 0, needed: Layout.size, available: length)
                : .truncated(field: "batch", position: 0, needed: 90, available: length)
            #expect(rawValidationError(prefix) == expected, "prefix \(length)")
            #expect(validationError(prefix) == expected, "prefix \(length)")
        }
    }

    @Test func wrappingMoreThanOneBatchIsRejected() {
        let error = thrownError { () throws(RecordsError) in
            try RecordBatch(buffer: ByteBuffer(bytes: GoldenBatch.bytes + [0]))
        }
        #expect(error == .truncated(field: "batch", position: 0, needed: 90, available: 91))
    }

    // MARK: record counts

    @Test func recordCountAboveLastOffsetDeltaPlusOneIsInvalid() {
        var bytes = GoldenBatch.bytes
        patch(&bytes, at: Layout.recordCount, Int32(3))
        refreshCRC(&bytes)
        #expect(validationError(bytes) == .invalidRecordCount(recordCount: 3, lastOffsetDelta: 1))
    }

    @Test func negativeCountsAreInvalid() {
        var negativeCount = GoldenBatch.bytes
        patch(&negativeCount, at: Layout.recordCount, Int32(-1))
        refreshCRC(&negativeCount)
        #expect(validationError(negativeCount) == .invalidRecordCount(recordCount: -1, lastOffsetDelta: 1))

        var negativeDelta = GoldenBatch.bytes
        patch(&negativeDelta, at: Layout.lastOffsetDelta, Int32(-1))
        refreshCRC(&negativeDelta)
        #expect(validationError(negativeDelta) == .invalidRecordCount(recordCount: 2, lastOffsetDelta: -1))
    }

    /// Compaction can leave offset gaps: stored batches may have lastOffsetDelta ≥ recordCount, but
    /// producers must send lastOffsetDelta + 1 == recordCount.
    @Test func compactionGapPassesValidateButNotProducedShape() throws {
        var bytes = GoldenBatch.bytes
        patch(&bytes, at: Layout.lastOffsetDelta, Int32(5))
        refreshCRC(&bytes)
        let header = try RecordBatch(buffer: ByteBuffer(bytes: bytes)).validate()
        #expect(header.lastOffset == 5)
        #expect(header.nextOffset == 6)
        let error = thrownError { () throws(RecordsError) in try header.checkProducedShape() }
        #expect(error == .invalidRecordCount(recordCount: 2, lastOffsetDelta: 5))
    }

    @Test func producedShapeRejectsMismatchedCounts() throws {
        let golden = try RecordBatch(buffer: GoldenBatch.buffer).header()
        let shapes: [(Int32, Int32)] = [(0, 0), (0, -1), (1, 1), (3, 1), (2, 0), (-5, -6), (Int32.max, Int32.max)]
        for (count, delta) in shapes {
            var header = golden
            header.recordCount = count
            header.lastOffsetDelta = delta
            let error = thrownError { () throws(RecordsError) in try header.checkProducedShape() }
            #expect(error == .invalidRecordCount(recordCount: count, lastOffsetDelta: delta), "\(count)/\(delta)")
        }
        var good = golden
        good.recordCount = Int32.max
        good.lastOffsetDelta = Int32.max - 1
        #expect(thrownError { () throws(RecordsError) in try good.checkProducedShape() } == nil)
    }

    // MARK: splitting a stream of batches

    @Test func nextSplitsConcatenatedBatches() throws {
        let (stream, sizes, counts) = try threeBatchStream()
        var buffer = ByteBuffer(bytes: stream)
        var seenSizes: [Int] = []
        var seenCounts: [Int] = []
        while let batch = try RecordBatch.next(from: &buffer) {
            try batch.validate()
            seenSizes.append(batch.sizeInBytes)
            seenCounts.append(try batch.records().count)
            #expect(buffer.readableBytes == stream.count - seenSizes.reduce(0, +))
        }
        #expect(seenSizes == sizes)
        #expect(seenCounts == counts)
        #expect(buffer.readableBytes == 0)
    }

    @Test func nextOnEmptyBufferReturnsNil() throws {
        var buffer = ByteBuffer()
        #expect(try RecordBatch.next(from: &buffer) == nil)
    }

    @Test func nextAtPartialTrailingBatchThrowsTruncatedAndKeepsTheBytes() throws {
        var buffer = ByteBuffer(bytes: GoldenBatch.bytes + GoldenBatch.bytes[..<50])
        #expect(try RecordBatch.next(from: &buffer) != nil)
        let error = thrownError { () throws(RecordsError) in try RecordBatch.next(from: &buffer) }
        #expect(error == .truncated(field: "batch", position: 0, needed: 90, available: 50))
        #expect(buffer.readableBytes == 50)

        var tiny = ByteBuffer(bytes: GoldenBatch.bytes[..<5])
        let tinyError = thrownError { () throws(RecordsError) in try RecordBatch.next(from: &tiny) }
        #expect(tinyError == .truncated(field: "batch log overhead", position: 0, needed: 12, available: 5))
        #expect(tiny.readableBytes == 5)
    }

    /// Drip feed: every prefix of a three-batch stream yields exactly the whole batches it contains,
    /// then either ends (prefix on a boundary) or reports the cut batch as truncated.
    @Test func nextOnEveryPrefixYieldsWholeBatchesThenTruncated() throws {
        let (stream, sizes, _) = try threeBatchStream()
        var boundaries = [0]
        for size in sizes { boundaries.append(boundaries.last! + size) }
        for length in 0...stream.count {
            var buffer = ByteBuffer(bytes: stream[..<length])
            var whole = 0
            var failure: RecordsError?
            while failure == nil {
                do {
                    guard try RecordBatch.next(from: &buffer) != nil else { break }
                    whole += 1
                } catch {
                    failure = error
                }
            }
            let complete = boundaries.lastIndex { $0 <= length }!
            #expect(whole == complete, "prefix \(length)")
            if boundaries.contains(length) {
                #expect(failure == nil, "prefix \(length)")
            } else {
                let cut = length - boundaries[complete]
                let expected: RecordsError = cut < Layout.logOverhead
                    ? .truncated(field: "batch log overhead", position: 0, needed: 12, available: cut)
                    : .truncated(field: "batch", position: 0, needed: sizes[complete], available: cut)
                #expect(failure == expected, "prefix \(length)")
            }
            #expect(buffer.readableBytes == length - boundaries[complete], "prefix \(length)")
        }
    }

    @Test func nextRejectsBatchOverLimit() {
        #expect(nextError(GoldenBatch.bytes, batchBytesMax: 89) == .invalidBatchLength(length: 78, limit: 77))
        #expect(nextError(GoldenBatch.bytes, batchBytesMax: 90) == nil)
    }

    // MARK: stamping

    @Test func stampChangesBaseOffsetAndEpochAndCrcStillValidates() throws {
        var batch = try RecordBatch(buffer: GoldenBatch.buffer)
        batch.stamp(baseOffset: 1_234_567, partitionLeaderEpoch: 42)
        let header = try batch.validate()
        #expect(header.baseOffset == 1_234_567)
        #expect(header.partitionLeaderEpoch == 42)
        #expect(header.crc == GoldenBatch.crc)
        #expect(header.lastOffset == 1_234_568)
        #expect(Array(batch.buffer.array[Layout.magic...]) == Array(GoldenBatch.bytes[Layout.magic...]))
        #expect(try batch.records().map(\.offset) == [1_234_567, 1_234_568])
    }

    @Test func stampPatchesRelativeToTheReaderIndex() throws {
        let prefix: [UInt8] = [1, 2, 3, 4, 5, 6, 7]
        var buffer = ByteBuffer(bytes: prefix + GoldenBatch.bytes)
        buffer.moveReaderIndex(forwardBy: prefix.count)
        var batch = try RecordBatch(buffer: buffer)
        batch.stamp(baseOffset: 77, partitionLeaderEpoch: 3)
        #expect(try batch.validate().baseOffset == 77)
        #expect(try batch.header().partitionLeaderEpoch == 3)
        var whole = batch.buffer
        #expect(whole.readerIndex == prefix.count)
        whole.moveReaderIndex(to: 0)
        #expect(whole.readBytes(length: prefix.count) == prefix)
        #expect(whole.readBytes(length: 8) == [0, 0, 0, 0, 0, 0, 0, 77])
    }

    @Test func stampDoesNotChangeOtherCopies() throws {
        let original = try RecordBatch(buffer: GoldenBatch.buffer)
        var copy = original
        copy.stamp(baseOffset: 500, partitionLeaderEpoch: 9)
        #expect(try original.header().baseOffset == 0)
        #expect(try original.header().partitionLeaderEpoch == 0)
        #expect(try copy.header().baseOffset == 500)
    }

    @Test func stampOnBatchSplitFromStreamLeavesNeighboursAlone() throws {
        let (stream, sizes, _) = try threeBatchStream()
        var buffer = ByteBuffer(bytes: stream)
        var batches: [RecordBatch] = []
        while let batch = try RecordBatch.next(from: &buffer) { batches.append(batch) }
        try #require(batches.count == 3)
        batches[1].stamp(baseOffset: 10, partitionLeaderEpoch: 1)
        #expect(try batches[0].validate().baseOffset == 0)
        #expect(try batches[1].validate().baseOffset == 10)
        #expect(try batches[2].validate().baseOffset == 0)
        #expect(batches.map(\.sizeInBytes) == sizes)
    }

    // MARK: compression attributes

    @Test(arguments: [1, 2, 4, 5, 6, 7])
    func undecodableCodecIsUnsupportedCompression(codec: Int) throws {
        var bytes = GoldenBatch.bytes
        patch(&bytes, at: Layout.attributes, Int16(codec) | 0x10)
        refreshCRC(&bytes)
        let batch = try RecordBatch(buffer: ByteBuffer(bytes: bytes))
        let header = try batch.validate()
        #expect(header.compressionCodecRaw == codec)
        #expect(header.compression == CompressionCodec(rawValue: codec))
        #expect(header.isTransactional)
        let iteratorError = thrownError { () throws(RecordsError) in try batch.makeRecordIterator() }
        #expect(iteratorError == .unsupportedCompression(codec: codec))
        #expect(thrownError { () throws(RecordsError) in try batch.records() } == .unsupportedCompression(codec: codec))
    }

    @Test func attributeBitsDecode() throws {
        let golden = try RecordBatch(buffer: GoldenBatch.buffer).header()
        var header = golden
        header.attributes = 0x08
        #expect(header.timestampType == .logAppendTime)
        #expect(!header.isTransactional && !header.isControl && !header.hasDeleteHorizon)
        header.attributes = 0x10
        #expect(header.isTransactional && header.timestampType == .createTime)
        header.attributes = 0x20
        #expect(header.isControl && !header.isTransactional)
        header.attributes = 0x40
        #expect(header.hasDeleteHorizon && !header.isControl)
        header.attributes = 0x7B
        #expect(header.compression == .lz4)
        #expect(header.timestampType == .logAppendTime && header.isTransactional)
        #expect(header.isControl && header.hasDeleteHorizon)
    }

    @Test func lastSequenceWrapsAtInt32Max() throws {
        var header = try RecordBatch(buffer: GoldenBatch.buffer).header()
        for (base, delta, expected): (Int32, Int32, Int32) in [
            (10, 4, 14), (0, 0, 0), (Int32.max, 1, 0), (Int32.max - 2, 5, 2), (Int32.max, 0, Int32.max), (-1, 7, -1),
        ] {
            header.baseSequence = base
            header.lastOffsetDelta = delta
            #expect(header.lastSequence == expected, "base \(base) delta \(delta)")
        }
    }

    // MARK: header parsing

    @Test func peekReadsOffsetAndLengthWithoutMagicCheck() {
        var bytes = GoldenBatch.bytes
        patch(&bytes, at: Layout.baseOffset, Int64(99))
        bytes[Layout.magic] = 0
        let peek = bytes.withUnsafeBytes { RecordBatchHeader.peekOffsetAndSize($0) }
        #expect(peek?.baseOffset == 99)
        #expect(peek?.batchLength == 78)
        let short = bytes[..<11].withUnsafeBytes { RecordBatchHeader.peekOffsetAndSize($0) }
        #expect(short == nil)
    }

    @Test func headerParsingNeedsSixtyOneBytes() {
        let error = GoldenBatch.bytes[..<60].withUnsafeBytes { raw in
            thrownError { () throws(RecordsError) in try RecordBatchHeader(parsing: raw) }
        }
        #expect(error == .truncated(field: "batch header", position: 0, needed: 61, available: 60))
    }

    @Test func errorDescriptionsNameTheLocation() {
        let crc = RecordsError.crcMismatch(stored: 0xB126_7DF6, computed: 0x1234, baseOffset: 42)
        #expect(crc.description.contains("baseOffset 42"))
        #expect(crc.description.contains("0xb1267df6"))
        let malformed = RecordsError.malformedRecord(index: 3, field: "keyLength", recordsPosition: 17, reason: "bad")
        #expect(malformed.description.contains("#3") && malformed.description.contains("keyLength"))
        #expect(malformed.description.contains("17"))
        #expect(RecordsError.unsupportedCompression(codec: 2).description.contains("snappy"))
        #expect(RecordsError.unsupportedCompression(codec: 6).description.contains("undefined"))
    }
}

import NIOCore
import StrataRecords
import Testing

/// The kafka-python golden batch of kafka-protocol.md §4.3: decoding it must give exactly the
/// documented fields, and the builder must reproduce it byte for byte.
@Suite struct GoldenVectorTests {
    @Test func goldenVectorHasDocumentedSizeAndCRC() {
        #expect(GoldenBatch.bytes.count == 90)
        #expect(CRC32C.checksum(Array(GoldenBatch.bytes[21...])) == GoldenBatch.crc)
        let computed = GoldenBatch.bytes.withUnsafeBytes { RecordBatchHeader.computeCRC(batchBytes: $0) }
        #expect(computed == GoldenBatch.crc)
    }

    @Test func goldenVectorDecodesHeaderFields() throws {
        let batch = try RecordBatch(buffer: GoldenBatch.buffer)
        let header = try batch.validate()
        #expect(try batch.header() == header)
        #expect(header.baseOffset == 0)
        #expect(header.batchLength == 78)
        #expect(header.partitionLeaderEpoch == 0)
        #expect(header.magic == 2)
        #expect(header.crc == GoldenBatch.crc)
        #expect(header.attributes == 0)
        #expect(header.lastOffsetDelta == 1)
        #expect(header.baseTimestamp == GoldenBatch.baseTimestamp)
        #expect(header.maxTimestamp == GoldenBatch.baseTimestamp + 5)
        #expect(header.producerId == -1)
        #expect(header.producerEpoch == -1)
        #expect(header.baseSequence == -1)
        #expect(header.recordCount == 2)
        #expect(header.sizeInBytes == 90)
        #expect(batch.sizeInBytes == 90)
        #expect(header.lastOffset == 1)
        #expect(header.nextOffset == 2)
        #expect(header.lastSequence == -1)
        #expect(header.compression == CompressionCodec.none)
        #expect(header.compressionCodecRaw == 0)
        #expect(header.timestampType == .createTime)
        #expect(!header.isTransactional)
        #expect(!header.isControl)
        #expect(!header.hasDeleteHorizon)
        try header.checkProducedShape()
    }

    @Test func goldenVectorDecodesRecords() throws {
        let records = try RecordBatch(buffer: GoldenBatch.buffer).records()
        try #require(records.count == 2)

        let first = records[0]
        #expect(first.offset == 0)
        #expect(first.timestamp == GoldenBatch.baseTimestamp)
        #expect(first.attributes == 0)
        #expect(first.key?.array == Array("k".utf8))
        #expect(first.value?.array == Array("hello".utf8))
        #expect(first.headers.count == 1)
        #expect(Array(first.headers) == [RecordHeader(key: "h", value: ByteBuffer(string: "v"))])

        let second = records[1]
        #expect(second.offset == 1)
        #expect(second.timestamp == GoldenBatch.baseTimestamp + 5)
        #expect(second.attributes == 0)
        #expect(second.key == nil)
        #expect(second.value?.array == Array("world".utf8))
        #expect(second.headers.count == 0)
        #expect(Array(second.headers).isEmpty)
    }

    @Test func goldenVectorIteratorEndsAfterRecordCount() throws {
        var iterator = try RecordBatch(buffer: GoldenBatch.buffer).makeRecordIterator()
        #expect(iterator.header.recordCount == 2)
        var yielded: [Bool] = []
        for _ in 0..<4 { yielded.append(try iterator.next() != nil) }
        #expect(yielded == [true, true, false, false])
    }

    @Test func goldenVectorReencodesByteForByte() throws {
        var builder = RecordBatchBuilder(partitionLeaderEpoch: 0)
        builder.append(
            key: ByteBuffer(string: "k"), value: ByteBuffer(string: "hello"),
            headers: [RecordHeader(key: "h", value: ByteBuffer(string: "v"))],
            timestamp: GoldenBatch.baseTimestamp)
        builder.append(
            key: nil as ByteBuffer?, value: ByteBuffer(string: "world"), timestamp: GoldenBatch.baseTimestamp + 5)
        let built = try builder.build()
        #expect(built.array == GoldenBatch.bytes)
    }

    @Test func goldenVectorReencodesFromByteArrays() throws {
        var builder = RecordBatchBuilder(partitionLeaderEpoch: 0)
        builder.append(
            key: Array("k".utf8), value: Array("hello".utf8),
            headers: [RecordHeader(key: "h", value: ByteBuffer(string: "v"))],
            timestamp: GoldenBatch.baseTimestamp)
        builder.append(key: nil as [UInt8]?, value: Array("world".utf8), timestamp: GoldenBatch.baseTimestamp + 5)
        #expect(try builder.build().array == GoldenBatch.bytes)
    }

    @Test func decodedGoldenRecordsReencodeByteForByte() throws {
        let records = try RecordBatch(buffer: GoldenBatch.buffer).records()
        var builder = RecordBatchBuilder(partitionLeaderEpoch: 0)
        for record in records {
            builder.append(
                key: record.key, value: record.value, headers: Array(record.headers), timestamp: record.timestamp)
        }
        #expect(try builder.build().array == GoldenBatch.bytes)
    }
}

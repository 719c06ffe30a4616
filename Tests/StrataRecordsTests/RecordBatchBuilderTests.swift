import NIOCore
import StrataRecords
import Testing

@Suite struct RecordBatchBuilderTests {
    @Test func headerCarriesBuilderSettings() throws {
        var builder = RecordBatchBuilder(
            producerId: 4242, producerEpoch: 3, baseSequence: 17, partitionLeaderEpoch: 9, isTransactional: true,
            timestampType: .logAppendTime)
        builder.append(key: [1] as [UInt8], value: [2] as [UInt8], timestamp: 300)
        builder.append(key: [3] as [UInt8], value: [4] as [UInt8], timestamp: 100)
        builder.append(key: [5] as [UInt8], value: [6] as [UInt8], timestamp: 200)
        let built = try builder.build()
        let header = try RecordBatch(buffer: built).validate()
        #expect(header.baseOffset == 0)
        #expect(header.batchLength == Int32(built.readableBytes - 12))
        #expect(header.partitionLeaderEpoch == 9)
        #expect(header.magic == 2)
        #expect(header.attributes == 0x08 | 0x10)
        #expect(header.timestampType == .logAppendTime)
        #expect(header.isTransactional)
        #expect(header.lastOffsetDelta == 2)
        #expect(header.recordCount == 3)
        #expect(header.baseTimestamp == 300)
        #expect(header.maxTimestamp == 300)
        #expect(header.producerId == 4242)
        #expect(header.producerEpoch == 3)
        #expect(header.baseSequence == 17)
        #expect(header.lastSequence == 19)
        try header.checkProducedShape()
    }

    @Test func maxTimestampIsTheLargestNotTheLast() throws {
        var builder = RecordBatchBuilder()
        for t: Int64 in [50, 900, 10, 899] {
            builder.append(key: nil as [UInt8]?, value: nil as [UInt8]?, timestamp: t)
        }
        let header = try RecordBatch(buffer: try builder.build()).header()
        #expect(header.baseTimestamp == 50)
        #expect(header.maxTimestamp == 900)
    }

    @Test func sizesReportedBeforeBuildMatchTheBatch() throws {
        var builder = RecordBatchBuilder()
        #expect(builder.recordCount == 0)
        #expect(builder.uncompressedRecordBytes == 0)
        builder.append(key: Array("k".utf8), value: Array("hello".utf8), timestamp: 1)
        builder.append(key: nil as [UInt8]?, value: Array(repeating: 1, count: 300), timestamp: 2)
        #expect(builder.recordCount == 2)
        let built = try builder.build()
        #expect(builder.estimatedSizeInBytes == built.readableBytes)
        #expect(builder.uncompressedRecordBytes == built.readableBytes - Layout.size)
    }

    @Test func lz4BatchHasCodecBitsAndAKafkaStyleFrame() throws {
        var builder = RecordBatchBuilder(compression: .lz4)
        for i in 0..<100 {
            builder.append(key: Array("key-\(i)".utf8), value: Array(repeating: 0x61, count: 1000), timestamp: Int64(i))
        }
        let built = try builder.build().array
        let header = try RecordBatch(buffer: ByteBuffer(bytes: built)).validate()
        #expect(header.compression == .lz4)
        #expect(header.attributes & 0x7 == 3)
        #expect(Array(built[Layout.size..<Layout.size + 4]) == [0x04, 0x22, 0x4D, 0x18])
        #expect(built[Layout.size + 4] & 0x20 != 0)
        #expect(built[Layout.size + 5] == 0x40)
        #expect(
            built.count < builder.uncompressedRecordBytes / 5, "\(built.count) vs \(builder.uncompressedRecordBytes)")
        let records = try decodeAll(built)
        #expect(records.count == 100)
        #expect(records.last?.key?.array == Array("key-99".utf8))
        #expect(digest(records.last?.value) == digest([UInt8](repeating: 0x61, count: 1000)))
    }

    @Test func lz4AndUncompressedBatchesDecodeToTheSameRecords() throws {
        var plain = RecordBatchBuilder()
        var compressed = RecordBatchBuilder(compression: .lz4)
        var rng = SplitMix64(seed: 7)
        for i in 0..<300 {
            let key: [UInt8]? = i % 5 == 0 ? nil : rng.bytes(i % 40)
            let value: [UInt8]? = i % 7 == 0 ? nil : rng.bytes((i * 37) % 700)
            let headerValue = i % 2 == 0 ? nil : ByteBuffer(bytes: [UInt8(i % 256)])
            let headers = i % 3 == 0 ? [RecordHeader(key: "n\(i)", value: headerValue)] : []
            plain.append(key: key, value: value, headers: headers, timestamp: 10_000 - Int64(i))
            compressed.append(key: key, value: value, headers: headers, timestamp: 10_000 - Int64(i))
        }
        let a = try decodeAll(try plain.build().array)
        let b = try decodeAll(try compressed.build().array)
        try #require(a.count == b.count)
        var differences = 0
        for (x, y) in zip(a, b) {
            if x.offset != y.offset || x.timestamp != y.timestamp || x.key != y.key || x.value != y.value
                || Array(x.headers) != Array(y.headers)
            {
                differences += 1
            }
        }
        #expect(differences == 0)
    }

    @Test(arguments: [CompressionCodec.gzip, .snappy, .zstd])
    func buildWithUndecodableCodecThrowsUnsupportedCompression(codec: CompressionCodec) {
        var builder = RecordBatchBuilder(compression: codec)
        builder.append(key: nil as [UInt8]?, value: [1] as [UInt8], timestamp: 0)
        let error = thrownError { () throws(RecordsError) in try builder.build() }
        #expect(error == .unsupportedCompression(codec: codec.rawValue))
    }

    @Test func resetStartsAFreshBatch() throws {
        var reused = RecordBatchBuilder()
        reused.append(key: Array("old".utf8), value: Array(repeating: 9, count: 50), timestamp: 99_999)
        _ = try reused.build()
        reused.reset()
        #expect(reused.recordCount == 0)
        #expect(reused.uncompressedRecordBytes == 0)
        reused.append(key: Array("new".utf8), value: [1] as [UInt8], timestamp: 5)
        reused.append(key: nil as [UInt8]?, value: [2] as [UInt8], timestamp: 3)

        var fresh = RecordBatchBuilder()
        fresh.append(key: Array("new".utf8), value: [1] as [UInt8], timestamp: 5)
        fresh.append(key: nil as [UInt8]?, value: [2] as [UInt8], timestamp: 3)
        let rebuilt = try reused.build()
        #expect(rebuilt.array == (try fresh.build()).array)
        #expect(try RecordBatch(buffer: rebuilt).header().maxTimestamp == 5)
    }

    @Test func buildIsRepeatableAndLeavesTheBuilderUsable() throws {
        var builder = RecordBatchBuilder()
        builder.append(key: [1] as [UInt8], value: [2] as [UInt8], timestamp: 1)
        let first = try builder.build()
        #expect(try builder.build() == first)
        builder.append(key: [3] as [UInt8], value: [4] as [UInt8], timestamp: 2)
        #expect(try RecordBatch(buffer: try builder.build()).validate().recordCount == 2)
    }

    @Test func byteBufferSlicesContributeOnlyTheirReadableBytes() throws {
        var key = ByteBuffer(bytes: [0xFF, 0xFF, 0x6B])
        key.moveReaderIndex(forwardBy: 2)
        var value = ByteBuffer(bytes: [0xFF] + Array("v".utf8))
        value.moveReaderIndex(forwardBy: 1)
        var builder = RecordBatchBuilder()
        builder.append(key: key, value: value, headers: [RecordHeader(key: "h", value: value)], timestamp: 0)
        let records = try decodeAll(try builder.build().array)
        #expect(records.first?.key?.array == [0x6B])
        #expect(records.first?.value?.array == Array("v".utf8))
        #expect(records.first.map { Array($0.headers) } == [RecordHeader(key: "h", value: ByteBuffer(string: "v"))])
    }

    @Test func byteArrayAndByteBufferAppendsAreIdentical() throws {
        var arrays = RecordBatchBuilder()
        var buffers = RecordBatchBuilder()
        let headers = [RecordHeader(key: "x", value: nil)]
        arrays.append(key: Array("key".utf8), value: nil, headers: headers, timestamp: 8)
        buffers.append(key: ByteBuffer(string: "key"), value: nil, headers: headers, timestamp: 8)
        #expect(try arrays.build() == (try buffers.build()))
    }

    @Test func finishInPlaceEqualsBuildAndSurvivesLaterChanges() throws {
        for compression in [CompressionCodec.none, .lz4] {
            var builder = RecordBatchBuilder(compression: compression, capacity: 16)
            for index in 0..<200 {
                builder.append(key: nil, value: Array(repeating: UInt8(index), count: index), timestamp: Int64(index))
            }
            builder.producerId = 7
            builder.baseSequence = 0
            let built = try builder.build()
            let finished = try builder.finish()
            #expect(finished == built, "\(compression)")
            #expect(finished.readerIndex == 0 || compression == .lz4)
            // A retry under a new sequence: the first result must not change.
            builder.baseSequence = 200
            let again = try builder.finish()
            #expect(finished == built, "\(compression): first result changed by the second finish")
            #expect(try RecordBatch(buffer: again).validate().baseSequence == 200)
            #expect(try RecordBatch(buffer: finished).validate().baseSequence == 0)
            #expect(builder.uncompressedRecordBytes == (try builder.build()).readableBytes - 61 || compression == .lz4)
        }
    }

    @Test func resetKeepsRoomForTheHeader() throws {
        var builder = RecordBatchBuilder()
        builder.append(key: [1] as [UInt8], value: [2] as [UInt8], timestamp: 1)
        _ = try builder.finish()
        builder.reset()
        builder.append(key: [3] as [UInt8], value: [4] as [UInt8], timestamp: 2)
        let finished = try builder.finish()
        #expect(finished == (try builder.build()))
        #expect(try RecordBatch(buffer: finished).validate().recordCount == 1)
    }
}

import NIOCore
import StrataProtocol
import Testing

/// The zero-copy fetch path: a response encoded with external records, with the records inserted at
/// the recorded positions, is byte for byte the response encoded with the records inline.
@Suite struct ExternalBytesTests {
    @Test(arguments: Array(ApiKey.fetch.codecVersions))
    func externalRecordsReassembleToTheInlineFrame(version: Int16) throws {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            var inline = FetchResponse(throttleTimeMs: 7, responses: [])
            var external = inline
            var recordBytes: [ByteBuffer] = []
            for topic in 0..<Int.random(in: 1...3, using: &random) {
                var inlinePartitions: [FetchResponse.PartitionData] = []
                var externalPartitions: [FetchResponse.PartitionData] = []
                for partition in 0..<Int.random(in: 1...4, using: &random) {
                    let length = [0, 1, 61, 700, 5000].randomElement(using: &random)!
                    let bytes = ByteBuffer(bytes: (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) })
                    var data = FetchResponse.PartitionData(
                        partitionIndex: Int32(partition), highWatermark: 99, lastStableOffset: 99, logStartOffset: 3,
                        records: bytes)
                    inlinePartitions.append(data)
                    if Bool.random(using: &random) {
                        data.records = nil
                        data.externalRecordsLength = length
                        recordBytes.append(bytes)
                    }
                    externalPartitions.append(data)
                }
                inline.responses.append(TopicPartitions(name: "t\(topic)", partitions: inlinePartitions))
                external.responses.append(TopicPartitions(name: "t\(topic)", partitions: externalPartitions))
            }
            var expected = ByteBuffer()
            inline.encodeFrame(into: &expected, version: version, correlationId: 42)
            let (buffer, externals) = external.encodeFrameWithExternals(version: version, correlationId: 42)
            #expect(externals.count == recordBytes.count)
            #expect(externals.map(\.length) == recordBytes.map(\.readableBytes))
            var assembled = ByteBuffer()
            var cursor = buffer.readerIndex
            for (place, bytes) in zip(externals, recordBytes) {
                assembled.writeImmutableBuffer(buffer.getSlice(at: cursor, length: place.position - cursor)!)
                assembled.writeImmutableBuffer(bytes)
                cursor = place.position
            }
            assembled.writeImmutableBuffer(buffer.getSlice(at: cursor, length: buffer.writerIndex - cursor)!)
            #expect(assembled == expected, "v\(version)")
            // And it decodes to the inline response's records.
            var frame = assembled
            frame.moveReaderIndex(forwardBy: 4)
            _ = try ResponseHeader(from: &frame, version: ApiKey.fetch.responseHeaderVersion(version))
            let decoded = try FetchResponse(from: &frame, version: version)
            #expect(
                decoded.responses.flatMap { $0.partitions.map(\.records) }
                    == inline.responses.flatMap { $0.partitions.map(\.records) })
        }
    }
}

/// The producer's path: a request whose large `records` are left out of the encoded buffer and written
/// as pieces of their own is, pieces joined, byte for byte the frame `encodeFrame` writes.
@Suite struct FramePiecesTests {
    @Test(arguments: Array(ApiKey.produce.codecVersions.filter { $0 >= 3 }))
    func detachedRecordsJoinToTheInlineFrame(version: Int16) throws {
        for lengths in [[10], [5000], [5000, 12, 9000], [0, 4096]] {
            var topics: [TopicPartitions<ProduceRequest.Partition>] = []
            for (index, length) in lengths.enumerated() {
                let bytes = ByteBuffer(bytes: (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) })
                topics.append(
                    TopicPartitions(name: "t\(index)", partitions: [.init(index: Int32(index), records: bytes)]))
            }
            let request = ProduceRequest(acks: 1, timeoutMs: 30_000, topics: topics)
            var inline = ByteBuffer()
            request.encodeFrame(into: &inline, version: version, correlationId: 42, clientId: "c")
            let pieces = request.encodeFramePieces(
                version: version, correlationId: 42, clientId: "c", detachBytesMin: 4096)
            var joined = ByteBuffer()
            for piece in pieces { joined.writeImmutableBuffer(piece) }
            #expect(joined == inline, "\(lengths)")
            let detached = lengths.filter { $0 >= 4096 }.count
            #expect((1 + detached...1 + 2 * detached).contains(pieces.count), "\(lengths)")
        }
    }
}

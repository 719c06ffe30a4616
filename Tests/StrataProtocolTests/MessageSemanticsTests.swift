import NIOCore
import StrataProtocol
import StrataRecords
import Testing

@Suite struct MessageSemanticsTests {
    @Test func metadataV0EmptyTopicListMeansAllTopics() throws {
        var body = hex("00000000")
        #expect(try MetadataRequest(from: &body, version: 0).topics == nil)
        #expect(hexString(encoded(MetadataRequest(topics: nil), version: 0)) == "00000000")
    }

    @Test func metadataV1NullMeansAllTopicsAndEmptyMeansNone() throws {
        #expect(hexString(encoded(MetadataRequest(topics: nil), version: 1)) == "ffffffff")
        var empty = hex("00000000")
        #expect(try MetadataRequest(from: &empty, version: 1).topics == [])
        var null = hex("ffffffff")
        #expect(try MetadataRequest(from: &null, version: 1).topics == nil)
    }

    @Test func metadataV0RejectsANullTopicList() {
        var body = hex("ffffffff")
        #expect(throws: ProtocolError.self) { _ = try MetadataRequest(from: &body, version: 0) }
    }

    @Test func offsetFetchNullTopicsMeansAllFromV2AndIsWrittenEmptyInV1() throws {
        let all = OffsetFetchRequest(groupId: "g", topics: nil)
        #expect(hexString(encoded(all, version: 2)) == "000167" + "ffffffff")
        #expect(hexString(encoded(all, version: 1)) == "000167" + "00000000")
        #expect(try roundTrip(all, version: 2).topics == nil)
        #expect(try roundTrip(all, version: 1).topics == [])
    }

    @Test func throttleTimeIsLastInProduceAndFirstInFetch() {
        let produce = encoded(ProduceResponse(responses: [], throttleTimeMs: 0x0102_0304), version: 3)
        #expect(hexString(produce) == "00000000" + "01020304")
        let fetch = encoded(FetchResponse(throttleTimeMs: 0x0102_0304, responses: []), version: 4)
        #expect(hexString(fetch) == "01020304" + "00000000")
    }

    @Test func produceRecordsAreSlicesOfTheFrameNotCopies() throws {
        var builder = RecordBatchBuilder()
        builder.append(key: Array("k".utf8), value: Array("hello".utf8), timestamp: 1_700_000_000_000)
        let batch = try builder.build()
        let request = ProduceRequest(acks: -1, timeoutMs: 1000, topics: [
            TopicPartitions(name: "orders", partitions: [.init(index: 0, records: batch)]),
        ])
        var frame = encoded(request, version: 8)
        let frameRange = frame.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!)..<UInt(bitPattern:
            $0.baseAddress! + $0.count) }
        let decoded = try ProduceRequest(from: &frame, version: 8)
        let records = try #require(decoded.topics[0].partitions[0].records)
        let recordsStart = records.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!) }
        #expect(frameRange.contains(recordsStart))
        let header = try RecordBatch(buffer: records).validate()
        #expect(header.recordCount == 1)
    }

    @Test func hostileTopicCountInAProduceRequestFailsFast() {
        var body = hex("ffff 0001 00000064 7fffffff 0001 74")
        #expect(throws: ProtocolError(.lengthOverLimit(length: Int(Int32.max), limit: ProtocolReader.arrayCountMax),
                                      context: "Produce v3 request", field: "topic_data", position: 8)) {
            _ = try ProduceRequest(from: &body, version: 3)
        }
    }

    @Test func unknownErrorCodesSurviveARoundTrip() throws {
        let response = HeartbeatResponse(errorCode: KafkaErrorCode(rawValue: 999))
        #expect(try roundTrip(response, version: 3).errorCode.rawValue == 999)
        #expect(KafkaErrorCode(rawValue: 999).name == "UNKNOWN(999)")
        #expect(KafkaErrorCode.unknownTopicOrPartition.description == "UNKNOWN_TOPIC_OR_PARTITION (3)")
        #expect(KafkaErrorCode.unsupportedVersion.rawValue == 35)
    }

    @Test func everyRequestTypeDispatchesThroughAnyKafkaRequest() throws {
        var seen = Set<ApiKey>()
        for sample in Samples.requests {
            for version in sample.api.codecVersions {
                var frame = ByteBuffer()
                RequestHeader(apiKey: sample.api.rawValue, apiVersion: version, correlationId: 3, clientId: "c")
                    .encode(into: &frame)
                var body = sample.encode(version)
                frame.writeBuffer(&body)
                let (header, _) = try AnyKafkaRequest.decode(frame: &frame)
                #expect(header.api == sample.api)
                #expect(frame.readableBytes == 0, "\(sample.name) v\(version)")
                seen.insert(sample.api)
            }
        }
        #expect(seen == Set(ApiKey.allCases))
    }
}

import NIOCore
import StrataProtocol
import Testing

@Suite struct HeaderTests {
    @Test func requestHeaderV1ParsesNullClientIdAndLeavesTheBody() throws {
        var frame = hex("0003 0000 00000001 ffff 00000000")
        let header = try RequestHeader(from: &frame)
        #expect(header == RequestHeader(apiKey: 3, apiVersion: 0, correlationId: 1, clientId: nil))
        #expect(header.headerVersion == 1)
        #expect(frame.readerIndex == 10)
    }

    @Test func requestHeaderV2KeepsAnInt16ClientIdAndSkipsTaggedFields() throws {
        var frame = hex("0012 0003 00000007 0001 61 01 00 01 ff 2a")
        let header = try RequestHeader(from: &frame)
        #expect(header == RequestHeader(apiKey: 18, apiVersion: 3, correlationId: 7, clientId: "a"))
        #expect(header.headerVersion == 2)
        #expect(frame.readInteger(as: UInt8.self) == 0x2a)
    }

    @Test func requestHeaderVersionFollowsFlexibility() {
        #expect(RequestHeader(apiKey: 0, apiVersion: 8, correlationId: 0, clientId: nil).headerVersion == 1)
        #expect(RequestHeader(apiKey: 0, apiVersion: 9, correlationId: 0, clientId: nil).headerVersion == 2)
        #expect(RequestHeader(apiKey: 18, apiVersion: 2, correlationId: 0, clientId: nil).headerVersion == 1)
        #expect(RequestHeader(apiKey: 18, apiVersion: 3, correlationId: 0, clientId: nil).headerVersion == 2)
        #expect(RequestHeader(apiKey: 999, apiVersion: 50, correlationId: 0, clientId: nil).headerVersion == 1)
    }

    @Test func requestHeaderRoundTripsInBothVersions() throws {
        for header in [RequestHeader(apiKey: 1, apiVersion: 11, correlationId: -5, clientId: "consumer-1"),
                       RequestHeader(apiKey: 18, apiVersion: 4, correlationId: 9, clientId: nil)] {
            var buffer = ByteBuffer()
            header.encode(into: &buffer)
            #expect(try RequestHeader(from: &buffer) == header)
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func truncatedRequestHeaderNamesTheField() {
        var frame = hex("0000 0003 0000")
        #expect(throws: ProtocolError(.truncated(needed: 4, available: 2), context: "RequestHeader v1",
                                      field: "correlation_id", position: 4)) {
            _ = try RequestHeader(from: &frame)
        }
    }

    @Test func responseHeaderIsV1OnlyForFlexibleVersionsAndNeverForApiVersions() {
        for api in ApiKey.allCases {
            for version in api.codecVersions {
                let expected: Int16 = api != .apiVersions && api.isFlexible(version) ? 1 : 0
                #expect(api.responseHeaderVersion(version) == expected, "\(api) v\(version)")
            }
        }
        #expect(ApiKey.apiVersions.responseHeaderVersion(3) == 0)
        #expect(ApiKey.apiVersions.responseHeaderVersion(4) == 0)
        #expect(ApiKey.produce.responseHeaderVersion(9) == 1)
        #expect(ApiKey.metadata.responseHeaderVersion(8) == 0)
    }

    @Test func responseHeaderRoundTripsInBothVersions() throws {
        for version: Int16 in 0...1 {
            var buffer = ByteBuffer()
            ResponseHeader(correlationId: 77).encode(into: &buffer, version: version)
            #expect(buffer.readableBytes == 4 + Int(version))
            #expect(try ResponseHeader(from: &buffer, version: version) == ResponseHeader(correlationId: 77))
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func responseFrameIsSizeHeaderAndBody() throws {
        var frame = ByteBuffer()
        HeartbeatResponse(throttleTimeMs: 0, errorCode: .rebalanceInProgress)
            .encodeFrame(into: &frame, version: 1, correlationId: 5)
        #expect(hexString(frame) == "0000000a" + "00000005" + "00000000" + "001b")
        var body = try #require(try KafkaFrame.next(from: &frame, frameBytesMax: 100))
        #expect(try ResponseHeader(from: &body, version: 0).correlationId == 5)
        #expect(try HeartbeatResponse(from: &body, version: 1).errorCode == .rebalanceInProgress)
    }

    @Test func metadataV0RequestFrameMatchesTheWireLayout() throws {
        var frame = ByteBuffer()
        MetadataRequest(topics: ["ab"]).encodeFrame(into: &frame, version: 0, correlationId: 1, clientId: "c")
        #expect(hexString(frame) == "00000013" + "0003" + "0000" + "00000001" + "000163" + "00000001" + "00026162")
    }
}

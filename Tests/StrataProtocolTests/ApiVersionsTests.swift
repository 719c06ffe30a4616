import NIOCore
import StrataProtocol
import Testing

@Suite struct ApiVersionsTests {
    @Test func standardTableAdvertisesTheReferenceRanges() {
        let expected: [ApiKey: ClosedRange<Int16>] = [
            .produce: 0...8, .fetch: 4...11, .listOffsets: 1...5, .metadata: 0...8, .offsetCommit: 2...7,
            .offsetFetch: 1...5, .findCoordinator: 0...2, .joinGroup: 0...5, .heartbeat: 0...3, .leaveGroup: 0...3,
            .syncGroup: 0...3, .describeGroups: 0...4, .listGroups: 0...2, .apiVersions: 0...4, .createTopics: 0...4,
            .deleteTopics: 0...3, .deleteRecords: 0...1, .initProducerId: 0...1, .offsetForLeaderEpoch: 2...3,
            .describeConfigs: 0...2, .alterConfigs: 0...1, .deleteGroups: 0...1,
            .incrementalAlterConfigs: 0...0,
        ]
        #expect(ApiVersionsTable.standard.ranges == expected)
        #expect(ApiKey.deleteRecords.rawValue == 21 && ApiKey.alterConfigs.rawValue == 33)
        #expect(ApiKey.deleteGroups.rawValue == 42 && ApiKey.incrementalAlterConfigs.rawValue == 44)
    }

    @Test func produceBelowV3IsAdvertisedButNotDecodable() {
        #expect(ApiVersionsTable.standard.supports(.produce, version: 0))
        #expect(ApiKey.produce.codecVersions == 3...8)
        for version: Int16 in 0...2 {
            var body = hex("ffff 00000000 00000000")
            #expect(throws: ProtocolError(.unsupportedVersion(version), context: "Produce v\(version) request",
                                          position: 0)) {
                _ = try ProduceRequest(from: &body, version: version)
            }
        }
    }

    @Test func onlyApiVersionsV3AndV4AreFlexibleInTheAdvertisedRanges() {
        for api in ApiKey.allCases {
            for version in api.advertisedVersions where api.isFlexible(version) {
                #expect(api == .apiVersions && version >= 3, "\(api) v\(version)")
            }
        }
    }

    @Test func successfulAnswerListsEveryApiSortedByKey() {
        let response = ApiVersionsTable.standard.apiVersionsResponse()
        #expect(response.errorCode == .noError)
        #expect(response.apiKeys.map(\.apiKey) == ApiKey.allCases.map(\.rawValue).sorted())
        #expect(response.apiKeys.first == .init(apiKey: 0, minVersion: 0, maxVersion: 8))
    }

    @Test func unsupportedVersionAnswerIsAV0BodyWithOnlyTheApiVersionsRange() {
        var frame = ByteBuffer()
        ApiVersionsTable.standard.unsupportedApiVersionsResponse.encodeFrame(into: &frame, version: 0,
                                                                             correlationId: 7)
        #expect(hexString(frame) == "00000010" + "00000007" + "0023" + "00000001" + "0012" + "0000" + "0004")
    }

    @Test func tooNewApiVersionsRequestIsReportedWithoutParsingItsBody() throws {
        var frame = hex("0012 0009 0000000c 0001 63 00 deadbeef")
        let (header, request) = try AnyKafkaRequest.decode(frame: &frame)
        #expect(header.apiVersion == 9 && header.correlationId == 12)
        #expect(request == .unsupportedApiVersions)
    }

    @Test func otherApisAtUnsupportedVersionsOrUnknownKeysThrow() {
        var fetchV3 = hex("0001 0003 00000001 ffff")
        #expect(throws: ProtocolError.self) { _ = try AnyKafkaRequest.decode(frame: &fetchV3) }
        var unknown = hex("03e7 0000 00000001 ffff")
        #expect(throws: ProtocolError(.unknownApiKey(999), context: "request header", position: 10)) {
            _ = try AnyKafkaRequest.decode(frame: &unknown)
        }
    }

    @Test func clientDecodesAnErrorAnswerAsV0WhateverVersionItAskedFor() throws {
        var body = ByteBuffer()
        ApiVersionsTable.standard.unsupportedApiVersionsResponse.encode(into: &body, version: 0)
        let (response, version) = try ApiVersionsResponse.decodeAnswer(from: &body, requestedVersion: 4)
        #expect(version == 0)
        #expect(response.errorCode == .unsupportedVersion)
        #expect(response.apiKeys == [.init(apiKey: 18, minVersion: 0, maxVersion: 4)])
    }

    @Test func clientDecodesASuccessfulAnswerAtTheRequestedVersion() throws {
        let sent = ApiVersionsTable.standard.apiVersionsResponse(throttleTimeMs: 1)
        var body = encoded(sent, version: 3)
        let (response, version) = try ApiVersionsResponse.decodeAnswer(from: &body, requestedVersion: 3)
        #expect(version == 3 && response == sent)
    }

    @Test func v3ResponseSkipsTaggedFeatureFields() throws {
        // error 0, one api key entry, throttle 0, then tags: 0 (SupportedFeatures, 3 opaque bytes), 3 (bool).
        var body = hex("0000 02 0012 0000 0004 00 00000000 02 00 03 010203 03 01 01")
        let response = try ApiVersionsResponse(from: &body, version: 4)
        #expect(response.apiKeys == [.init(apiKey: 18, minVersion: 0, maxVersion: 4)])
        #expect(body.readableBytes == 0)
    }
}

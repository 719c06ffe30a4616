import NIOCore
import StrataProtocol
import Testing

@Suite struct MessageRoundTripTests {
    @Test func samplesCoverEveryApiInBothDirections() {
        for api in ApiKey.allCases {
            #expect(Samples.requests.contains { $0.api == api }, "no request sample for \(api)")
            #expect(Samples.responses.contains { $0.api == api }, "no response sample for \(api)")
        }
    }

    @Test(arguments: Samples.all)
    func everyMessageRoundTripsAtEveryVersion(_ message: MessageCase) throws {
        for version in message.api.codecVersions {
            try message.roundTrip(version)
        }
    }

    @Test(arguments: Samples.all)
    func everyStrictPrefixFailsWithProtocolError(_ message: MessageCase) {
        for version in message.api.codecVersions {
            let whole = message.encode(version)
            for length in 0..<whole.readableBytes {
                var prefix = whole.getSlice(at: whole.readerIndex, length: length)!
                #expect(throws: ProtocolError.self, "\(message.name) v\(version) prefix \(length)") {
                    try message.decode(&prefix, version)
                }
            }
        }
    }

    /// Flips random bytes of every sample; decoding must return or throw a `ProtocolError`, never trap,
    /// and never take long (hostile lengths are rejected before allocation).
    @Test(arguments: Samples.all)
    func corruptedBytesNeverTrap(_ message: MessageCase) {
        let seed = UInt64(truncatingIfNeeded: message.name.utf8.reduce(5381) { ($0 &* 33) &+ Int($1) })
        var random = SplitMix64(seed: seed)
        for version in message.api.codecVersions {
            let whole = message.encode(version)
            guard whole.readableBytes > 0 else { continue }
            for _ in 0..<200 {
                var corrupt = whole
                for _ in 0..<(1 + Int(random.next() % 3)) {
                    let index = Int(random.next() % UInt64(corrupt.readableBytes))
                    corrupt.setInteger(UInt8(truncatingIfNeeded: random.next()), at: index)
                }
                do {
                    try message.decode(&corrupt, version)
                } catch {
                    #expect(!error.description.isEmpty, "seed \(seed)")
                }
            }
        }
    }

    @Test func leaveGroupBeforeV3CarriesOneMemberId() throws {
        let request = LeaveGroupRequest(groupId: "g", memberId: "m-1")
        for version: Int16 in 0...2 {
            let decoded = try roundTrip(request, version: version)
            #expect(decoded == request)
            #expect(decoded.leavingMembers == [.init(memberId: "m-1")])
        }
    }

    @Test func offsetCommitRetentionTimeExistsOnlyInV2ToV4() throws {
        let request = OffsetCommitRequest(groupId: "g", generationIdOrMemberEpoch: 1, memberId: "m",
                                          retentionTimeMs: 86_400_000, topics: [])
        for version: Int16 in 2...4 {
            #expect(try roundTrip(request, version: version).retentionTimeMs == 86_400_000)
        }
        for version: Int16 in 5...7 {
            #expect(try roundTrip(request, version: version).retentionTimeMs == -1)
        }
    }

    @Test func describeConfigsV0CarriesIsDefaultInsteadOfSource() throws {
        let response = DescribeConfigsResponse(results: [
            .init(resourceType: 2, resourceName: "t", configs: [.init(name: "a", value: "1", isDefault: true)]),
        ])
        #expect(try roundTrip(response, version: 0).results[0].configs[0].isDefault)
        #expect(try roundTrip(response, version: 1).results[0].configs[0].isDefault == false)
    }
}

/// Small deterministic generator so randomized tests are reproducible from their seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import NIOCore
import StrataProtocol
import StrataRecords

/// SplitMix64: a tiny seeded generator, so every fuzz input is reproducible from (seed, index).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Generates malformed Kafka request frames from a seed: random bytes, valid headers with corrupted
/// bodies, every API × version of a populated sample request with mutated fields (counts and lengths
/// set to -1, Int32.min/max, truncations, flipped bytes, unterminated varints), huge and negative
/// declared lengths. `input(index)` is a pure function of (seed, index), so a crasher is replayed
/// from the two numbers the test prints.
struct ProtocolFuzzer {
    let seed: UInt64
    /// Every (api, version) sample frame, size prefix included.
    let samples: [(api: ApiKey, version: Int16, frame: [UInt8])]

    init(seed: UInt64) {
        self.seed = seed
        var samples: [(ApiKey, Int16, [UInt8])] = []
        for sample in Self.sampleRequests() {
            for version in sample.api.codecVersions {
                samples.append((sample.api, version, sample.encode(version)))
            }
        }
        self.samples = samples
    }

    /// The kinds of input, for the summary.
    enum Kind: String, CaseIterable { case randomBytes, corruptBody, mutatedSample, hugeLength, truncated }

    func input(_ index: Int) -> (kind: Kind, bytes: [UInt8]) {
        var rng = SplitMix64(seed: seed ^ (UInt64(index) &* 0xD6E8_FEB8_6659_FD93))
        let roll = Int.random(in: 0..<100, using: &rng)
        switch roll {
        case 0..<10:
            let count = Int.random(in: 0...64, using: &rng)
            return (.randomBytes, (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) })
        case 10..<25:
            // A valid size and header (any api key and version, supported or not), random body.
            var bytes = headerBytes(
                apiKey: Int16.random(in: -2...50, using: &rng), version: Int16.random(in: -1...14, using: &rng),
                using: &rng)
            bytes += (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            return (.corruptBody, framed(bytes))
        case 25..<30:
            // Declared lengths the body never reaches, or that no frame may have.
            let lengths: [Int32] = [-1, Int32.min, Int32.max, 104_857_601, 104_857_600, 1 << 30, 0, 1, 7]
            var bytes = bigEndian(lengths.randomElement(using: &rng)!)
            bytes += (0..<Int.random(in: 0...32, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            return (.hugeLength, bytes)
        case 30..<40:
            let sample = samples.randomElement(using: &rng)!.frame
            let cut = Int.random(in: 4..<sample.count, using: &rng)
            var body = Array(sample[4..<cut])
            if Bool.random(using: &rng) { body += [0xFF, 0xFF, 0xFF] }  // an unterminated varint
            return (.truncated, framed(body))
        default:
            var body = Array(samples.randomElement(using: &rng)!.frame.dropFirst(4))
            for _ in 0..<Int.random(in: 1...4, using: &rng) { mutate(&body, using: &rng) }
            return (.mutatedSample, framed(body))
        }
    }

    /// One field-shaped mutation of a frame body (header included).
    private func mutate(_ body: inout [UInt8], using rng: inout SplitMix64) {
        guard body.count > 8 else { return }
        // Past the api key/version most of the time: the body's fields are the interesting part.
        let position = Int.random(in: 4..<body.count, using: &rng)
        switch Int.random(in: 0..<7, using: &rng) {
        case 0:
            body[position] ^= UInt8.random(in: 1...255, using: &rng)
        case 1:
            let values: [Int32] = [-1, -2, Int32.min, Int32.max, 0x7FFF_FFF0, 1 << 20, 0, 65_536]
            write(bigEndian(values.randomElement(using: &rng)!), into: &body, at: position)
        case 2:
            let values: [Int16] = [-1, -2, Int16.min, Int16.max, 0]
            write(bigEndian(values.randomElement(using: &rng)!), into: &body, at: position)
        case 3:
            // Unsigned varint lengths/counts in flexible versions: huge, or never terminated.
            write([0xFF, 0xFF, 0xFF, 0xFF, 0x0F], into: &body, at: position)
        case 4:
            body.removeSubrange(position..<min(body.count, position + Int.random(in: 1...16, using: &rng)))
        case 5:
            body.insert(
                contentsOf: (0..<Int.random(in: 1...16, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng)
                },
                at: position)
        default:
            // The api version alone: valid body, other version's layout.
            write(bigEndian(Int16.random(in: -1...20, using: &rng)), into: &body, at: 2)
        }
    }

    private func write(_ bytes: [UInt8], into body: inout [UInt8], at position: Int) {
        for (offset, byte) in bytes.enumerated() where position + offset < body.count { body[position + offset] = byte }
    }

    private func headerBytes(apiKey: Int16, version: Int16, using rng: inout SplitMix64) -> [UInt8] {
        var bytes = bigEndian(apiKey) + bigEndian(version) + bigEndian(Int32.random(in: 0...Int32.max, using: &rng))
        bytes += bigEndian(Int16(4)) + Array("fuzz".utf8)
        return bytes
    }

    private func framed(_ body: [UInt8]) -> [UInt8] { bigEndian(Int32(body.count)) + body }

    private func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    /// A populated request per API (every field that exists somewhere set), encoded per version.
    private static func sampleRequests() -> [(api: ApiKey, encode: (Int16) -> [UInt8])] {
        func sample<R: KafkaRequest>(_ request: R) -> (api: ApiKey, encode: (Int16) -> [UInt8]) {
            (
                R.apiKey,
                { version in
                    var buffer = ByteBuffer()
                    request.encodeFrame(into: &buffer, version: version, correlationId: 1, clientId: "fuzzer")
                    return Array(buffer.readableBytesView)
                }
            )
        }
        var builder = RecordBatchBuilder(producerId: 7, producerEpoch: 0, baseSequence: 0)
        builder.append(key: Array("k".utf8), value: Array("value".utf8), headers: [], timestamp: 1_700_000_000_000)
        builder.append(key: nil, value: Array("second".utf8), headers: [], timestamp: 1_700_000_000_001)
        let batch = (try? builder.build()) ?? ByteBuffer()
        return [
            sample(ApiVersionsRequest(clientSoftwareName: "fuzz", clientSoftwareVersion: "1")),
            sample(MetadataRequest(topics: ["fz-a", "fz-b"], allowAutoTopicCreation: true)),
            sample(
                ProduceRequest(
                    acks: -1, timeoutMs: 1000,
                    topics: [TopicPartitions(name: "fz-a", partitions: [.init(index: 0, records: batch)])])),
            sample(
                FetchRequest(
                    replicaId: -1, maxWaitMs: 10, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0,
                    sessionId: 0, sessionEpoch: -1,
                    topics: [
                        TopicPartitions(
                            name: "fz-a",
                            partitions: [
                                .init(
                                    partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1,
                                    partitionMaxBytes: 1 << 20)
                            ])
                    ], forgottenTopicsData: [TopicPartitions(name: "fz-old", partitions: [0])], rackId: "r")),
            sample(
                ListOffsetsRequest(
                    replicaId: -1, isolationLevel: 0,
                    topics: [
                        TopicPartitions(
                            name: "fz-a", partitions: [.init(partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1)])
                    ])),
            sample(InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: 60_000)),
            sample(
                CreateTopicsRequest(
                    topics: [
                        .init(
                            name: "fz-created", numPartitions: 2, replicationFactor: 1, assignments: [],
                            configs: [ConfigEntry(name: "retention.ms", value: "60000")])
                    ], timeoutMs: 1000, validateOnly: false)),
            sample(DeleteTopicsRequest(topicNames: ["fz-created"], timeoutMs: 1000)),
            sample(
                DescribeConfigsRequest(
                    resources: [.init(resourceType: 2, resourceName: "fz-a", configurationKeys: ["retention.ms"])],
                    includeSynonyms: true)),
            sample(
                OffsetForLeaderEpochRequest(
                    replicaId: -1,
                    topics: [
                        TopicPartitions(
                            name: "fz-a", partitions: [.init(partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0)])
                    ])),
            sample(FindCoordinatorRequest(key: "fz-group", keyType: 0)),
            sample(
                JoinGroupRequest(
                    groupId: "fz-group", sessionTimeoutMs: 6000, rebalanceTimeoutMs: 100, memberId: "",
                    groupInstanceId: nil, protocolType: "consumer",
                    protocols: [.init(name: "range", metadata: ByteBuffer(bytes: [0, 1, 0, 0, 0, 0]))])),
            sample(
                SyncGroupRequest(
                    groupId: "fz-group", generationId: 1, memberId: "m", groupInstanceId: nil,
                    assignments: [.init(memberId: "m", assignment: ByteBuffer(bytes: [0, 1]))])),
            sample(HeartbeatRequest(groupId: "fz-group", generationId: 1, memberId: "m", groupInstanceId: nil)),
            sample(LeaveGroupRequest(groupId: "fz-group", members: [.init(memberId: "m", groupInstanceId: nil)])),
            sample(
                OffsetCommitRequest(
                    groupId: "fz-group", generationIdOrMemberEpoch: -1, memberId: "", groupInstanceId: nil,
                    topics: [
                        TopicPartitions(
                            name: "fz-a",
                            partitions: [
                                .init(
                                    partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1,
                                    committedMetadata: "m")
                            ])
                    ])),
            sample(
                OffsetFetchRequest(groupId: "fz-group", topics: [TopicPartitions(name: "fz-a", partitions: [0, 1])])),
            sample(ListGroupsRequest()),
            sample(DescribeGroupsRequest(groups: ["fz-group"], includeAuthorizedOperations: true)),
            sample(DeleteGroupsRequest(groupNames: ["fz-gone"])),
            sample(
                DeleteRecordsRequest(
                    topics: [TopicPartitions(name: "fz-b", partitions: [.init(partitionIndex: 0, offset: 0)])],
                    timeoutMs: 1000)),
            sample(
                AlterConfigsRequest(
                    resources: [
                        .init(
                            resourceType: 2, resourceName: "fz-b",
                            configs: [ConfigEntry(name: "retention.ms", value: "600000")])
                    ], validateOnly: true)),
            sample(
                IncrementalAlterConfigsRequest(
                    resources: [
                        .init(
                            resourceType: 2, resourceName: "fz-b",
                            configs: [.init(name: "retention.ms", operation: .set, value: "600000")])
                    ], validateOnly: true)),
        ]
    }
}

import Foundation
import Logging
import NIOCore
import NIOPosix
import StrataBroker
import StrataProtocol
import StrataRecords
import StrataStorage
import Synchronization
import Testing

/// Handler logic without sockets: frames in, frames out, real storage in a temp directory.
/// `@unchecked Sendable`: `logs`/`broker` change only in `restart`, which tests never run concurrently
/// with calls; the correlation id is atomic.
final class BrokerHarness: @unchecked Sendable {
    let directory: String
    var logs: LogManager
    var broker: Broker
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let correlationIds = Atomic<Int32>(0)
    static let quiet: Logger = {
        var logger = Logger(label: "strata.test")
        logger.logLevel = .critical
        return logger
    }()

    init(config: BrokerConfig = BrokerConfig(), directory: String? = nil,
         fileSystem: FileSystem = PosixFileSystem()) throws {
        self.directory = directory ?? NSTemporaryDirectory() + "strata-broker-\(UUID().uuidString)"
        logs = try LogManager.open(dataDirectory: self.directory, defaultConfig: config.logDefaults,
                                   fileSystem: fileSystem, logger: Self.quiet)
        broker = Broker(config: config, logs: logs, logger: Self.quiet)
    }

    /// Simulates a restart: close (clean) or just drop (crash), then open a new broker on the same dir.
    func restart(clean: Bool) throws {
        if clean { try logs.close() }
        logs = try LogManager.open(dataDirectory: directory, defaultConfig: broker.config.logDefaults, logger: Self.quiet)
        broker = Broker(config: broker.config, logs: logs, logger: Self.quiet)
    }

    func cleanup() {
        try? logs.close()
        try? group.syncShutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Sends `request` at `version`; returns the decoded response, or nil when none was sent.
    func call<Request: KafkaRequest, Response: KafkaResponse>(_ request: Request, version: Int16,
                                                              as _: Response.Type) async throws -> Response? {
        let correlationId = correlationIds.wrappingAdd(1, ordering: .relaxed).newValue
        var frame = ByteBuffer()
        request.encodeFrame(into: &frame, version: version, correlationId: correlationId, clientId: "test")
        frame.moveReaderIndex(forwardBy: 4)
        guard var answer = try await broker.handle(frame: frame, eventLoop: group.next()) else { return nil }
        let size = answer.readInteger(as: Int32.self)
        #expect(Int(size ?? -1) == answer.readableBytes)
        let header = try ResponseHeader(from: &answer, version: Response.apiKey.responseHeaderVersion(version))
        #expect(header.correlationId == correlationId)
        let response = try Response(from: &answer, version: version)
        #expect(answer.readableBytes == 0)
        return response
    }

    func createTopic(_ name: String, partitions: Int32 = 1) throws {
        try logs.createTopic(name, partitionCount: partitions)
    }

    func produce(_ topic: String, partition: Int32 = 0, batch: ByteBuffer, acks: Int16 = -1, version: Int16 = 7)
        async throws -> ProduceResponse.PartitionResponse? {
        let request = ProduceRequest(acks: acks, timeoutMs: 5000, topics: [
            TopicPartitions(name: topic, partitions: [.init(index: partition, records: batch)]),
        ])
        return try await call(request, version: version, as: ProduceResponse.self)?.responses.first?.partitions.first
    }

    func fetch(_ topic: String, partition: Int32 = 0, offset: Int64, maxWaitMs: Int32 = 0, minBytes: Int32 = 1,
               partitionMaxBytes: Int32 = 1 << 20, version: Int16 = 11) async throws -> FetchResponse {
        let request = FetchRequest(maxWaitMs: maxWaitMs, minBytes: minBytes, topics: [
            TopicPartitions(name: topic, partitions: [.init(partition: partition, fetchOffset: offset,
                                                            partitionMaxBytes: partitionMaxBytes)]),
        ])
        return try #require(try await call(request, version: version, as: FetchResponse.self))
    }
}

func batch(_ values: [String], producerId: Int64 = -1, epoch: Int16 = -1, sequence: Int32 = -1,
           timestamp: Int64 = 1_700_000_000_000, compression: CompressionCodec = .none) throws -> ByteBuffer {
    var builder = RecordBatchBuilder(compression: compression, producerId: producerId, producerEpoch: epoch,
                                     baseSequence: sequence)
    for (index, value) in values.enumerated() {
        builder.append(key: Array("k\(index)".utf8), value: Array(value.utf8), timestamp: timestamp + Int64(index))
    }
    return try builder.build()
}

func values(of records: ByteBuffer?) throws -> [String] {
    guard var bytes = records else { return [] }
    var result: [String] = []
    while let batch = try RecordBatch.next(from: &bytes) {
        for record in try batch.records() { result.append(record.value.map { String(buffer: $0) } ?? "") }
    }
    return result
}

@Suite struct BrokerTests {
    @Test(arguments: [Int16(3), 5, 8])
    func produceThenFetchReturnsTheSameRecords(produceVersion: Int16) async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.createTopic("t")
        let first = try #require(try await harness.produce("t", batch: batch(["a", "b"]), version: produceVersion))
        #expect(first.errorCode == .noError && first.baseOffset == 0)
        let second = try #require(try await harness.produce("t", batch: batch(["c"], compression: .lz4),
                                                            version: produceVersion))
        #expect(second.baseOffset == 2)
        for fetchVersion: Int16 in [4, 11] {
            let response = try await harness.fetch("t", offset: 0, version: fetchVersion)
            let partition = try #require(response.responses.first?.partitions.first)
            #expect(partition.errorCode == .noError && partition.highWatermark == 3 && partition.lastStableOffset == 3)
            #expect(try values(of: partition.records) == ["a", "b", "c"])
        }
    }

    @Test func acksZeroGetsNoResponseButIsStored() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.createTopic("t")
        #expect(try await harness.produce("t", batch: batch(["x"]), acks: 0) == nil)
        #expect(harness.logs.log(for: TopicPartition("t", 0))?.logEndOffset == 1)
    }

    @Test func produceErrorsUseKafkaCodes() async throws {
        var config = BrokerConfig()
        config.logDefaults.maxMessageBytes = 200
        let harness = try BrokerHarness(config: config)
        defer { harness.cleanup() }
        try harness.createTopic("t")
        #expect(try await harness.produce("nope", batch: batch(["x"]))?.errorCode == .unknownTopicOrPartition)
        #expect(try await harness.produce("t", partition: 7, batch: batch(["x"]))?.errorCode == .unknownTopicOrPartition)
        #expect(try await harness.produce("t", batch: batch(["x"]), acks: 2)?.errorCode == .invalidRequiredAcks)
        var two = try batch(["a"])
        two.writeImmutableBuffer(try batch(["b"]))
        #expect(try await harness.produce("t", batch: two)?.errorCode == .invalidRecord)
        let big = try batch([String(repeating: "z", count: 500)])
        #expect(try await harness.produce("t", batch: big)?.errorCode == .messageTooLarge)
        var stamped = try batch(["x"])
        stamped.setInteger(Int64(5), at: 0)
        #expect(try await harness.produce("t", batch: stamped)?.errorCode == .invalidRecord)
        #expect(harness.logs.log(for: TopicPartition("t", 0))?.logEndOffset == 0, "nothing was stored")
    }

    @Test func fetchLongPollIsWokenByAnAppend() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.createTopic("t")
        async let parked = harness.fetch("t", offset: 0, maxWaitMs: 20_000)
        // Produce once the fetch is parked or about to be: the broker re-reads after registering,
        // so either order delivers the data; only a lost wake-up would leave the fetch empty.
        _ = try await harness.produce("t", batch: batch(["wake"]), acks: 1)
        let response = try await parked
        #expect(try values(of: response.responses.first?.partitions.first?.records) == ["wake"])
    }

    @Test func fetchWithNothingToReadAnswersEmptyAfterMaxWait() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.createTopic("t")
        let response = try await harness.fetch("t", offset: 0, maxWaitMs: 30)
        let partition = try #require(response.responses.first?.partitions.first)
        #expect(partition.errorCode == .noError && partition.highWatermark == 0)
        #expect(partition.records?.readableBytes == 0)
    }

    @Test func fetchListsEveryPartitionAndFollowsKIP74() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.createTopic("t", partitions: 2)
        for partition: Int32 in 0...1 {
            for index in 0..<3 {
                _ = try await harness.produce("t", partition: partition,
                                              batch: batch([String(repeating: "\(index)", count: 100)]))
            }
        }
        let request = FetchRequest(maxWaitMs: 0, minBytes: 1, maxBytes: 10, topics: [
            TopicPartitions(name: "t", partitions: [
                .init(partition: 0, fetchOffset: 0, partitionMaxBytes: 10),
                .init(partition: 1, fetchOffset: 0, partitionMaxBytes: 10),
                .init(partition: 9, fetchOffset: 0, partitionMaxBytes: 10),
            ]),
        ])
        let response = try #require(try await harness.call(request, version: 11, as: FetchResponse.self))
        let partitions = try #require(response.responses.first?.partitions)
        #expect(partitions.map(\.partitionIndex) == [0, 1, 9])
        #expect(try values(of: partitions[0].records).count == 1, "one whole batch despite the 10-byte limits")
        #expect(partitions[1].records?.readableBytes == 0, "no fragment once the response has data")
        #expect(partitions[2].errorCode == .unknownTopicOrPartition)
        let outOfRange = try await harness.fetch("t", offset: 99)
        #expect(outOfRange.responses.first?.partitions.first?.errorCode == .offsetOutOfRange)
    }

    @Test func listOffsetsEarliestLatestAndByTime() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.createTopic("t")
        _ = try await harness.produce("t", batch: batch(["a", "b", "c"], timestamp: 1000))
        _ = try await harness.produce("t", batch: batch(["d", "e"], timestamp: 2000))
        func offset(_ timestamp: Int64) async throws -> Int64? {
            var request = ListOffsetsRequest()
            request.topics = [TopicPartitions(name: "t", partitions: [.init(partitionIndex: 0, timestamp: timestamp)])]
            return try await harness.call(request, version: 5, as: ListOffsetsResponse.self)?
                .topics.first?.partitions.first?.offset
        }
        #expect(try await offset(-2) == 0)
        #expect(try await offset(-1) == 5)
        #expect(try await offset(1001) == 1)
        #expect(try await offset(1500) == 3)
        #expect(try await offset(9999) == -1)
    }

    @Test func metadataAutoCreatesValidTopicsOnly() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        var request = MetadataRequest()
        request.topics = ["fresh", "bad name"]
        let response = try #require(try await harness.call(request, version: 8, as: MetadataResponse.self))
        #expect(response.controllerId == 0 && response.brokers.count == 1 && response.clusterId == harness.logs.clusterId)
        #expect(response.topics[0].errorCode == .noError && response.topics[0].partitions.first?.leaderEpoch == 0)
        #expect(response.topics[1].errorCode == .invalidTopicException)
        #expect(harness.logs.topic("fresh") != nil)
        var noCreate = MetadataRequest()
        noCreate.topics = ["other"]
        noCreate.allowAutoTopicCreation = false
        let refused = try #require(try await harness.call(noCreate, version: 8, as: MetadataResponse.self))
        #expect(refused.topics[0].errorCode == .unknownTopicOrPartition)
    }

    @Test func idempotentRetryGetsItsOriginalOffsetAndGapsAreRefused() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.createTopic("t")
        let pid = try #require(try await harness.call(InitProducerIdRequest(), version: 1,
                                                      as: InitProducerIdResponse.self)).producerId
        #expect(pid >= 0)
        let first = try batch(["a", "b"], producerId: pid, epoch: 0, sequence: 0)
        #expect(try await harness.produce("t", batch: first)?.baseOffset == 0)
        #expect(try await harness.produce("t", batch: batch(["c"], producerId: pid, epoch: 0, sequence: 2))?.baseOffset == 2)
        let retry = try #require(try await harness.produce("t", batch: first))
        #expect(retry.errorCode == .noError && retry.baseOffset == 0, "duplicate answered with its original offset")
        #expect(try await harness.produce("t", batch: batch(["gap"], producerId: pid, epoch: 0, sequence: 9))?
            .errorCode == .outOfOrderSequenceNumber)
        _ = try await harness.produce("t", batch: batch(["new epoch"], producerId: pid, epoch: 1, sequence: 0))
        #expect(try await harness.produce("t", batch: batch(["stale"], producerId: pid, epoch: 0, sequence: 3))?
            .errorCode == .invalidProducerEpoch)
        #expect(harness.logs.log(for: TopicPartition("t", 0))?.logEndOffset == 4)
    }

    @Test(arguments: [true, false])
    func idempotenceAndProducerIdsSurviveARestart(clean: Bool) async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.createTopic("t")
        let pid = try #require(try await harness.call(InitProducerIdRequest(), version: 0,
                                                      as: InitProducerIdResponse.self)).producerId
        let first = try batch(["a"], producerId: pid, epoch: 0, sequence: 0)
        #expect(try await harness.produce("t", batch: first)?.baseOffset == 0)
        try harness.restart(clean: clean)
        let retry = try #require(try await harness.produce("t", batch: first))
        #expect(retry.baseOffset == 0, "a retry after the restart is still recognised")
        #expect(harness.logs.log(for: TopicPartition("t", 0))?.logEndOffset == 1)
        let next = try #require(try await harness.call(InitProducerIdRequest(), version: 0,
                                                       as: InitProducerIdResponse.self)).producerId
        #expect(next > pid, "producer ids are never reused across restarts")
    }

    @Test func randomFramesNeverCrashTheBroker() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.createTopic("t")
        let seed = ProcessInfo.processInfo.environment["STRATA_TEST_SEED"].flatMap(UInt64.init)
            ?? UInt64(Date().timeIntervalSince1970)
        print("randomFramesNeverCrashTheBroker: seed \(seed)")
        var random = SplitMix(seed: seed)
        var answered = 0
        for round in 0..<2000 {
            var frame = ByteBuffer()
            // A valid header for a random API/version, then random bytes.
            let api = ApiKey.allCases.randomElement(using: &random)!
            frame.writeInteger(api.rawValue)
            frame.writeInteger(Int16.random(in: -1...12, using: &random))
            frame.writeInteger(Int32(round))
            frame.writeInteger(Int16(-1))
            for _ in 0..<Int.random(in: 0...64, using: &random) { frame.writeInteger(UInt8.random(in: 0...255, using: &random)) }
            do {
                if try await harness.broker.handle(frame: frame, eventLoop: harness.group.next()) != nil { answered += 1 }
            } catch {
                // Closing the connection is a legal answer to garbage.
            }
        }
        print("randomFramesNeverCrashTheBroker: \(answered) of 2000 frames answered")
        #expect(try await harness.fetch("t", offset: 0).responses.first?.partitions.first?.errorCode == .noError)
    }
}

struct SplitMix: RandomNumberGenerator {
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

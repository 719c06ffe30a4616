import Foundation
import Logging
import NIOCore
import NIOPosix
import StrataProtocol
import StrataRecords

/// Producer settings (Kafka's names in the doc comments).
public struct ProducerConfig: Sendable {
    /// `acks`: 0 (no answer), 1 (leader wrote it), -1 (all: durable — fsynced on Strata).
    public var acks: Int16 = -1
    /// `linger.ms`: how long a partition's batch waits for more records.
    public var lingerMilliseconds: Int64 = 5
    /// `batch.size`: a batch is sent as soon as it reaches this size.
    public var batchBytes = 16_384
    /// `compression.type`: `.lz4` or `.none`.
    public var compression: CompressionCodec = .lz4
    /// Batches whose records are smaller than this are sent uncompressed (LZ4 would not pay).
    public var compressionThresholdBytes = 256
    /// `buffer.memory`: records buffered or in flight; `send`/`enqueue` wait while it is full.
    public var bufferBytes = 32 << 20
    /// Key placement (murmur2 like Java/kafka-python/aiokafka, or librdkafka's crc32).
    public var partitioner: Partitioner = .murmur2
    public var clientId = "strata-swift-producer"

    public init() {}
}

/// Where a record landed.
public struct RecordMetadata: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    /// -1 with acks=0.
    public var offset: Int64
}

/// An async/await Kafka producer: records are batched per partition (`linger.ms`, `batch.size`),
/// LZ4-compressed, and sent with several requests in flight per connection.
///
/// Thread-safe: all mutable state lives in the `Accumulator` actor and the `Cluster` actor.
public final class StrataProducer: Sendable {
    public let config: ProducerConfig
    private let cluster: Cluster
    private let accumulator: Accumulator
    private let group: EventLoopGroup
    private let ownsGroup: Bool

    /// Connects to one of `bootstrap` (`host:port`).
    public init(
        bootstrap: [String], config: ProducerConfig = ProducerConfig(), group: EventLoopGroup? = nil
    )
        async throws
    {
        self.config = config
        self.group = group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        ownsGroup = group == nil
        cluster = try Cluster(bootstrap: bootstrap, group: self.group, clientId: config.clientId)
        accumulator = Accumulator(config: config, cluster: cluster)
        _ = try await cluster.anyConnection()
    }

    /// Sends one record and waits until the broker acknowledged it (per `acks`).
    @discardableResult
    public func send(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = [],
        partition: Int32? = nil, timestamp: Int64? = nil
    ) async throws -> RecordMetadata {
        let record = try await prepare(
            topic: topic, key: key, value: value, headers: headers, partition: partition,
            timestamp: timestamp)
        return try await withCheckedThrowingContinuation { continuation in
            Task { await accumulator.append(record, continuation: continuation) }
        }
    }

    /// Buffers one record and returns at once (waiting only while `buffer.memory` is full); a
    /// failure is reported by the next `flush()`.
    public func enqueue(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = [],
        partition: Int32? = nil, timestamp: Int64? = nil
    ) async throws {
        let record = try await prepare(
            topic: topic, key: key, value: value, headers: headers, partition: partition,
            timestamp: timestamp)
        await accumulator.append(record, continuation: nil)
    }

    /// Sends everything buffered and waits for every answer; throws the first failure since the
    /// previous flush.
    public func flush() async throws {
        try await accumulator.flush()
    }

    /// Flushes, then closes the connections.
    public func close() async throws {
        defer { if ownsGroup { group.shutdownGracefully { _ in } } }
        try await flush()
        await cluster.close()
    }

    private func prepare(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader], partition: Int32?,
        timestamp: Int64?
    ) async throws -> Accumulator.Record {
        let partitions = try await cluster.partitions(of: topic)
        let target: Int32?
        if let partition {
            guard partitions.contains(where: { $0.partition == partition }) else {
                throw ClientError.broker(.produce, .unknownTopicOrPartition, topic: topic, partition: partition)
            }
            target = partition
        } else {
            target = config.partitioner.partition(for: key, count: Int32(partitions.count))
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return Accumulator.Record(
            topic: topic, partition: target, partitionCount: Int32(partitions.count), key: key,
            value: value, headers: headers, timestamp: timestamp ?? now)
    }
}

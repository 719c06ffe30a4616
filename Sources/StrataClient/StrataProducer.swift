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
    /// `enable.idempotence`: nil (the default) means on exactly when `acks` is all, as in Kafka 3.
    /// Idempotent batches carry a producer id and sequence numbers, so a batch resent after a lost
    /// answer or a dropped connection is written once, in order. `true` with acks other than all is
    /// refused (`invalidArgument`).
    public var enableIdempotence: Bool?
    /// `linger.ms`: how long a partition's batch waits for more records.
    public var lingerMilliseconds: Int64 = 5
    /// `batch.size`: a batch is closed before a record would take it past this size.
    public var batchBytes = 16_384
    /// `compression.type`: `.lz4` or `.none`.
    public var compression: CompressionCodec = .lz4
    /// Batches whose records are smaller than this are sent uncompressed (LZ4 would not pay).
    public var compressionThresholdBytes = 256
    /// `buffer.memory`: records buffered or in flight; `send`/`enqueue` wait while it is full.
    public var bufferBytes = 32 << 20
    /// `max.block.ms`: how long `send`/`enqueue` wait for buffer space or for topic metadata, and
    /// how long the constructor waits for a bootstrap broker, before throwing.
    public var maxBlockMilliseconds: Int64 = 60_000
    /// `max.request.size`: a record larger than this is refused before sending (`recordTooLarge`).
    public var maxRequestBytes = 1_048_576
    /// `max.in.flight.requests.per.connection`, applied per partition (at most 5 when idempotent:
    /// the broker remembers five batches per producer for de-duplication).
    public var maxInFlightRequests = 5
    /// `retries`: attempts after the first for a batch that failed with a retriable error (a
    /// dropped connection, a leader change, a timeout), bounded also by `delivery.timeout.ms`.
    public var retries = Int.max
    /// `retry.backoff.ms` and `retry.backoff.max.ms`: the wait before a retry doubles from the
    /// first to the second (with ±20 % jitter).
    public var retryBackoffMilliseconds: Int64 = 100
    public var retryBackoffMaxMilliseconds: Int64 = 1_000
    /// `request.timeout.ms`: a request (produce, metadata, …) unanswered after this closes its
    /// connection and is retried (produce batches: within `delivery.timeout.ms`).
    public var requestTimeoutMilliseconds: Int64 = 30_000
    /// `delivery.timeout.ms`: a record not acknowledged this long after `send`/`enqueue` fails with
    /// `timedOut`.
    public var deliveryTimeoutMilliseconds: Int64 = 120_000
    /// Whether `deliveryReports` yields the outcome of every record (off by default: reports not
    /// read would accumulate).
    public var deliveryReports = false
    /// Key placement (murmur2 like Java/kafka-python/aiokafka, or librdkafka's crc32).
    public var partitioner: Partitioner = .murmur2
    public var clientId = "strata-swift-producer"

    public init() {}

    /// Whether batches are idempotent under this configuration.
    public var isIdempotent: Bool { enableIdempotence ?? (acks == -1) }
}

/// Where a record landed.
public struct RecordMetadata: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    /// -1 with acks=0.
    public var offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// The outcome of one batch of records given to `enqueue` (or `send`), in the order they were
/// given: the record with `recordIds[i]` is at `baseOffset + i`.
public struct DeliveryReport: Sendable {
    public var topic: String
    public var partition: Int32
    /// The ids `enqueue` returned, in offset order.
    public var recordIds: [UInt64]
    /// Offset of the first record; -1 with acks=0 or when delivery failed.
    public var baseOffset: Int64
    /// Why the batch was not delivered; nil when it was.
    public var error: (any Error)?

    /// The offset of the record with `recordIds[index]`, nil when not delivered or unknown.
    public func offset(at index: Int) -> Int64? {
        error == nil && baseOffset >= 0 ? baseOffset + Int64(index) : nil
    }
}

/// An async/await Kafka producer: records are batched per partition (`linger.ms`, `batch.size`),
/// LZ4-compressed, and sent with several requests in flight per partition. Retriable failures
/// (dropped connections, leader changes, timeouts) are retried with backoff; idempotent batches
/// (the default with acks=all) keep their sequence numbers across retries, so nothing is written
/// twice or out of order.
///
/// Thread-safe: the per-record state (open batches, partition counts, record ids) lives in the
/// accumulator's `RecordAppender` under one `Mutex`; everything after a batch closes in the
/// `Accumulator` actor; the cluster view in the `Cluster` actor.
public final class StrataProducer: Sendable {
    public let config: ProducerConfig
    /// Outcomes of batches, when `config.deliveryReports` is on (else it never yields). Finishes
    /// after `close()`.
    public let deliveryReports: AsyncStream<DeliveryReport>
    private let cluster: Cluster
    private let accumulator: Accumulator
    private let group: EventLoopGroup
    private let ownsGroup: Bool

    /// Connects to one of `bootstrap` (`host:port`), retrying for up to `max.block.ms` (then
    /// `ClientError.noBrokerAvailable` names the addresses tried).
    public init(
        bootstrap: [String], config: ProducerConfig = ProducerConfig(), group: EventLoopGroup? = nil
    )
        async throws
    {
        if config.enableIdempotence == true && config.acks != -1 {
            throw ClientError.invalidArgument("enable.idempotence requires acks=all (-1), not \(config.acks)")
        }
        guard config.batchBytes > 0, config.bufferBytes > 0, config.maxInFlightRequests > 0 else {
            throw ClientError.invalidArgument("batch.size, buffer.memory and max.in.flight must be positive")
        }
        self.config = config
        let eventLoops = group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = eventLoops
        ownsGroup = group == nil
        let (reports, reportSink) = AsyncStream.makeStream(of: DeliveryReport.self)
        deliveryReports = reports
        cluster = try Cluster(
            bootstrap: bootstrap, group: eventLoops, clientId: config.clientId,
            requestTimeout: .milliseconds(config.requestTimeoutMilliseconds))
        accumulator = Accumulator(config: config, cluster: cluster, reports: config.deliveryReports ? reportSink : nil)
        if !config.deliveryReports { reportSink.finish() }
        do {
            try await cluster.waitUntilReachable(timeout: .milliseconds(config.maxBlockMilliseconds))
        } catch {
            await cluster.close()
            if ownsGroup { try? await eventLoops.shutdownGracefully() }
            throw error
        }
    }

    /// Sends one record and waits until the broker acknowledged it (per `acks`).
    @discardableResult
    public func send(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = [],
        partition: Int32? = nil, timestamp: Int64? = nil
    ) async throws -> RecordMetadata {
        let size = try checkedCharge(topic: topic, key: key, value: value, headers: headers)
        let accumulator = accumulator
        while true {
            try await accumulator.waitForSpace(size)
            do {
                return try await withCheckedThrowingContinuation { (continuation: RecordAppender.Waiter) in
                    let now = Self.wallClockMilliseconds()
                    do {
                        switch try accumulator.appender.append(
                            topic: topic, key: key, value: value, headers: headers, partition: partition,
                            timestamp: timestamp ?? now, now: now, size: size, waiter: continuation, waited: true)
                        {
                        case .added: break  // the accumulator resumes it with the outcome
                        case .full, .needsPartitionCount: continuation.resume(throwing: PartitionCountNeeded())
                        }
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            } catch is PartitionCountNeeded {
                try await refreshPartitionCount(topic)
            }
        }
    }

    /// Buffers one record and returns its id at once (waiting only while `buffer.memory` is full,
    /// at most `max.block.ms`). Its outcome comes in `deliveryReports` (when enabled) under that id;
    /// a failure is also thrown by the next `flush()`.
    ///
    /// The common case does not suspend: the record is encoded into its partition's batch under
    /// one lock; it waits only for a full buffer or for the topic's partition count (fetched on
    /// first use, re-read every second).
    @discardableResult
    public func enqueue(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader] = [],
        partition: Int32? = nil, timestamp: Int64? = nil
    ) async throws -> UInt64 {
        let size = try checkedCharge(topic: topic, key: key, value: value, headers: headers)
        var waited = false
        while true {
            let now = Self.wallClockMilliseconds()
            switch try accumulator.appender.append(
                topic: topic, key: key, value: value, headers: headers, partition: partition,
                timestamp: timestamp ?? now, now: now, size: size, waiter: nil, waited: waited)
            {
            case .added(let id):
                return id
            case .full:
                try await accumulator.waitForSpace(size)
                waited = true
            case .needsPartitionCount:
                try await refreshPartitionCount(topic)
            }
        }
    }

    /// A record's `buffer.memory` charge, after checking it against `max.request.size` and
    /// `buffer.memory` (`recordTooLarge`).
    @inline(__always)
    private func checkedCharge(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader]
    ) throws(ClientError) -> Int {
        let bound = Accumulator.encodedSizeBound(key: key, value: value, headers: headers)
        if bound > config.maxRequestBytes || bound > config.bufferBytes {
            throw .recordTooLarge(topic: topic, bytes: bound, limit: min(config.maxRequestBytes, config.bufferBytes))
        }
        return Accumulator.bufferCharge(key: key, value: value)
    }

    /// Thrown inside `send` when the appender needs the partition count (never escapes).
    private struct PartitionCountNeeded: Error {}

    /// Fetches the topic's partition count into the appender.
    private func refreshPartitionCount(_ topic: String) async throws {
        let count = Int32(try await partitions(of: topic).count)
        accumulator.appender.setPartitionCount(topic, count, now: Self.wallClockMilliseconds())
    }

    /// Sends everything buffered and waits for every answer; throws the first failure since the
    /// previous flush.
    public func flush() async throws {
        try await accumulator.flush()
    }

    /// Flushes, then closes the connections and finishes `deliveryReports`.
    public func close() async throws {
        defer { if ownsGroup { group.shutdownGracefully { _ in } } }
        var failure: Error?
        do { try await flush() } catch { failure = error }
        await accumulator.finishReports()
        await cluster.close()
        if let failure { throw failure }
    }

    /// Milliseconds since the epoch (the record timestamp), straight from the clock.
    static func wallClockMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// The topic's partitions, retrying retriable trouble (broker down, leader unknown) for up to
    /// `max.block.ms`.
    private func partitions(of topic: String) async throws -> [Cluster.PartitionInfo] {
        let deadline = ContinuousClock.now + .milliseconds(config.maxBlockMilliseconds)
        var backoff = Duration.milliseconds(config.retryBackoffMilliseconds)
        while true {
            do {
                return try await cluster.partitions(of: topic)
            } catch let error as ClientError where error.isRetriable {
                let now = ContinuousClock.now
                if now >= deadline { throw error }
                try await Task.sleep(for: min(backoff, deadline - now))
                backoff = min(backoff * 2, .milliseconds(config.retryBackoffMaxMilliseconds))
            }
        }
    }
}

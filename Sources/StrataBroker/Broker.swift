import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import StrataProtocol
import StrataRecords
import StrataStorage
import Synchronization

/// The request handlers: decode a frame, run the API against storage, encode the answer.
///
/// Knows nothing of sockets: `KafkaServer` feeds it frames in connection order and writes what it
/// returns. Concurrency: stateless apart from the `LogManager` (which guards itself), the
/// `FetchWaiters` and `ProducerStateTable` (each one `Mutex`), the striped append locks (one
/// `NIOLock` per stripe, held around an idempotent check → append → record), and the advertised
/// address (a `Mutex`, set once the listener is bound).
public final class Broker: Sendable {
    public let config: BrokerConfig
    public let logs: LogManager
    public let metrics = BrokerMetrics()
    let logger: Logger
    let versions = ApiVersionsTable.standard
    let waiters = FetchWaiters()
    let producers: ProducerStateTable
    /// The consumer-group coordinator (owns every group and `__consumer_offsets`).
    public let groups: GroupCoordinator
    private let appendLocks: [NIOLock]
    private let advertised: Mutex<(host: String, port: Int)>
    static let appendLockStripes = 64
    /// Leader epoch of every partition: a single node never changes leader.
    static let leaderEpoch: Int32 = 0

    public init(config: BrokerConfig, logs: LogManager, logger: Logger) {
        self.config = config
        self.logs = logs
        self.logger = logger
        producers = ProducerStateTable { (count) throws(StorageError) in try logs.reserveProducerIds(count: count) }
        appendLocks = (0..<Self.appendLockStripes).map { _ in NIOLock() }
        advertised = Mutex(config.advertisedAddress(boundPort: config.listenPort))
        groups = GroupCoordinator(config: config.groups, logs: logs, logger: logger)
        rebuildProducerState()
        groups.startLoading()
    }

    /// Segments scanned per partition at startup to rebuild idempotent-producer state.
    static let producerStateSegmentsScanned = 2

    /// Replays the batch headers of each partition's newest segments so retried batches from
    /// idempotent producers are still recognised after a restart or crash.
    private func rebuildProducerState() {
        var batches = 0
        for log in logs.allLogs() {
            do throws(StorageError) {
                try log.forEachBatchHeader(inLastSegments: Self.producerStateSegmentsScanned) { header in
                    guard header.producerId >= 0, header.baseSequence >= 0, !header.isControl else { return }
                    producers.record(
                        partition: log.topicPartition, producerId: header.producerId,
                        epoch: header.producerEpoch,
                        batch: .init(
                            firstSequence: header.baseSequence, lastSequence: header.lastSequence,
                            firstOffset: header.baseOffset, lastOffset: header.lastOffset))
                    batches += 1
                }
            } catch {
                logger.error(
                    "cannot rebuild producer state",
                    metadata: [
                        "partition": "\(log.topicPartition)",
                        "error": "\(error)",
                    ])
            }
        }
        if batches > 0 { logger.info("rebuilt idempotent-producer state", metadata: ["batches": "\(batches)"]) }
    }

    /// Records the bound port (after binding to port 0) for Metadata answers.
    public func setBoundPort(_ port: Int) {
        advertised.withLock { $0 = config.advertisedAddress(boundPort: port) }
    }

    var advertisedAddress: (host: String, port: Int) { advertised.withLock { $0 } }

    func appendLock(for partition: TopicPartition) -> NIOLock {
        appendLocks[Int(UInt(bitPattern: partition.hashValue) % UInt(Self.appendLockStripes))]
    }

    /// Runs file-heavy admin work (creating or deleting thousands of partitions takes seconds, and
    /// topic changes wait for each other) on a thread of its own, so it never holds a thread of the
    /// cooperative pool every connection's requests run on — nor of Dispatch's global queues, which
    /// on Linux share that pool's worker threads (found while investigating a long fuzzing run: two
    /// CreateTopics of 3 000 partitions stalled every other client for 12 s). Admin requests are
    /// rare; a thread each is cheap next to the file work.
    private func offTheTaskPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: work()) }
            thread.name = "strata-admin"
            thread.start()
        }
    }

    private func countErrors(_ api: ApiKey, _ codes: [KafkaErrorCode]) {
        for code in codes where code != .noError { metrics.error(api, code) }
    }

    /// Handles one request frame (the bytes after the size prefix). Returns the response frame, or nil
    /// when the request gets no answer (Produce with acks=0). Throws for frames the connection must
    /// be closed over (malformed, unknown API, unsupported version: `ProtocolError`), or when a file
    /// part of the answer cannot be read (`StorageError`; the server sends files without this copy).
    /// `clientHost` is the peer's address as Kafka shows it (`/127.0.0.1`), reported by DescribeGroups.
    public func handle(
        frame: ByteBuffer, eventLoop: EventLoop, clientHost: String = ""
    ) async throws
        -> ByteBuffer?
    {
        var frame = frame
        let (header, request) = try AnyKafkaRequest.decode(frame: &frame)
        if let api = header.api { metrics.request(api) }
        return try await respond(header, request, eventLoop: eventLoop, clientHost: clientHost)?.flattened()
    }

    /// A request's answer as the connection sees it: nothing (acks=0), ready now, or still waiting
    /// for durability (acks=all) — in which case the connection may go on with its next request.
    public enum Answer: Sendable {
        case none
        case ready(ResponseFrame)
        case pending(Task<ResponseFrame?, Never>)
    }

    /// Like `handle`, but an acks=all Produce is answered with `.pending` as soon as its batches are
    /// appended: the connection can read and append its next requests while this one waits for its
    /// fsync (answers still go out in request order — the connection's job). Appends stay in request
    /// order because this returns only after them.
    /// `connectionClosed` completes when the asking connection closes: a JoinGroup or SyncGroup held
    /// for a rebalance is then let go (its answer could not be delivered anyway).
    public func begin(
        frame: ByteBuffer, eventLoop: EventLoop, clientHost: String = "",
        connectionClosed: EventLoopFuture<Void>? = nil
    ) async throws(ProtocolError)
        -> Answer
    {
        var frame = frame
        let (header, request) = try AnyKafkaRequest.decode(frame: &frame)
        if let api = header.api { metrics.request(api) }
        if case .produce(let produce) = request, produce.acks == -1 {
            let start = ContinuousClock.now
            let appended = appendProduce(produce)
            return .pending(
                Task {
                    let response = await completeProduce(appended)
                    metrics.produceLatency.record(duration: ContinuousClock.now - start)
                    guard let response else { return nil }
                    countErrors(.produce, response.responses.flatMap { $0.partitions.map(\.errorCode) })
                    var out = ByteBufferAllocator().buffer(capacity: 256)
                    response.encodeFrame(into: &out, version: header.apiVersion, correlationId: header.correlationId)
                    return ResponseFrame(buffer: out)
                })
        }
        return try await respond(
            header, request, eventLoop: eventLoop, clientHost: clientHost, connectionClosed: connectionClosed
        ).map { .ready($0) } ?? .none
    }

    private func respond(
        _ header: RequestHeader, _ request: AnyKafkaRequest, eventLoop: EventLoop, clientHost: String,
        connectionClosed: EventLoopFuture<Void>? = nil
    )
        async throws(ProtocolError) -> ResponseFrame?
    {
        let version = header.apiVersion
        var out = ByteBufferAllocator().buffer(capacity: 256)
        func answer<R: KafkaResponse>(_ response: R) -> ResponseFrame {
            response.encodeFrame(into: &out, version: version, correlationId: header.correlationId)
            return ResponseFrame(buffer: out)
        }
        switch request {
        case .apiVersions:
            return answer(versions.apiVersionsResponse())
        case .unsupportedApiVersions:
            versions.unsupportedApiVersionsResponse.encodeFrame(
                into: &out, version: 0,
                correlationId: header.correlationId)
            return ResponseFrame(buffer: out)
        case .metadata(let request):
            // Auto-creating a topic waits for any topic creation or deletion in progress: off the pool.
            let creates =
                config.autoCreateTopics && request.allowAutoTopicCreation
                && (request.topics ?? []).contains { logs.topic($0) == nil }
            let response =
                creates
                ? await offTheTaskPool { self.metadata(request, version: version) }
                : metadata(request, version: version)
            return answer(response)
        case .produce(let request):
            let start = ContinuousClock.now
            let response = await produce(request)
            metrics.produceLatency.record(duration: ContinuousClock.now - start)
            countErrors(.produce, response?.responses.flatMap { $0.partitions.map(\.errorCode) } ?? [])
            guard let response else { return nil }
            return answer(response)
        case .fetch(let request):
            let start = ContinuousClock.now
            let (response, slices) = await fetch(request, eventLoop: eventLoop)
            metrics.fetchLatency.record(duration: ContinuousClock.now - start)
            countErrors(.fetch, [response.errorCode] + response.responses.flatMap { $0.partitions.map(\.errorCode) })
            guard !slices.isEmpty else { return answer(response) }
            let (buffer, externals) = response.encodeFrameWithExternals(
                version: version, correlationId: header.correlationId)
            assert(externals.map(\.length) == slices.map(\.length), "one external range per file slice")
            metrics.sendfileBytes.increment(by: slices.reduce(0) { $0 + $1.length })
            return ResponseFrame(
                buffer: buffer,
                files: zip(externals, slices).map { ResponseFrame.FilePart(position: $0.position, slice: $1) })
        case .listOffsets(let request):
            return answer(listOffsets(request))
        case .initProducerId(let request):
            return answer(initProducerId(request))
        case .createTopics(let request):
            return answer(await offTheTaskPool { self.createTopics(request) })
        case .deleteTopics(let request):
            return answer(await offTheTaskPool { self.deleteTopics(request) })
        case .describeConfigs(let request):
            return answer(describeConfigs(request))
        case .offsetForLeaderEpoch(let request):
            return answer(offsetForLeaderEpoch(request))
        case .deleteRecords(let request):
            return answer(deleteRecords(request))
        case .alterConfigs(let request):
            return answer(alterConfigs(request))
        case .incrementalAlterConfigs(let request):
            return answer(incrementalAlterConfigs(request))
        case .findCoordinator, .offsetCommit, .offsetFetch, .joinGroup, .heartbeat, .leaveGroup, .syncGroup,
            .describeGroups, .listGroups, .deleteGroups:
            return ResponseFrame(
                buffer: await handleGroupRequest(
                    request, header: header, clientHost: clientHost, connectionClosed: connectionClosed))
        }
    }
}

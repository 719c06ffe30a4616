import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import StrataProtocol
import Synchronization

/// The TCP listener: accepts connections, splits each byte stream into frames, and hands frames to
/// the `Broker` one at a time per connection, so responses go out strictly in request order (and a
/// Produce with acks=0 gets none). Connections are independent tasks: a parked Fetch on one never
/// delays another. A malformed or oversize frame closes only its connection, with a log line
/// naming the peer and what was wrong.
///
/// Runs as a `Service`: on graceful shutdown it stops accepting, lets every connection finish the
/// request it is on, then returns so the owner can close the storage.
public final class KafkaServer: Service, Sendable {
    public let broker: Broker
    private let group: EventLoopGroup
    private let logger: Logger
    private let connections = Mutex<[ObjectIdentifier: Channel]>([:])
    private let boundPortBox = Mutex<Int?>(nil)
    /// Answers a connection may have outstanding (appended, waiting for fsync or for earlier answers).
    static let pipelinedRequestsMax = 64

    /// Called once with the bound port (tests and the CLI print it).
    private let onBound: @Sendable (Int) -> Void

    public init(
        broker: Broker, group: EventLoopGroup, logger: Logger, onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.broker = broker
        self.group = group
        self.logger = logger
        self.onBound = onBound
    }

    /// The port the listener is bound to, once bound.
    public var boundPort: Int? { boundPortBox.withLock { $0 } }

    public func run() async throws {
        let frameBytesMax = broker.config.socketRequestMaxBytes
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: broker.config.listenHost, port: broker.config.listenPort) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(KafkaFrameDecoder(frameBytesMax: frameBytesMax)))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress?.port ?? broker.config.listenPort
        boundPortBox.withLock { $0 = port }
        broker.setBoundPort(port)
        logger.info("listening", metadata: ["address": "\(broker.config.listenHost):\(port)"])
        onBound(port)
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            self.logger.info("shutting down: no new connections, finishing in-flight requests")
            server.channel.close(promise: nil)
            // Held JoinGroup/SyncGroup answers must not hold the drain up for a rebalance timeout.
            self.broker.groups.shutDown()
            // Stop reading new requests; each connection ends after the request it is handling.
            for channel in self.connections.withLock({ Array($0.values) }) {
                channel.close(mode: .input, promise: nil)
            }
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let channel = connection.channel
        let id = ObjectIdentifier(channel)
        let peer = channel.remoteAddress?.description ?? "unknown peer"
        connections.withLock { $0[id] = channel }
        broker.metrics.connectionOpened()
        defer {
            _ = connections.withLock { $0.removeValue(forKey: id) }
            broker.metrics.connectionClosed()
        }
        do {
            try await connection.executeThenClose { inbound, outbound in
                // Reader (this task) appends requests in order; a writer task sends the answers in the
                // same order, waiting on acks=all answers for their fsync. At most
                // `pipelinedRequestsMax` answers are outstanding, so a client cannot queue unbounded work.
                let window = InFlightWindow(limit: Self.pipelinedRequestsMax)
                let (answers, pending) = AsyncStream.makeStream(of: Broker.Answer.self)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    let broker = self.broker
                    group.addTask {
                        for await answer in answers {
                            let response: ByteBuffer?
                            switch answer {
                            case .none: response = nil
                            case .ready(let buffer): response = buffer
                            case .pending(let task): response = await task.value
                            }
                            if let response {
                                broker.metrics.bytesOut.increment(by: Int64(response.readableBytes))
                                try await outbound.write(response)
                            }
                            await window.release()
                        }
                    }
                    defer { pending.finish() }
                    for try await frame in inbound {
                        broker.metrics.bytesIn.increment(by: Int64(frame.readableBytes + KafkaFrame.sizePrefixBytes))
                        await window.acquire()
                        let answer: Broker.Answer
                        do throws(ProtocolError) {
                            answer = try await broker.begin(frame: frame, eventLoop: channel.eventLoop)
                        } catch {
                            logger.warning(
                                "closing connection: bad request",
                                metadata: ["peer": "\(peer)", "error": "\(error)"])
                            break
                        }
                        pending.yield(answer)
                    }
                    pending.finish()
                    try await group.waitForAll()
                }
            }
        } catch let error as ProtocolError {
            logger.warning("closing connection: bad frame", metadata: ["peer": "\(peer)", "error": "\(error)"])
        } catch {
            logger.debug("connection ended", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }
}

/// Bounds a connection's outstanding answers: `acquire` waits while `limit` are outstanding.
/// An actor: it owns the count and the waiters.
actor InFlightWindow {
    private let limit: Int
    private var count = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = limit }

    func acquire() async {
        while count >= limit { await withCheckedContinuation { waiters.append($0) } }
        count += 1
    }

    func release() {
        count -= 1
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }
}

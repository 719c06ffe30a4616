import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import StrataProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

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
    /// Rate limit for the warnings about connections closed for bad input.
    private let badInputWarnings = LogRateLimiter()
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
        let idleMilliseconds = broker.config.connectionsMaxIdleMilliseconds
        let logger = self.logger
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: broker.config.listenHost, port: broker.config.listenPort) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if idleMilliseconds > 0 {
                        try channel.pipeline.syncOperations.addHandler(
                            IdleStateHandler(allTimeout: .milliseconds(idleMilliseconds)))
                        try channel.pipeline.syncOperations.addHandler(IdleConnectionCloser(logger: logger))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        KafkaFrameHandler(frameBytesMax: frameBytesMax))
                    try channel.pipeline.syncOperations.addHandler(FileRegionCloser())
                    return try NIOAsyncChannel<ByteBuffer, IOData>(wrappingChannelSynchronously: channel)
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
            // Nor parked long-poll fetches for their max_wait_ms.
            self.broker.waiters.shutDown()
            // Stop reading new requests; each connection ends after the request it is handling.
            for channel in self.connections.withLock({ Array($0.values) }) {
                channel.close(mode: .input, promise: nil)
            }
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, IOData>) async {
        let channel = connection.channel
        let id = ObjectIdentifier(channel)
        let peer = channel.remoteAddress?.description ?? "unknown peer"
        // Kafka shows a member's host as "/" + its IP address (DescribeGroups client_host).
        let clientHost = channel.remoteAddress?.ipAddress.map { "/" + $0 } ?? ""
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
                        do {
                            for await answer in answers {
                                let response: ResponseFrame?
                                switch answer {
                                case .none: response = nil
                                case .ready(let frame): response = frame
                                case .pending(let task): response = await task.value
                                }
                                if let response {
                                    broker.metrics.bytesOut.increment(by: Int64(response.byteCount))
                                    try await Self.write(response, to: outbound)
                                }
                                await window.release()
                            }
                        } catch {
                            // The peer is gone: a reader waiting for a free slot must not wait forever.
                            await window.close()
                            throw error
                        }
                    }
                    defer { pending.finish() }
                    for try await frame in inbound {
                        broker.metrics.bytesIn.increment(by: Int64(frame.readableBytes + KafkaFrame.sizePrefixBytes))
                        guard await window.acquire() else { break }
                        let answer: Broker.Answer
                        do throws(ProtocolError) {
                            answer = try await broker.begin(
                                frame: frame, eventLoop: channel.eventLoop, clientHost: clientHost,
                                connectionClosed: channel.closeFuture)
                        } catch {
                            broker.metrics.badRequest(.request)
                            self.warnBadInput("closing connection: bad request", peer: peer, error: error)
                            break
                        }
                        pending.yield(answer)
                    }
                    pending.finish()
                    try await group.waitForAll()
                }
            }
        } catch let error as ProtocolError {
            broker.metrics.badRequest(.frame)
            warnBadInput("closing connection: bad frame", peer: peer, error: error)
        } catch {
            logger.debug("connection ended", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }
}

extension KafkaServer {
    /// Logs a connection closed for bad input, at most `badInputWarnings.linesPerWindow` lines per
    /// window; the next line written says how many were left out.
    private func warnBadInput(_ message: Logger.Message, peer: String, error: any Error) {
        let (write, suppressed) = badInputWarnings.admit()
        guard write else { return }
        var metadata: Logger.Metadata = ["peer": "\(peer)", "error": "\(error)"]
        if suppressed > 0 { metadata["suppressed_before"] = "\(suppressed)" }
        logger.warning(message, metadata: metadata)
    }

    /// Writes a response: its bytes, and its file parts as `FileRegion`s (sendfile) on duplicated
    /// descriptors that `FileRegionCloser` closes once each write completes. A region that never
    /// reaches the channel (the write failed first) is closed here.
    static func write(_ response: ResponseFrame, to outbound: NIOAsyncChannelOutboundWriter<IOData>) async throws {
        guard !response.files.isEmpty else {
            try await outbound.write(.byteBuffer(response.buffer))
            return
        }
        var parts: [IOData] = []
        var handles: [NIOFileHandle] = []
        var cursor = response.buffer.readerIndex
        do {
            for part in response.files {
                parts.append(.byteBuffer(response.buffer.getSlice(at: cursor, length: part.position - cursor)!))
                let descriptor = dup(part.slice.fileDescriptor)
                guard descriptor >= 0 else {
                    throw IOError(errnoCode: errno, reason: "dup of \(part.slice.filePath) for sendfile")
                }
                let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: descriptor)
                handles.append(handle)
                parts.append(
                    .fileRegion(
                        FileRegion(
                            fileHandle: handle, readerIndex: part.slice.filePosition,
                            endIndex: part.slice.filePosition + part.slice.length)))
                cursor = part.position
            }
            let tail = response.buffer.writerIndex - cursor
            if tail > 0 { parts.append(.byteBuffer(response.buffer.getSlice(at: cursor, length: tail)!)) }
            try await outbound.write(contentsOf: parts)
        } catch {
            // Regions already in the channel are closed by FileRegionCloser (a second close only throws).
            for handle in handles { try? handle.close() }
            throw error
        }
    }
}

/// Closes a connection that read and wrote nothing for `connections.max.idle.ms` (the
/// `IdleStateHandler` in front of it raises the event), as Kafka's idle reaper does, so abandoned
/// sockets do not hold descriptors forever. Lives in one channel pipeline; event-loop only.
final class IdleConnectionCloser: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is IdleStateHandler.IdleStateEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        logger.info(
            "closing idle connection (connections.max.idle.ms)",
            metadata: ["peer": "\(context.channel.remoteAddress?.description ?? "unknown peer")"])
        context.close(promise: nil)
    }
}

/// Closes each `FileRegion`'s handle once its write completed or failed (including when the
/// connection closes with the write still queued). Lives in one channel pipeline; event-loop only.
final class FileRegionCloser: ChannelOutboundHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .fileRegion(let region) = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        let done = promise ?? context.eventLoop.makePromise()
        done.futureResult.whenComplete { _ in try? region.fileHandle.close() }
        context.write(data, promise: done)
    }
}

/// Bounds a connection's outstanding answers: `acquire` waits while `limit` are outstanding.
/// `close` (the writer failed: the peer is gone) wakes every waiter and makes `acquire` return false,
/// so a reader that pipelined past the limit does not wait forever for answers nobody will send.
/// An actor: it owns the count and the waiters.
actor InFlightWindow {
    private let limit: Int
    private var count = 0
    private var closed = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = limit }

    /// Takes a slot; false once the window is closed.
    func acquire() async -> Bool {
        while count >= limit && !closed { await withCheckedContinuation { waiters.append($0) } }
        if closed { return false }
        count += 1
        return true
    }

    func close() {
        closed = true
        let woken = waiters
        waiters.removeAll()
        for waiter in woken { waiter.resume() }
    }

    func release() {
        count -= 1
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }
}

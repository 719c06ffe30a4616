import Logging
import NIOCore
import NIOPosix
import StrataProtocol
import Synchronization

/// One TCP connection to a broker. Requests are pipelined; the broker answers in order, so the
/// `ResponseRouter` matches each response to the oldest outstanding request and checks its
/// correlation id (a mismatch closes the connection, as Kafka clients do).
///
/// Thread-safety: the outstanding-request queue lives in the router on the channel's event loop;
/// the negotiated versions are immutable after `connect`; the correlation counter is atomic.
public final class BrokerConnection: Sendable {
    public let address: String
    let channel: Channel
    /// Versions both sides speak, per API: the highest is used.
    let versions: [ApiKey: ClosedRange<Int16>]
    private let correlationIds = ManagedCounter()
    let clientId: String
    /// `request.timeout.ms`: how long any request waits for its answer unless `submit` is given
    /// a timeout of its own (long polls, group joins).
    public let requestTimeout: TimeAmount

    /// Kafka's default `request.timeout.ms`.
    public static let requestTimeoutDefault = TimeAmount.seconds(30)

    private init(
        address: String, channel: Channel, versions: [ApiKey: ClosedRange<Int16>], clientId: String,
        requestTimeout: TimeAmount
    ) {
        self.address = address
        self.channel = channel
        self.versions = versions
        self.clientId = clientId
        self.requestTimeout = requestTimeout
    }

    /// Connects and negotiates API versions (ApiVersions v0, understood by every broker).
    ///
    /// Every request on the connection, the ApiVersions probe included, is bounded by
    /// `requestTimeout` unless `submit` names another: an answer that never comes closes the
    /// connection and fails what is outstanding with `connectionClosed` (retriable), instead of
    /// leaving the caller waiting until the broker reaps the idle connection.
    public static func connect(
        host: String, port: Int, group: EventLoopGroup, clientId: String = "strata-swift",
        frameBytesMax: Int = KafkaFrame.frameBytesMaxDefault,
        requestTimeout: TimeAmount = BrokerConnection.requestTimeoutDefault
    ) async throws -> BrokerConnection {
        let address = "\(host):\(port)"
        let channel: Channel
        // The rest of a large answer (a fetch) is read straight into its frame's buffer.
        let receiveTarget = FrameReceiveTarget()
        do {
            channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                // Fetch responses run to megabytes: let reads grow to 1 MiB (NIO's default stops at 64 KiB).
                .channelOption(
                    .recvAllocator,
                    value: KafkaFrameReceiveAllocator(
                        minimum: 64, initial: 16_384, maximum: 1 << 20, target: receiveTarget)
                )
                .connectTimeout(.seconds(10))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            KafkaFrameHandler(frameBytesMax: frameBytesMax, receiveTarget: receiveTarget))
                        try channel.pipeline.syncOperations.addHandler(ResponseRouter(address: address))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw ClientError.connectionFailed(broker: address, reason: "\(error)")
        }
        let probe = BrokerConnection(
            address: address, channel: channel, versions: [.apiVersions: 0...0],
            clientId: clientId, requestTimeout: requestTimeout)
        let answer = try await probe.send(ApiVersionsRequest())
        guard answer.errorCode == .noError else {
            channel.close(promise: nil)
            throw ClientError.broker(.apiVersions, answer.errorCode)
        }
        var versions: [ApiKey: ClosedRange<Int16>] = [:]
        for entry in answer.apiKeys {
            guard let api = ApiKey(rawValue: entry.apiKey) else { continue }
            let ours = api.codecVersions
            let low = max(ours.lowerBound, entry.minVersion)
            let high = min(ours.upperBound, entry.maxVersion)
            if low <= high { versions[api] = low...high }
        }
        return BrokerConnection(
            address: address, channel: channel, versions: versions, clientId: clientId,
            requestTimeout: requestTimeout)
    }

    /// The version this connection uses for `api` (the highest both sides speak).
    public func version(of api: ApiKey) throws(ClientError) -> Int16 {
        guard let range = versions[api] else { throw .unsupportedApi(broker: address, api: "\(api)") }
        return range.upperBound
    }

    /// Sends `request` and waits for its response, for at most `timeout` (default: the
    /// connection's `requestTimeout`).
    public func send<Request: KafkaRequest>(
        _ request: Request, timeout: TimeAmount? = nil
    ) async throws -> Request.Response {
        try await submit(request, timeout: timeout).get()
    }

    /// A request already written to the connection, whose response is still to come.
    public struct PendingResponse<Response: KafkaResponse>: Sendable {
        let future: EventLoopFuture<ByteBuffer>
        let version: Int16
        let address: String

        /// Waits for and decodes the response.
        public func get() async throws -> Response {
            var body = try await future.get()
            do {
                return try Response(from: &body, version: version)
            } catch {
                throw ClientError.protocolViolation(broker: address, reason: "\(error)")
            }
        }
    }

    /// Writes `request` now and returns without waiting for the answer: requests submitted one
    /// after another go on the wire in that order (the producer relies on it to keep each
    /// partition's batches in order while several are in flight).
    ///
    /// A request still unanswered after `timeout` (default: the connection's `requestTimeout`)
    /// closes the connection (answers come in order, so a lost one stalls all behind it): every
    /// outstanding request then fails with `connectionClosed`, which callers treat as retriable,
    /// as Kafka clients do.
    public func submit<Request: KafkaRequest>(
        _ request: Request, timeout: TimeAmount? = nil
    ) throws -> PendingResponse<Request.Response> {
        let version = try version(of: Request.apiKey)
        let correlationId = correlationIds.next()
        let pieces = request.encodeFramePieces(
            version: version, correlationId: correlationId, clientId: clientId,
            detachBytesMin: Self.detachBytesMin)
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let slot = ResponseSlot(promise)
        let pending = ResponseRouter.Pending(
            pieces: pieces, correlationId: correlationId,
            responseHeaderVersion: Request.apiKey.responseHeaderVersion(version),
            promise: slot)
        // A write that fails (the connection closed meanwhile) may never reach the router: its
        // failure answers the request, so no caller waits forever.
        let written = channel.eventLoop.makePromise(of: Void.self)
        let address = address
        written.futureResult.whenFailure { _ in slot.fail(ClientError.connectionClosed(broker: address)) }
        channel.writeAndFlush(pending, promise: written)
        let channel = channel
        let expiry = channel.eventLoop.scheduleTask(in: timeout ?? requestTimeout) { channel.close(promise: nil) }
        promise.futureResult.whenComplete { _ in expiry.cancel() }
        return PendingResponse(future: promise.futureResult, version: version, address: address)
    }

    /// Writes a request that gets no response (Produce with acks=0) without waiting for the write.
    public func submitWithoutResponse<Request: KafkaRequest>(_ request: Request) throws {
        let version = try version(of: Request.apiKey)
        let pieces = request.encodeFramePieces(
            version: version, correlationId: correlationIds.next(), clientId: clientId,
            detachBytesMin: Self.detachBytesMin)
        let pending = ResponseRouter.Pending(pieces: pieces, correlationId: 0, responseHeaderVersion: 0, promise: nil)
        channel.writeAndFlush(pending, promise: nil)
    }

    /// `bytes`/`records` fields (produce batches) at least this long are written from the caller's
    /// buffer rather than copied into the frame (NIO gathers the pieces into one `writev`).
    static let detachBytesMin = 4_096

    /// Whether the connection is still open.
    public var isActive: Bool { channel.isActive }

    public func close() async {
        try? await channel.close()
    }
}

/// Correlation ids, incremented under one `Mutex`.
final class ManagedCounter: Sendable {
    private let value = Mutex<Int32>(0)
    func next() -> Int32 {
        value.withLock { current in
            current = current == Int32.max ? 1 : current + 1
            return current
        }
    }
}

/// A request's response promise, completed at most once (by the answer, the router's failure of
/// all outstanding requests, or a failed write — whichever comes first). Confined to the channel's
/// event loop, where all three happen.
final class ResponseSlot: @unchecked Sendable {
    private let promise: EventLoopPromise<ByteBuffer>
    private var done = false

    init(_ promise: EventLoopPromise<ByteBuffer>) { self.promise = promise }

    func succeed(_ body: ByteBuffer) {
        promise.futureResult.eventLoop.preconditionInEventLoop()
        guard !done else { return }
        done = true
        promise.succeed(body)
    }

    func fail(_ error: Error) {
        promise.futureResult.eventLoop.preconditionInEventLoop()
        guard !done else { return }
        done = true
        promise.fail(error)
    }
}

/// Matches responses to requests in order. Runs on the channel's event loop; its queue is owned by it.
final class ResponseRouter: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Pending
    typealias OutboundOut = ByteBuffer

    struct Pending {
        /// The request frame, in pieces written in order (see `encodeFramePieces`).
        var pieces: [ByteBuffer]
        var correlationId: Int32
        var responseHeaderVersion: Int16
        var promise: ResponseSlot?
    }

    private let address: String
    private var outstanding = CircularBuffer<Pending>()

    init(address: String) { self.address = address }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let pending = unwrapOutboundIn(data)
        if pending.promise != nil {
            var entry = pending
            entry.pieces = []  // the answer needs none of the request's bytes
            outstanding.append(entry)
        }
        let last = pending.pieces.count - 1
        for (index, piece) in pending.pieces.enumerated() {
            context.write(wrapOutboundOut(piece), promise: index == last ? promise : nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        guard let next = outstanding.popFirst() else {
            fail(
                context, ClientError.protocolViolation(broker: address, reason: "response with no request outstanding"))
            return
        }
        do {
            let header = try ResponseHeader(from: &frame, version: next.responseHeaderVersion)
            guard header.correlationId == next.correlationId else {
                next.promise?.fail(
                    ClientError.protocolViolation(
                        broker: address,
                        reason: "correlation id \(header.correlationId), expected \(next.correlationId)"))
                fail(context, ClientError.connectionClosed(broker: address))
                return
            }
            next.promise?.succeed(frame)
        } catch {
            next.promise?.fail(ClientError.protocolViolation(broker: address, reason: "\(error)"))
            fail(context, ClientError.connectionClosed(broker: address))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ClientError.connectionClosed(broker: address))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(context, ClientError.connectionFailed(broker: address, reason: "\(error)"))
    }

    private func fail(_ context: ChannelHandlerContext, _ error: ClientError) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: ClientError) {
        while let pending = outstanding.popFirst() { pending.promise?.fail(error) }
    }
}

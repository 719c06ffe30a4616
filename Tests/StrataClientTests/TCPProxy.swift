import NIOCore
import NIOPosix
import Synchronization

/// A loopback TCP proxy in front of a real broker, for fault tests: `dropAll()` cuts every
/// connection mid-stream (the client sees a real reset, with requests possibly already delivered),
/// `stall()` stops forwarding answers so requests stay unanswered.
///
/// Thread-safety: the target, the live channels and the stalled flag sit behind one `Mutex`.
final class TCPProxy: Sendable {
    private struct State {
        var targetPort = 0
        var channels: [Channel] = []
        var stalled = false
        var accepted = 0
        /// Bytes of answers dropped while stalled.
        var swallowed = 0
    }

    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let listener: Channel
    private let shared: Shared

    init() async throws {
        let shared = Shared()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.shared = shared
        self.group = group
        listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                let target = shared.state.withLock { $0.targetPort }
                return ClientBootstrap(group: inbound.eventLoop)
                    .connect(host: "127.0.0.1", port: target)
                    .flatMap { outbound in
                        shared.state.withLock {
                            $0.channels += [inbound, outbound]
                            $0.accepted += 1
                        }
                        let toBroker = Forwarder(partner: outbound, shared: nil)
                        let toClient = Forwarder(partner: inbound, shared: shared)
                        return inbound.pipeline.addHandler(toBroker)
                            .flatMap { outbound.pipeline.addHandler(toClient) }
                            .map { inbound.setOption(.autoRead, value: true) }.map { _ in }
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = listener.localAddress?.port ?? 0
    }

    /// Connections proxied so far.
    var accepted: Int { shared.state.withLock { $0.accepted } }
    var swallowedBytes: Int { shared.state.withLock { $0.swallowed } }

    /// Where connections are forwarded (set before clients connect).
    func forward(to port: Int) { shared.state.withLock { $0.targetPort = port } }

    /// Closes every proxied connection, both sides.
    func dropAll() {
        let channels = shared.state.withLock { state in
            defer { state.channels = [] }
            return state.channels
        }
        for channel in channels { channel.close(promise: nil) }
    }

    /// Stops (or resumes) forwarding the broker's answers to clients; stalled answers are dropped.
    func stall(_ stalled: Bool) { shared.state.withLock { $0.stalled = stalled } }

    func stop() async {
        dropAll()
        try? await listener.close()
        try? await group.shutdownGracefully()
    }

    /// Copies bytes to the partner channel; closes it when this side closes.
    private final class Forwarder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let partner: Channel
        let shared: Shared?

        init(partner: Channel, shared: Shared?) {
            self.partner = partner
            self.shared = shared
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            if let shared,
                shared.state.withLock({ state in
                    if state.stalled { state.swallowed += bytes.readableBytes }
                    return state.stalled
                })
            {
                return
            }
            partner.writeAndFlush(bytes, promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner.close(promise: nil)
            context.fireChannelInactive()
        }
    }
}

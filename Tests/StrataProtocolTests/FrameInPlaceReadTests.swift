import Glibc
import NIOCore
import NIOEmbedded
import NIOPosix
import StrataProtocol
import Synchronization
import Testing

/// The rest of a large frame read straight into the frame's own buffer (`FrameReceiveTarget`,
/// `KafkaFrameReceiveAllocator`): first with NIO's reads simulated step by step, then over a real
/// loopback socket with random frame sizes and chunking.
@Suite struct FrameInPlaceReadTests {
    private func frame(_ body: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        KafkaFrame.writeSizePrefixed(into: &buffer) { $0.writeBytes(body) }
        return buffer
    }

    private func body(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* Int(seed) &+ $0 >> 8) }
    }

    private func channel(_ target: FrameReceiveTarget) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            KafkaFrameHandler(frameBytesMax: 4 << 20, receiveTarget: target))
        return channel
    }

    /// A handler and the receive allocator it shares its target with, as a client connection has them.
    private func inPlaceReader() throws -> (FrameReceiveTarget, KafkaFrameReceiveAllocator, EmbeddedChannel) {
        let target = FrameReceiveTarget()
        let allocator = KafkaFrameReceiveAllocator(minimum: 64, initial: 1_024, maximum: 1 << 20, target: target)
        return (target, allocator, try channel(target))
    }

    private func readFrames(_ channel: EmbeddedChannel) throws -> [ByteBuffer] {
        var frames: [ByteBuffer] = []
        while let frame = try channel.readInbound(as: ByteBuffer.self) { frames.append(frame) }
        return frames
    }

    /// One socket read as NIO does it: into the buffer the allocator gives, after what it holds.
    private func read(
        _ allocator: inout KafkaFrameReceiveAllocator, from input: inout ByteBuffer, upTo limit: Int
    ) -> ByteBuffer {
        var buffer = allocator.buffer(allocator: ByteBufferAllocator())
        let count = min(limit, buffer.writableBytes, input.readableBytes)
        var part = input.readSlice(length: count)!
        buffer.writeBuffer(&part)
        _ = allocator.record(actualReadBytes: count)
        return buffer
    }

    private static func address(_ buffer: ByteBuffer) -> UInt {
        buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
    }

    @Test func restOfALargeFrameIsReadIntoTheFramesOwnBufferAndEmittedWithoutACopy() throws {
        var (target, allocator, channel) = try inPlaceReader()
        let large = body(300_000)
        var input = frame(large)
        input.writeImmutableBuffer(frame([1, 2, 3]))
        try channel.writeInbound(read(&allocator, from: &input, upTo: 1_000))
        #expect(try readFrames(channel).isEmpty)
        #expect(allocator.nextBufferSize() == nil, "the next read goes into the frame's own buffer")
        let rest = read(&allocator, from: &input, upTo: 300_004 - 1_000)
        #expect(rest.readableBytes == 300_004, "the read buffer starts with the 1 000 bytes before it")
        try channel.writeInbound(rest)
        let frames = try readFrames(channel)
        #expect(frames == [ByteBuffer(bytes: large)])
        #expect(target.framesReadInPlace == 1)
        #expect(frames.first.map(Self.address) == Self.address(rest) + 4, "the frame is a slice of that read")
        #expect(allocator.nextBufferSize() != nil, "ordinary reads again")
        try channel.writeInbound(read(&allocator, from: &input, upTo: .max))
        #expect(try readFrames(channel) == [ByteBuffer(bytes: [1, 2, 3])])
        #expect(try channel.finish().isClean)
    }

    /// NIO may make a read buffer and then read nothing into it (the socket had nothing after all):
    /// the next one must still start with the frame's bytes.
    @Test func aReadBufferThatGetsNothingLosesNothing() throws {
        var (_, allocator, channel) = try inPlaceReader()
        let large = body(200_000, seed: 13)
        var input = frame(large)
        try channel.writeInbound(read(&allocator, from: &input, upTo: 5_000))
        _ = allocator.buffer(allocator: ByteBufferAllocator())  // read returned EAGAIN: dropped
        _ = allocator.buffer(allocator: ByteBufferAllocator())
        try channel.writeInbound(read(&allocator, from: &input, upTo: .max))
        #expect(try readFrames(channel) == [ByteBuffer(bytes: large)])
        #expect(try channel.finish().isClean)
    }

    /// A read that brings only part of the rest: the frame completes over later reads.
    @Test func restArrivingInSeveralReadsStillMakesOneIntactFrame() throws {
        var (_, allocator, channel) = try inPlaceReader()
        let large = body(1_000_000, seed: 29)
        var input = frame(large)
        input.writeImmutableBuffer(frame(body(70_000, seed: 3)))
        for limit in [300, 400_000, 500_000, 99_000, 4_000, .max] {
            try channel.writeInbound(read(&allocator, from: &input, upTo: limit))
        }
        #expect(try readFrames(channel) == [ByteBuffer(bytes: large), ByteBuffer(bytes: body(70_000, seed: 3))])
        #expect(try channel.finish().isClean)
    }

    /// Were NIO ever to hand the handler a read that does not start with the frame's bytes after
    /// asking for the frame's buffer, the connection fails with a framing error instead of
    /// splicing the stream wrongly.
    @Test func aReadThatDoesNotStartWithTheFramesBytesIsAFramingError() throws {
        var (_, allocator, channel) = try inPlaceReader()
        var input = frame(body(200_000))
        try channel.writeInbound(read(&allocator, from: &input, upTo: 1_000))
        _ = allocator.buffer(allocator: ByteBufferAllocator())
        #expect(throws: ProtocolError.self) { try channel.writeInbound(input) }
        _ = try? channel.finish()
    }

    /// Without a receive target's allocator the handler copies as before (EmbeddedChannel reads).
    @Test func withoutTheAllocatorReadsAreAppendedAsUsual() throws {
        let target = FrameReceiveTarget()
        let channel = try channel(target)
        let large = body(200_000, seed: 5)
        var input = frame(large)
        try channel.writeInbound(input.readSlice(length: 10_000)!)
        try channel.writeInbound(input)
        #expect(try readFrames(channel) == [ByteBuffer(bytes: large)])
        #expect(try channel.finish().isClean)
    }

    /// Collects the frames a real client channel emits.
    private final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let frames = Mutex<[[UInt8]]>([])
        let failure = Mutex<String?>(nil)
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            frames.withLock { $0.append(Array(frame.readableBytesView)) }
        }
        func errorCaught(context: ChannelHandlerContext, error: Error) {
            failure.withLock { $0 = "\(error)" }
            context.close(promise: nil)
        }
    }

    /// Random frames (a few bytes to 1.5 MiB) written over loopback in random chunks with pauses,
    /// read by a channel with the in-place allocator: every frame arrives intact and in order.
    @Test func randomFramesOverARealSocketArriveIntact() async throws {
        let seed = UInt64.random(in: 1...UInt64.max)
        print("FrameInPlaceReadTests.randomFramesOverARealSocketArriveIntact seed \(seed)")
        var random = SplitMix64(seed: seed)
        var bodies: [[UInt8]] = []
        var stream = ByteBuffer()
        for index in 0..<60 {
            let size =
                switch random.next() % 4 {
                case 0: Int(random.next() % 64)
                case 1: Int(random.next() % 70_000)
                default: 60_000 + Int(random.next() % 1_500_000)
                }
            let body = body(size, seed: UInt8(truncatingIfNeeded: index | 1))
            bodies.append(body)
            stream.writeImmutableBuffer(frame(body))
        }
        var chunks: [ByteBuffer] = []
        while stream.readableBytes > 0 {
            let length = min(stream.readableBytes, 1 + Int(random.next() % 400_000))
            chunks.append(stream.readSlice(length: length)!)
        }
        let pauses = chunks.map { _ in random.next() % 3 == 0 }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // A plain sender: a listening socket whose one connection gets the chunks.
        let sender = try await ChunkSender.start(group: group, chunks: chunks, pauses: pauses)
        let target = FrameReceiveTarget()
        let collector = Collector()
        let client = try await ClientBootstrap(group: group)
            .channelOption(
                .recvAllocator,
                value: KafkaFrameReceiveAllocator(minimum: 64, initial: 16_384, maximum: 1 << 20, target: target)
            )
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        KafkaFrameHandler(frameBytesMax: 4 << 20, receiveTarget: target))
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: "127.0.0.1", port: sender.port).get()
        let deadline = ContinuousClock.now + .seconds(60)
        while collector.frames.withLock({ $0.count }) < bodies.count && collector.failure.withLock({ $0 }) == nil
            && ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(collector.failure.withLock { $0 } == nil, "seed \(seed)")
        let frames = collector.frames.withLock { $0 }
        #expect(frames.count == bodies.count, "seed \(seed)")
        let large = bodies.filter { $0.count > 200_000 }.count
        #expect(target.framesReadInPlace > 0, "of \(large) frames over 200 kB, some were read in place")
        for (index, (got, want)) in zip(frames, bodies).enumerated() where got != want {
            Issue.record("frame \(index) of \(want.count) bytes differs (got \(got.count)), seed \(seed)")
            break
        }
        try await client.close()
        await sender.stop()
        try await group.shutdownGracefully()
    }
}

/// Serves one connection: writes `chunks` in order, flushing each, pausing 2 ms where asked.
private final class ChunkSender: Sendable {
    let port: Int
    private let server: Channel

    private init(port: Int, server: Channel) {
        self.port = port
        self.server = server
    }

    static func start(group: EventLoopGroup, chunks: [ByteBuffer], pauses: [Bool]) async throws -> ChunkSender {
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    @Sendable func send(_ index: Int) {
                        guard index < chunks.count else { return }
                        child.writeAndFlush(chunks[index]).whenSuccess {
                            // A pause in the traffic under test (so the client sees partial frames),
                            // not a wait for a condition.
                            if pauses[index] {
                                child.eventLoop.scheduleTask(in: .milliseconds(2)) { send(index + 1) }
                            } else {
                                send(index + 1)
                            }
                        }
                    }
                    send(0)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ChunkSender(port: server.localAddress!.port!, server: server)
    }

    func stop() async { try? await server.close() }
}

import Glibc
import NIOCore
import NIOEmbedded
import StrataProtocol
import Testing

@Suite struct FrameHandlerTests {
    private func channel(frameBytesMax: Int = 64) -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try! channel.pipeline.syncOperations.addHandler(KafkaFrameHandler(frameBytesMax: frameBytesMax))
        return channel
    }

    private func frame(_ body: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        KafkaFrame.writeSizePrefixed(into: &buffer) { $0.writeBytes(body) }
        return buffer
    }

    private func readFrames(_ channel: EmbeddedChannel) throws -> [ByteBuffer] {
        var frames: [ByteBuffer] = []
        while let frame = try channel.readInbound(as: ByteBuffer.self) { frames.append(frame) }
        return frames
    }

    @Test func wholeFrameYieldsItsBodyWithoutTheSizePrefix() throws {
        let channel = channel()
        try channel.writeInbound(frame([1, 2, 3]))
        #expect(try readFrames(channel) == [bytes([1, 2, 3])])
        #expect(try channel.finish().isClean)
    }

    @Test func frameDripFedOneByteAtATimeEmergesOnlyWhenComplete() throws {
        let channel = channel()
        let input = frame([9, 8, 7, 6, 5])
        for index in 0..<input.readableBytes {
            try channel.writeInbound(input.getSlice(at: index, length: 1)!)
            let frames = try readFrames(channel)
            #expect(frames == (index == input.readableBytes - 1 ? [bytes([9, 8, 7, 6, 5])] : []))
        }
        #expect(try channel.finish().isClean)
    }

    @Test func manyFramesInOneReadAreAllEmittedInOrder() throws {
        let channel = channel()
        var input = ByteBuffer()
        let bodies: [[UInt8]] = [[1], [], [2, 3], Array(repeating: 4, count: 64)]
        for body in bodies { input.writeImmutableBuffer(frame(body)) }
        try channel.writeInbound(input)
        #expect(try readFrames(channel) == bodies.map(bytes))
        #expect(try channel.finish().isClean)
    }

    @Test func framesSplitAcrossReadsAtEveryBoundaryReassemble() throws {
        var input = ByteBuffer()
        input.writeImmutableBuffer(frame([1, 2]))
        input.writeImmutableBuffer(frame([3, 4, 5]))
        for split in 0...input.readableBytes {
            let channel = channel()
            try channel.writeInbound(input.getSlice(at: 0, length: split)!)
            try channel.writeInbound(input.getSlice(at: split, length: input.readableBytes - split)!)
            #expect(try readFrames(channel) == [bytes([1, 2]), bytes([3, 4, 5])], "split at \(split)")
            #expect(try channel.finish().isClean)
        }
    }

    @Test func connectionClosingInsideAFrameIsATruncatedFrameError() throws {
        let channel = channel()
        try channel.writeInbound(frame([1, 2, 3]).getSlice(at: 0, length: 5)!)
        #expect(try readFrames(channel).isEmpty)
        #expect(throws: ProtocolError(.truncatedFrame(size: 3, available: 5), context: "frame")) {
            _ = try channel.finish()
        }
    }

    @Test func oversizeFrameIsRejectedFromItsSizePrefixAlone() throws {
        let channel = channel(frameBytesMax: 64)
        var prefix = ByteBuffer()
        prefix.writeInteger(Int32(65))
        #expect(throws: ProtocolError(.frameTooLarge(size: 65, limit: 64), context: "frame", position: 0)) {
            try channel.writeInbound(prefix)
        }
        _ = try? channel.finish()
    }

    @Test func frameOfExactlyTheLimitIsAccepted() throws {
        let channel = channel(frameBytesMax: 64)
        try channel.writeInbound(frame(Array(repeating: 1, count: 64)))
        #expect(try readFrames(channel).map(\.readableBytes) == [64])
        #expect(try channel.finish().isClean)
    }

    @Test func negativeFrameSizeIsRejected() throws {
        let channel = channel()
        #expect(throws: ProtocolError(.negativeFrameSize(-1), context: "frame", position: 0)) {
            try channel.writeInbound(hex("ffffffff"))
        }
        _ = try? channel.finish()
    }

    @Test func defaultLimitIsOneHundredMebibytes() {
        #expect(KafkaFrameHandler().frameBytesMax == 104_857_600)
        var huge = hex("06400001")  // 104857601
        #expect(throws: ProtocolError.self) {
            _ = try KafkaFrame.next(from: &huge, frameBytesMax: KafkaFrame.frameBytesMaxDefault)
        }
    }

    @Test func nextFrameLeavesAnIncompleteBufferUntouched() throws {
        var partial = frame([1, 2, 3]).getSlice(at: 0, length: 6)!
        let before = partial
        #expect(try KafkaFrame.next(from: &partial, frameBytesMax: 64) == nil)
        #expect(partial == before)
        #expect(partial.readerIndex == before.readerIndex)
    }

    @Test func errorPositionIsTheFramesOffsetInTheStream() throws {
        let channel = channel(frameBytesMax: 64)
        var input = frame([1, 2, 3])  // 7 bytes
        input.writeInteger(Int32(65))
        // The bad prefix arrives split over two reads, after a whole frame.
        try channel.writeInbound(input.getSlice(at: 0, length: 9)!)
        #expect(throws: ProtocolError(.frameTooLarge(size: 65, limit: 64), context: "frame", position: 7)) {
            try channel.writeInbound(input.getSlice(at: 9, length: 2)!)
        }
        #expect(try readFrames(channel) == [bytes([1, 2, 3])])
        // Input after the error is not framed.
        try channel.writeInbound(frame([4]))
        #expect(try readFrames(channel).isEmpty)
        _ = try? channel.finish()
    }

    @Test func inputClosedInsideAFrameIsATruncatedFrameError() throws {
        let channel = channel()
        try channel.writeInbound(frame([1, 2, 3]).getSlice(at: 0, length: 6)!)
        #expect(throws: ProtocolError(.truncatedFrame(size: 3, available: 6), context: "frame")) {
            channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            try channel.throwIfErrorCaught()
        }
        _ = try? channel.finish()
    }

    @Test func frameWholeInOneReadIsASliceOfThatReadNotACopy() throws {
        let channel = channel()
        var input = frame(Array(repeating: 7, count: 40))
        input.writeImmutableBuffer(frame([1]))
        try channel.writeInbound(input)
        let frames = try readFrames(channel)
        #expect(frames.count == 2)
        input.withUnsafeReadableBytes { read in
            frames[0].withUnsafeReadableBytes { body in
                #expect(body.baseAddress == read.baseAddress! + 4)
            }
        }
        #expect(try channel.finish().isClean)
    }

    /// Random frames (empty to past the 2 MiB reservation) cut into random reads come out whole, in
    /// order, equal to what went in.
    @Test(arguments: [1, 2, 3, 4, 5])
    func randomFramesCutIntoRandomReadsReassemble(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let channel = channel(frameBytesMax: 3 << 20)
        var input = ByteBuffer()
        var bodies: [ByteBuffer] = []
        for _ in 0..<24 {
            let size: Int
            switch random.next() % 4 {
            case 0: size = Int(random.next() % 8)
            case 1: size = Int(random.next() % 5000)
            case 2: size = Int(random.next() % (1 << 20))
            default: size = (2 << 20) + Int(random.next() % (1 << 20))
            }
            var body = ByteBuffer()
            body.writeRepeatingByte(UInt8(truncatingIfNeeded: random.next()), count: size)
            body.setInteger(UInt8(truncatingIfNeeded: size), at: max(0, size - 1))
            bodies.append(body)
            KafkaFrame.writeSizePrefixed(into: &input) { $0.writeImmutableBuffer(body) }
        }
        var received: [ByteBuffer] = []
        while input.readableBytes > 0 {
            let cut: Int
            switch random.next() % 3 {
            case 0: cut = 1 + Int(random.next() % 7)
            case 1: cut = 1 + Int(random.next() % 70_000)
            default: cut = 1 + Int(random.next() % (3 << 20))
            }
            try channel.writeInbound(input.readSlice(length: min(cut, input.readableBytes))!)
            received += try readFrames(channel)
        }
        #expect(received.count == bodies.count)
        #expect(received == bodies)
        #expect(try channel.finish().isClean)
    }

    /// While a large frame is incomplete the socket is asked to wake the reader only once the rest
    /// has arrived, never for more than the frame misses, and reset once it is whole.
    @Test func largeIncompleteFrameRaisesTheWakeThresholdToWhatItMisses() throws {
        let channel = channel(frameBytesMax: 1 << 20)
        let option = ChannelOptions.socketOption(NIOBSDSocket.Option(rawValue: SO_RCVLOWAT))
        func wakeBytes() throws -> Int { Int(try channel.getOption(option).wait()) }
        var input = frame(Array(repeating: 5, count: 500_000))
        input.writeImmutableBuffer(frame([1, 2]))
        try channel.writeInbound(input.readSlice(length: 100_000)!)
        let first = try wakeBytes()
        #expect(first == 500_004 - 100_000)
        try channel.writeInbound(input.readSlice(length: 150_000)!)
        let second = try wakeBytes()
        #expect(second == 500_004 - 250_000)
        // Under 64 KiB missing: back to waking for any byte.
        try channel.writeInbound(input.readSlice(length: 200_000)!)
        let third = try wakeBytes()
        #expect(third == 1)
        try channel.writeInbound(input)
        #expect(try readFrames(channel).map(\.readableBytes) == [500_000, 2])
        let last = try wakeBytes()
        #expect(last == 1)
        #expect(try channel.finish().isClean)
    }
}

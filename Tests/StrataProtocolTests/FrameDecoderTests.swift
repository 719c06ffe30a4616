import NIOCore
import NIOEmbedded
import StrataProtocol
import Testing

@Suite struct FrameDecoderTests {
    private func channel(frameBytesMax: Int = 64) -> EmbeddedChannel {
        EmbeddedChannel(handler: ByteToMessageHandler(KafkaFrameDecoder(frameBytesMax: frameBytesMax)))
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
        #expect(KafkaFrameDecoder().frameBytesMax == 104_857_600)
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
}

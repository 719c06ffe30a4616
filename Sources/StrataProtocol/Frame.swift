import NIOCore

/// Kafka's framing: every request and response is an int32 big-endian size, then that many bytes.
///
/// Stateless helpers shared by ``KafkaFrameDecoder`` (broker and client inbound) and the `encodeFrame`
/// methods (outbound).
public enum KafkaFrame {
    /// Default largest frame accepted, in bytes: Kafka's `socket.request.max.bytes` (100 MiB).
    public static let frameBytesMaxDefault = 104_857_600
    /// Bytes of the size prefix.
    public static let sizePrefixBytes = 4

    /// Splits the next whole frame off `buffer` and returns its body (a slice, not a copy), or nil when
    /// `buffer` does not yet hold a whole frame. Leaves `buffer` untouched when returning nil.
    ///
    /// - Throws: ``ProtocolError`` when the size prefix is negative or above `frameBytesMax`.
    public static func next(from buffer: inout ByteBuffer, frameBytesMax: Int) throws(ProtocolError) -> ByteBuffer? {
        guard let size = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return nil }
        guard size >= 0 else {
            throw ProtocolError(.negativeFrameSize(size), context: "frame", position: buffer.readerIndex)
        }
        guard Int(size) <= frameBytesMax else {
            throw ProtocolError(
                .frameTooLarge(size: Int(size), limit: frameBytesMax), context: "frame",
                position: buffer.readerIndex)
        }
        guard buffer.readableBytes >= sizePrefixBytes + Int(size) else { return nil }
        buffer.moveReaderIndex(forwardBy: sizePrefixBytes)
        return buffer.readSlice(length: Int(size))
    }

    /// Appends an int32 size prefix and whatever `writeBody` appends, then patches the size in place.
    public static func writeSizePrefixed(into buffer: inout ByteBuffer, _ writeBody: (inout ByteBuffer) -> Void) {
        let sizeIndex = buffer.writerIndex
        buffer.writeInteger(Int32(0))
        writeBody(&buffer)
        let size = buffer.writerIndex - sizeIndex - sizePrefixBytes
        precondition(size <= Int(Int32.max), "frame of \(size) bytes cannot be size-prefixed")
        buffer.setInteger(Int32(size), at: sizeIndex)
    }
}

/// Splits an inbound byte stream into Kafka frames: emits one `ByteBuffer` per frame holding the bytes after
/// the size prefix (header + body), as a slice of NIO's cumulation buffer.
///
/// Lives in one channel pipeline (wrap it in `ByteToMessageHandler`) and is used only on that channel's
/// event loop. A negative or oversize size prefix throws a ``ProtocolError`` (fired as an error so the
/// owner can log it and close the connection) before any of the frame is buffered; a connection that
/// ends inside a frame throws `.truncatedFrame`.
public struct KafkaFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    /// Largest frame accepted, in bytes.
    public let frameBytesMax: Int

    /// Creates a decoder accepting frames of up to `frameBytesMax` bytes (after the size prefix).
    public init(frameBytesMax: Int = KafkaFrame.frameBytesMaxDefault) {
        precondition(frameBytesMax >= 0, "frameBytesMax must not be negative")
        self.frameBytesMax = frameBytesMax
    }

    /// The most a partially received frame reserves ahead (2 MiB: a fetch or produce of 1 MiB batches).
    static let reserveBytesMax = 2 << 20

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try KafkaFrame.next(from: &buffer, frameBytesMax: frameBytesMax) else {
            // A large frame arrives over many reads: make room for it now, so the cumulation
            // buffer does not grow (and copy itself) step by step. Capped: a peer's declared size
            // alone must not reserve much memory.
            if let size = buffer.getInteger(at: buffer.readerIndex, as: Int32.self), size > 0 {
                let missing = min(4 + Int(size), Self.reserveBytesMax) - buffer.readableBytes
                if missing > buffer.writableBytes { buffer.reserveCapacity(minimumWritableBytes: missing) }
            }
            return .needMoreData
        }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    /// Emits remaining whole frames; at end of input, bytes of an incomplete frame are an error.
    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        if try decode(context: context, buffer: &buffer) == .continue { return .continue }
        if seenEOF, buffer.readableBytes > 0 {
            let size = buffer.getInteger(at: buffer.readerIndex, as: Int32.self).map(Int.init) ?? -1
            let available = buffer.readableBytes
            buffer.moveReaderIndex(forwardBy: available)
            throw ProtocolError(.truncatedFrame(size: size, available: available), context: "frame")
        }
        return .needMoreData
    }
}

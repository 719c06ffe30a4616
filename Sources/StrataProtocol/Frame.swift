import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Kafka's framing: every request and response is an int32 big-endian size, then that many bytes.
///
/// Stateless helpers shared by ``KafkaFrameHandler`` (broker and client inbound) and the `encodeFrame`
/// methods (outbound).
public enum KafkaFrame {
    /// Default largest frame accepted, in bytes: Kafka's `socket.request.max.bytes` (100 MiB).
    public static let frameBytesMaxDefault = 104_857_600
    /// Bytes of the size prefix.
    public static let sizePrefixBytes = 4

    /// Splits the next whole frame off `buffer` and returns its body (a slice, not a copy), or nil when
    /// `buffer` does not yet hold a whole frame. Leaves `buffer` untouched when returning nil.
    ///
    /// - Parameter streamOffset: where `buffer`'s readable bytes start in the stream, for error positions
    ///   (nil: report `buffer`'s reader index).
    /// - Throws: ``ProtocolError`` when the size prefix is negative or above `frameBytesMax`.
    public static func next(
        from buffer: inout ByteBuffer, frameBytesMax: Int, streamOffset: Int? = nil
    )
        throws(ProtocolError) -> ByteBuffer?
    {
        guard let size = try validatedSize(of: buffer, frameBytesMax: frameBytesMax, streamOffset: streamOffset)
        else { return nil }
        guard buffer.readableBytes >= sizePrefixBytes + size else { return nil }
        buffer.moveReaderIndex(forwardBy: sizePrefixBytes)
        return buffer.readSlice(length: size)
    }

    /// The size prefix at `buffer`'s reader index, checked against `frameBytesMax`; nil when fewer than
    /// four bytes are readable.
    static func validatedSize(
        of buffer: ByteBuffer, frameBytesMax: Int, streamOffset: Int?
    ) throws(ProtocolError)
        -> Int?
    {
        guard let size = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return nil }
        let position = streamOffset ?? buffer.readerIndex
        guard size >= 0 else {
            throw ProtocolError(.negativeFrameSize(size), context: "frame", position: position)
        }
        guard Int(size) <= frameBytesMax else {
            throw ProtocolError(
                .frameTooLarge(size: Int(size), limit: frameBytesMax), context: "frame", position: position)
        }
        return Int(size)
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
/// the size prefix (header + body).
///
/// Each inbound byte is copied at most once. A frame that arrives whole inside one read is emitted as a
/// slice of that read's buffer (no copy); the start of a frame that runs past the end of a read is copied
/// into a buffer allocated for the whole frame, and later reads fill it in place. (NIO's
/// `ByteToMessageHandler` cumulates every read into one growing buffer and compacts it, which copies a
/// megabyte fetch response or produce request up to three times.)
///
/// Given a ``FrameReceiveTarget`` shared with the channel's ``KafkaFrameReceiveAllocator``, the rest of a
/// large frame is read straight into the frame's buffer and not copied at all.
///
/// A channel handler: all its state is used only on its channel's event loop. A negative or oversize size
/// prefix fires a ``ProtocolError`` (so the owner can log it and close the connection) before any of the
/// frame is buffered; input after that error is dropped. A connection whose input ends inside a frame
/// fires `.truncatedFrame`. Error positions are byte offsets in the connection's inbound stream.
public final class KafkaFrameHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    /// Largest frame accepted, in bytes.
    public let frameBytesMax: Int

    /// Bytes of the frame in progress, size prefix included, when a read ended inside it.
    private var pending: ByteBuffer?
    /// Offset in the inbound stream of the first byte not yet consumed into a frame or `pending`.
    private var streamOffset = 0
    /// Set once a bad size prefix was seen or the input ended: later input is not framed.
    private var stopped = false
    /// The socket's current `SO_RCVLOWAT` as this handler last set it (1: the kernel's default).
    private var wakeBytes = 1
    /// Shared with the channel's receive allocator, when it is a ``KafkaFrameReceiveAllocator``.
    private let receiveTarget: FrameReceiveTarget?

    /// Creates a handler accepting frames of up to `frameBytesMax` bytes (after the size prefix).
    /// With a `receiveTarget` shared with the channel's ``KafkaFrameReceiveAllocator``, large frames
    /// are read in place.
    public init(frameBytesMax: Int = KafkaFrame.frameBytesMaxDefault, receiveTarget: FrameReceiveTarget? = nil) {
        precondition(frameBytesMax >= 0, "frameBytesMax must not be negative")
        self.frameBytesMax = frameBytesMax
        self.receiveTarget = receiveTarget
    }

    /// The most a partially received frame reserves ahead (2 MiB: a fetch or produce of 1 MiB batches).
    /// A peer's declared size alone must not reserve much memory; a larger frame grows as it arrives.
    static let reserveBytesMax = 2 << 20

    /// A frame still missing at least this many bytes is waited for whole: see `adjustWakeBytes`.
    static let wakeWholeFrameBytesMin = 64 << 10

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !stopped else { return }
        var input = Self.unwrapInboundIn(data)
        defer {
            offerDirectRead()
            adjustWakeBytes(context: context)
        }
        // Set when this read went into a buffer the receive allocator made from the pending bytes.
        let inPlacePrefix = receiveTarget.flatMap { $0.handouts > 0 ? $0.prefix : nil }
        receiveTarget?.prefix = nil
        do {
            if let prefix = inPlacePrefix {
                // A read into the frame's own buffer (see FrameReceiveTarget): it starts with the
                // pending bytes, so it is framed from its start like any read. Checked, not assumed.
                guard Self.startsWith(input, prefix) else {
                    throw ProtocolError(
                        .truncatedFrame(
                            size: prefix.getInteger(at: prefix.readerIndex, as: Int32.self).map(Int.init) ?? -1,
                            available: prefix.readableBytes),
                        context: "frame read in place does not start with the bytes received before it",
                        position: streamOffset - prefix.readableBytes)
                }
                pending = nil
                streamOffset -= prefix.readableBytes
                receiveTarget?.framesReadInPlace += 1
            }
            if pending != nil {
                guard let frame = try complete(&input) else { return }
                context.fireChannelRead(Self.wrapInboundOut(frame))
            }
            while !stopped {
                let start = input.readerIndex
                guard
                    let frame = try KafkaFrame.next(
                        from: &input, frameBytesMax: frameBytesMax, streamOffset: streamOffset)
                else { break }
                streamOffset += input.readerIndex - start
                context.fireChannelRead(Self.wrapInboundOut(frame))
            }
            if !stopped, input.readableBytes > 0 {
                streamOffset += input.readableBytes
                if readsInPlace(input) {
                    pending = input  // kept as it is: the receive allocator copies it once, see offerDirectRead
                } else {
                    var buffer = context.channel.allocator.buffer(capacity: reservation(for: input))
                    buffer.writeBuffer(&input)
                    pending = buffer
                }
            }
        } catch {
            stopped = true
            pending = nil
            receiveTarget?.prefix = nil
            context.fireErrorCaught(error)
        }
    }

    /// Feeds `input` into the pending frame; returns the frame's body once it is whole (consuming only
    /// its bytes from `input`), nil when `input` ran out first.
    private func complete(_ input: inout ByteBuffer) throws(ProtocolError) -> ByteBuffer? {
        guard var buffer = pending else { return nil }
        pending = nil  // so `buffer` is uniquely referenced and grows in place
        let frameStart = streamOffset - buffer.readableBytes
        if buffer.readableBytes < KafkaFrame.sizePrefixBytes {
            let take = min(KafkaFrame.sizePrefixBytes - buffer.readableBytes, input.readableBytes)
            var prefix = input.readSlice(length: take)!
            streamOffset += take
            buffer.writeBuffer(&prefix)
        }
        guard
            let size = try KafkaFrame.validatedSize(of: buffer, frameBytesMax: frameBytesMax, streamOffset: frameStart)
        else {
            pending = buffer  // the size prefix itself is still incomplete
            return nil
        }
        // Room for the whole frame (capped) once its size is known; a no-op when already there.
        buffer.reserveCapacity(min(KafkaFrame.sizePrefixBytes + size, Self.reserveBytesMax))
        let missing = KafkaFrame.sizePrefixBytes + size - buffer.readableBytes
        var part = input.readSlice(length: min(missing, input.readableBytes))!
        streamOffset += part.readableBytes
        buffer.writeBuffer(&part)
        guard buffer.readableBytes == KafkaFrame.sizePrefixBytes + size else {
            pending = buffer
            return nil
        }
        // A slice, as for a frame emitted straight from a read: reader index 0 is the first byte after the prefix.
        return buffer.getSlice(at: buffer.readerIndex + KafkaFrame.sizePrefixBytes, length: size)
    }

    /// While a large frame is incomplete, asks the kernel (`SO_RCVLOWAT`) not to wake the event loop
    /// until the rest of it has arrived, instead of once per network burst: a 1 MiB fetch answer then
    /// takes two wake-ups and reads, not a dozen. Never more than the frame still misses, so the
    /// connection never waits for bytes a peer would send only after an answer; back to 1 (the
    /// default) once no large frame is pending. A socket that refuses the option is left as it is.
    private func adjustWakeBytes(context: ChannelHandlerContext) {
        var wanted = 1
        if !stopped, let buffer = pending, let size = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) {
            let missing = KafkaFrame.sizePrefixBytes + Int(size) - buffer.readableBytes
            if missing >= Self.wakeWholeFrameBytesMin { wanted = min(missing, Self.reserveBytesMax) }
        }
        guard wanted != wakeBytes else { return }
        let option = ChannelOptions.socketOption(NIOBSDSocket.Option(rawValue: SO_RCVLOWAT))
        guard (try? context.channel.syncOptions?.setOption(option, value: SocketOptionValue(wanted))) != nil else {
            return
        }
        wakeBytes = wanted
    }

    /// Capacity for a buffer holding the incomplete frame at the start of `input`.
    private func reservation(for input: ByteBuffer) -> Int {
        guard let size = input.getInteger(at: input.readerIndex, as: Int32.self) else {
            return KafkaFrame.sizePrefixBytes
        }
        // The size was validated by `KafkaFrame.next` before it returned nil.
        return max(input.readableBytes, min(KafkaFrame.sizePrefixBytes + Int(size), Self.reserveBytesMax))
    }

    /// Whether the rest of the incomplete frame `bytes` starts is to be read in place: with a receive
    /// target, when the rest is large enough to be waited for whole (`adjustWakeBytes`) and the frame
    /// within the reservation cap. The frame's start is then copied once, into the read buffer, where
    /// appending the rest would copy the whole frame.
    private func readsInPlace(_ bytes: ByteBuffer) -> Bool {
        guard receiveTarget != nil, let size = bytes.getInteger(at: bytes.readerIndex, as: Int32.self) else {
            return false
        }
        let frameBytes = KafkaFrame.sizePrefixBytes + Int(size)
        return frameBytes - bytes.readableBytes >= Self.wakeWholeFrameBytesMin && frameBytes <= Self.reserveBytesMax
    }

    /// Leaves the pending frame's start with the receive allocator when its rest is to be read in place.
    private func offerDirectRead() {
        guard let target = receiveTarget else { return }
        target.prefix = nil
        guard !stopped, let buffer = pending, readsInPlace(buffer),
            let size = buffer.getInteger(at: buffer.readerIndex, as: Int32.self)
        else { return }
        target.prefix = buffer
        target.frameBytes = KafkaFrame.sizePrefixBytes + Int(size)
        target.handouts = 0
    }

    /// Whether `input`'s readable bytes begin with all of `prefix`'s.
    private static func startsWith(_ input: ByteBuffer, _ prefix: ByteBuffer) -> Bool {
        guard input.readableBytes >= prefix.readableBytes else { return false }
        return input.withUnsafeReadableBytes { inputBytes in
            prefix.withUnsafeReadableBytes { prefixBytes in
                prefixBytes.isEmpty || memcmp(inputBytes.baseAddress!, prefixBytes.baseAddress!, prefixBytes.count) == 0
            }
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        endOfInput(context: context)
        context.fireChannelInactive()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event as? ChannelEvent == .some(.inputClosed) { endOfInput(context: context) }
        context.fireUserInboundEventTriggered(event)
    }

    /// Input ended: bytes of an incomplete frame are an error.
    private func endOfInput(context: ChannelHandlerContext) {
        receiveTarget?.prefix = nil
        guard !stopped else { return }
        stopped = true
        guard let buffer = pending else { return }
        pending = nil
        let size = buffer.getInteger(at: buffer.readerIndex, as: Int32.self).map(Int.init) ?? -1
        context.fireErrorCaught(
            ProtocolError(.truncatedFrame(size: size, available: buffer.readableBytes), context: "frame"))
    }
}

@available(*, unavailable)
extension KafkaFrameHandler: Sendable {}

import NIOCore

/// Lets a ``KafkaFrameHandler`` have the rest of a large frame read straight into the frame's own
/// buffer, so a megabyte fetch answer is copied once (kernel to user) instead of twice.
///
/// Without it, the rest of a frame that ran past the end of a read arrives in a fresh read buffer
/// and must be copied next to its start. With it, the handler leaves the start of such a frame
/// here (`prefix`); while it is here, ``KafkaFrameReceiveAllocator`` gives the channel read buffers
/// that already hold those bytes, with room for the whole frame behind them, so the socket read
/// lands right after them and the handler emits the frame as a slice of that buffer.
///
/// The handler keeps the frame's start as it arrived (a slice of its read) and the allocator copies
/// it once into each such read buffer: the start is copied once, where appending the rest to it
/// would copy the whole frame. A read that delivers nothing loses nothing (the handler still holds
/// the start). Used only for frames whose rest is waited for whole (`SO_RCVLOWAT`, see
/// ``KafkaFrameHandler``) and that fit the handler's reservation cap (2 MiB), so a frame's start is
/// rarely copied more than once.
///
/// Thread-safety: confined to one channel's event loop, where NIO calls both the handler and the
/// channel's receive allocator; it is `Sendable` only because allocators must be.
public final class FrameReceiveTarget: @unchecked Sendable {
    /// Bytes of the incomplete frame received so far (size prefix included), or nil.
    var prefix: ByteBuffer?
    /// Bytes of that whole frame, size prefix included.
    var frameBytes = 0
    /// Read buffers made from `prefix` since it was set: once there is one, every read the handler
    /// gets starts with `prefix` (NIO reads into the buffer it was given, or into a copy of it).
    var handouts = 0
    /// Frames whose rest was read in place so far (diagnostics and tests).
    public internal(set) var framesReadInPlace = 0

    public init() {}
}

/// The receive allocator of a connection whose ``KafkaFrameHandler`` shares `target`: NIO's
/// adaptive sizing, except that while the handler waits for the rest of a large frame each read
/// buffer is the frame's own (see ``FrameReceiveTarget``).
///
/// NIO's receive pool may keep up to `maxMessagesPerRead` (4) of those buffers for reuse, so a
/// connection that received large frames can hold up to 4 × 2 MiB of them; meant for a client's few
/// connections, not for a broker's thousands.
///
/// Relies on NIO asking `buffer(allocator:)` for every read while `nextBufferSize()` is nil and
/// `record` said the buffer may grow (NIO 2.x's pooled receive path); the handler checks that each
/// such read really starts with its bytes and copies as before if not.
public struct KafkaFrameReceiveAllocator: RecvByteBufferAllocator {
    private var adaptive: AdaptiveRecvByteBufferAllocator
    private let target: FrameReceiveTarget

    public init(minimum: Int, initial: Int, maximum: Int, target: FrameReceiveTarget) {
        adaptive = AdaptiveRecvByteBufferAllocator(minimum: minimum, initial: initial, maximum: maximum)
        self.target = target
    }

    public func buffer(allocator: ByteBufferAllocator) -> ByteBuffer {
        guard let prefix = target.prefix else { return adaptive.buffer(allocator: allocator) }
        var buffer = allocator.buffer(capacity: target.frameBytes)
        buffer.writeImmutableBuffer(prefix)
        target.handouts += 1
        return buffer
    }

    /// nil while a frame's own buffer is to be used: NIO must not reuse a pooled one instead.
    public func nextBufferSize() -> Int? {
        target.prefix == nil ? adaptive.nextBufferSize() : nil
    }

    public mutating func record(actualReadBytes: Int) -> Bool {
        // Reads into a frame's own buffer say nothing about the usual read size.
        if target.prefix == nil { _ = adaptive.record(actualReadBytes: actualReadBytes) }
        // Always "may grow", so NIO never reuses its last buffer without asking `buffer(allocator:)`.
        return true
    }
}

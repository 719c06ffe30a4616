import CLZ4
import NIOCore
import Synchronization

/// LZ4 frame codec as Kafka frames it inside a compressed RecordBatch: the standard LZ4 frame
/// format with independent 64 KiB blocks and no checksums on write; any valid frame on read.
public enum LZ4Frame {
    /// Compresses the readable bytes of `input` into one LZ4 frame appended to `output`.
    public static func compress(_ input: ByteBuffer, into output: inout ByteBuffer) throws(RecordsError) {
        var preferences = LZ4F_preferences_t()
        preferences.frameInfo.blockSizeID = LZ4F_max64KB
        preferences.frameInfo.blockMode = LZ4F_blockIndependent
        preferences.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum
        preferences.compressionLevel = 0
        let sourceSize = input.readableBytes
        let bound = LZ4F_compressFrameBound(sourceSize, &preferences)
        let written: Int = input.withUnsafeReadableBytes { source in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { destination in
                let result = LZ4F_compressFrame(
                    destination.baseAddress, destination.count, source.baseAddress, sourceSize, &preferences)
                return LZ4F_isError(result) != 0 ? 0 : result
            }
        }
        guard written > 0 else { throw .lz4(reason: "compression failed for \(sourceSize) bytes") }
    }

    /// Largest expansion of LZ4 data (a match or literal run grows by at most 255 bytes per input
    /// byte): caps the allocation a frame's declared content size can ask for.
    static let expansionRatioMax = 255

    /// Decompresses one LZ4 frame. Throws on a corrupt or truncated frame, or when the output would
    /// exceed `decompressedBytesMax` (a bound against decompression bombs).
    ///
    /// Takes a decompression context from `LZ4DecompressionContexts` and returns it after (no context
    /// or block buffers allocated per call once the pool is warm). The output buffer is allocated once
    /// at the frame's declared content size, or else at the size of the last frame that context decoded
    /// (at least one block), so it grows only when a frame is bigger than the guess.
    public static func decompress(_ input: ByteBuffer, decompressedBytesMax: Int) throws(RecordsError) -> ByteBuffer {
        guard let context = LZ4DecompressionContexts.take() else {
            throw .lz4(reason: "cannot create decompression context")
        }
        var reusable = false
        defer { LZ4DecompressionContexts.recycle(context, reusable: reusable) }
        return try input.withUnsafeReadableBytes { (source) throws(RecordsError) -> ByteBuffer in
            let frame = start(source, context: context, decompressedBytesMax: decompressedBytesMax)
            var output = ByteBufferAllocator().buffer(capacity: frame.capacity)
            try decode(source, frame: frame, context: context, into: &output, reusable: &reusable)
            return output
        }
    }

    /// Decompresses one LZ4 frame into a buffer owned by a pooled decompression context and calls
    /// `body` with the decompressed bytes, which are valid only inside `body` (the buffer is reused by
    /// the context's next frame). Same checks and limit as `decompress`; nothing is allocated once the
    /// pool is warm and its buffer has grown to the frames' size. Inlinable, so that `body` (a record
    /// loop) is compiled into the caller rather than called through a closure per batch.
    @inlinable
    public static func withDecompressed<Result>(
        _ source: UnsafeRawBufferPointer, decompressedBytesMax: Int,
        _ body: (UnsafeRawBufferPointer) throws(RecordsError) -> Result
    ) throws(RecordsError) -> Result {
        let (context, bytes) = try decompressIntoScratch(source, decompressedBytesMax: decompressedBytesMax)
        defer { releaseScratch(context) }
        return try body(bytes)
    }

    /// `withDecompressed`'s first half: takes a context and decompresses into its buffer. The caller
    /// owns the context until `releaseScratch`; on error it has already been released.
    @usableFromInline
    static func decompressIntoScratch(
        _ source: UnsafeRawBufferPointer, decompressedBytesMax: Int
    ) throws(RecordsError) -> (LZ4DecompressionContext, UnsafeRawBufferPointer) {
        guard let context = LZ4DecompressionContexts.take() else {
            throw .lz4(reason: "cannot create decompression context")
        }
        var reusable = false
        do throws(RecordsError) {
            let frame = start(source, context: context, decompressedBytesMax: decompressedBytesMax)
            context.scratch.prepare(capacity: frame.capacity)
            try decode(source, frame: frame, context: context, into: &context.scratch, reusable: &reusable)
        } catch {
            LZ4DecompressionContexts.recycle(context, reusable: false)
            throw error
        }
        context.scratchReusable = reusable
        return (context, context.scratch.bytes)
    }

    /// `withDecompressed`'s second half: returns the context to the pool (freeing a buffer a big
    /// frame grew past `LZ4Scratch.retainedBytesMax`).
    @usableFromInline
    static func releaseScratch(_ context: LZ4DecompressionContext) {
        if context.scratch.capacity > LZ4Scratch.retainedBytesMax { context.scratch.deallocate() }
        LZ4DecompressionContexts.recycle(context, reusable: context.scratchReusable)
    }

    /// What `start` learnt from a frame's header.
    struct FrameStart {
        /// Bytes of the frame header already consumed (0 when the header was unreadable).
        var consumed: Int
        /// Initial output capacity: the expected decompressed size, within the limit.
        var capacity: Int
        /// Whether the frame's blocks are small enough for its context to be pooled afterwards.
        var poolable: Bool
        /// `decompressedBytesMax`, never negative.
        var limit: Int
        var decompressedBytesMax: Int
    }

    /// Reads the frame header (resetting the context when it is unreadable, so that `LZ4F_decompress`
    /// reports the problem from a clean state) and sizes the output.
    private static func start(
        _ source: UnsafeRawBufferPointer, context: LZ4DecompressionContext, decompressedBytesMax: Int
    ) -> FrameStart {
        let total = source.count
        // The limit is enforced on the bytes handed to the decoder, not on the buffer's capacity:
        // ByteBuffer rounds capacities up to a power of two.
        let limit = max(0, decompressedBytesMax)
        var consumed = 0
        var info = LZ4F_frameInfo_t()
        var poolable = false
        var headerBytes = total
        let estimate: Int
        if LZ4F_isError(LZ4F_getFrameInfo(context.pointer, &info, source.baseAddress, &headerBytes)) == 0 {
            consumed = headerBytes
            let blockBytes = Self.blockBytes(info.blockSizeID)
            poolable = blockBytes <= LZ4DecompressionContexts.pooledBlockBytesMax
            if info.contentSize > 0 {
                let plausible = max(blockBytes, total.multipliedReportingOverflow(by: expansionRatioMax).partialValue)
                estimate = Int(clamping: min(info.contentSize, UInt64(max(0, plausible))))
            } else if context.lastFrameBytes > 0 {
                estimate = max(blockBytes, context.lastFrameBytes + context.lastFrameBytes / 8)
            } else {
                estimate = max(blockBytes, total * 4)
            }
        } else {
            LZ4F_resetDecompressionContext(context.pointer)
            estimate = max(64 << 10, total * 4)
        }
        return FrameStart(
            consumed: consumed, capacity: min(limit, estimate), poolable: poolable, limit: limit,
            decompressedBytesMax: decompressedBytesMax)
    }

    /// Runs `LZ4F_decompress` to the end of the frame, growing `output` as needed up to the limit.
    private static func decode<Output: LZ4Output>(
        _ source: UnsafeRawBufferPointer, frame: FrameStart, context: LZ4DecompressionContext,
        into output: inout Output, reusable: inout Bool
    ) throws(RecordsError) {
        let total = source.count
        let limit = frame.limit
        let decompressedBytesMax = frame.decompressedBytesMax
        var consumed = frame.consumed
        while true {
            let allowed = limit - output.readableBytes
            if output.writableBytes == 0 && allowed > 0 {
                output.reserveCapacity(minimumWritableBytes: min(max(output.capacity, 64 << 10), allowed))
            }
            let room = min(output.writableBytes, allowed)
            var status = 0
            var produced = 0
            var read = 0
            output.withUnsafeMutableWritableBytes { destination in
                var sourceSize = total - consumed
                var destinationSize = room
                status = LZ4F_decompress(
                    context.pointer, destination.baseAddress, &destinationSize,
                    source.baseAddress.map { $0 + consumed }, &sourceSize, nil)
                read = sourceSize
                produced = destinationSize
            }
            consumed += read
            if LZ4F_isError(status) != 0 {
                throw .lz4(reason: String(cString: LZ4F_getErrorName(status)) + " at input byte \(consumed)")
            }
            output.moveWriterIndex(forwardBy: produced)
            if status == 0 { break }  // end of frame
            if read == 0 && produced == 0 {
                // No progress is possible: either the decoder has output it may not write, or the input ended.
                if room == 0 {
                    throw .lz4(
                        reason: consumed < total
                            ? "decompressed size exceeds \(decompressedBytesMax) bytes"
                            : "frame truncated or decompressed size exceeds \(decompressedBytesMax) bytes")
                }
                throw .lz4(reason: "truncated frame: input ended after \(total) bytes, decoder wants \(status) more")
            }
        }
        if consumed != total {
            throw .lz4(reason: "\(total - consumed) trailing bytes after the LZ4 frame")
        }
        context.lastFrameBytes = output.readableBytes
        // Only a context that finished its frame goes back to the pool: after an error liblz4 1.9.4's
        // reset leaves a declared content size behind, which fails the next frame without one.
        reusable = frame.poolable
    }

    /// Maximum block size of a frame, from its header's block size ID (64 KiB for the default).
    static func blockBytes(_ id: LZ4F_blockSizeID_t) -> Int {
        switch id {
        case LZ4F_max256KB: return 256 << 10
        case LZ4F_max1MB: return 1 << 20
        case LZ4F_max4MB: return 4 << 20
        default: return 64 << 10
        }
    }
}

/// One liblz4 frame decompression context (`LZ4F_dctx`, with the block buffers liblz4 keeps in it)
/// plus the decompressed size of the last frame it decoded, the output size guess for the next
/// frame that does not declare its size.
///
/// Owned by exactly one decompression at a time: `LZ4DecompressionContexts.take()` hands it to one
/// caller, which gives it back with `recycle(_:)`. That hand-over through the pool's mutex is what
/// makes `@unchecked Sendable` safe: no two threads ever use one context at the same time.
@usableFromInline
final class LZ4DecompressionContext: @unchecked Sendable {
    let pointer: OpaquePointer
    /// Decompressed bytes of the last frame decoded with this context (0 before the first).
    var lastFrameBytes = 0
    /// Output buffer of `LZ4Frame.withDecompressed`, reused frame after frame.
    var scratch = LZ4Scratch()
    /// Whether the frame decoded into `scratch` left the context fit for the pool.
    var scratchReusable = false

    init?() {
        var context: OpaquePointer?
        let created = LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(created) == 0, let context else { return nil }
        pointer = context
    }

    deinit {
        LZ4F_freeDecompressionContext(pointer)
        scratch.deallocate()
    }
}

/// The output side of `LZ4Frame`'s decode loop: a `ByteBuffer` for `decompress`, an `LZ4Scratch` for
/// `withDecompressed`. The method names are `ByteBuffer`'s.
protocol LZ4Output {
    var readableBytes: Int { get }
    var writableBytes: Int { get }
    var capacity: Int { get }
    mutating func reserveCapacity(minimumWritableBytes: Int)
    mutating func withUnsafeMutableWritableBytes<T>(_ body: (UnsafeMutableRawBufferPointer) throws -> T) rethrows -> T
    mutating func moveWriterIndex(forwardBy: Int)
}

extension ByteBuffer: LZ4Output {}

/// A growable raw byte buffer owned by one `LZ4DecompressionContext` (and so by one decompression at
/// a time): the decompressed records section of `LZ4Frame.withDecompressed`. Freed by the context's
/// `deinit`, or after a frame that grew it past `retainedBytesMax`.
struct LZ4Scratch: LZ4Output {
    /// Largest buffer kept from one frame to the next (Kafka's LZ4 batches are at most ~1 MiB).
    static let retainedBytesMax = 1 << 20

    private var storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
    private(set) var readableBytes = 0

    var capacity: Int { storage.count }
    var writableBytes: Int { storage.count - readableBytes }

    /// Empties the buffer and makes its capacity at least `capacity`.
    mutating func prepare(capacity wanted: Int) {
        readableBytes = 0
        if storage.count < wanted {
            deallocate()
            if wanted > 0 { storage = .allocate(byteCount: wanted, alignment: 16) }
        }
    }

    /// Grows the buffer (at least doubling), keeping its bytes.
    mutating func reserveCapacity(minimumWritableBytes: Int) {
        guard writableBytes < minimumWritableBytes else { return }
        let grown = UnsafeMutableRawBufferPointer.allocate(
            byteCount: max(readableBytes + minimumWritableBytes, storage.count * 2), alignment: 16)
        if readableBytes > 0 {
            grown.copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[..<readableBytes]))
        }
        storage.deallocate()
        storage = grown
    }

    func withUnsafeMutableWritableBytes<T>(_ body: (UnsafeMutableRawBufferPointer) throws -> T) rethrows -> T {
        try body(UnsafeMutableRawBufferPointer(rebasing: storage[readableBytes...]))
    }

    mutating func moveWriterIndex(forwardBy count: Int) {
        precondition(count >= 0 && count <= writableBytes, "LZ4 scratch overrun")
        readableBytes += count
    }

    /// The decompressed bytes.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[..<readableBytes]) }

    /// Frees the storage (the buffer is then empty).
    mutating func deallocate() {
        storage.deallocate()
        storage = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        readableBytes = 0
    }
}

/// The process-wide pool of idle LZ4 decompression contexts, so that `LZ4Frame.decompress` does not
/// create (and allocate buffers for) a context per batch.
///
/// The pool owns the idle contexts, behind one mutex held only to pop or push; a caller owns the
/// context it took until it recycles it. At most `idleContextsMax` contexts are kept (one per
/// concurrent decompression, which the broker bounds by its threads); extra ones are freed. Contexts
/// that decoded frames with blocks bigger than `pooledBlockBytesMax` are freed too, so the pool never
/// keeps liblz4's multi-MiB buffers for 4 MiB blocks (Kafka clients write 64 KiB blocks).
enum LZ4DecompressionContexts {
    static let idleContextsMax = 16
    static let pooledBlockBytesMax = 64 << 10

    private static let idle = Mutex<[LZ4DecompressionContext]>(
        [LZ4DecompressionContext](unsafeUninitializedCapacity: idleContextsMax) { _, count in count = 0 })

    /// An idle context, or a new one; nil only when liblz4 cannot allocate one.
    static func take() -> LZ4DecompressionContext? {
        if let context = idle.withLock({ $0.popLast() }) { return context }
        return LZ4DecompressionContext()
    }

    /// Keeps `context`, which must have finished a frame without error, for the next `take()`; frees
    /// it instead when `reusable` is false or the pool is full.
    static func recycle(_ context: LZ4DecompressionContext, reusable: Bool) {
        guard reusable else { return }
        LZ4F_resetDecompressionContext(context.pointer)
        idle.withLock { contexts in
            if contexts.count < idleContextsMax { contexts.append(context) }
        }
    }
}

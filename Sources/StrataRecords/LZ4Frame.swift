import CLZ4
import NIOCore

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

    /// Decompresses one LZ4 frame. Throws on a corrupt or truncated frame, or when the output would
    /// exceed `decompressedBytesMax` (a bound against decompression bombs).
    public static func decompress(_ input: ByteBuffer, decompressedBytesMax: Int) throws(RecordsError) -> ByteBuffer {
        var context: OpaquePointer?
        let created = LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(created) == 0, let context else {
            throw .lz4(reason: "cannot create decompression context")
        }
        defer { LZ4F_freeDecompressionContext(context) }

        // The limit is enforced on the bytes handed to the decoder, not on the buffer's capacity:
        // ByteBuffer rounds capacities up to a power of two.
        let limit = max(0, decompressedBytesMax)
        var output = ByteBufferAllocator().buffer(capacity: min(limit, max(64 << 10, input.readableBytes * 4)))
        var consumed = 0
        let total = input.readableBytes
        while true {
            let allowed = limit - output.readableBytes
            if output.writableBytes == 0 && allowed > 0 {
                output.reserveCapacity(minimumWritableBytes: min(max(output.capacity, 64 << 10), allowed))
            }
            let room = min(output.writableBytes, allowed)
            var status = 0
            var produced = 0
            var read = 0
            input.withUnsafeReadableBytes { source in
                output.withUnsafeMutableWritableBytes { destination in
                    var sourceSize = total - consumed
                    var destinationSize = room
                    status = LZ4F_decompress(
                        context, destination.baseAddress, &destinationSize,
                        source.baseAddress.map { $0 + consumed }, &sourceSize, nil)
                    read = sourceSize
                    produced = destinationSize
                }
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
                    throw .lz4(reason: consumed < total
                        ? "decompressed size exceeds \(decompressedBytesMax) bytes"
                        : "frame truncated or decompressed size exceeds \(decompressedBytesMax) bytes")
                }
                throw .lz4(reason: "truncated frame: input ended after \(total) bytes, decoder wants \(status) more")
            }
        }
        if consumed != total {
            throw .lz4(reason: "\(total - consumed) trailing bytes after the LZ4 frame")
        }
        return output
    }
}

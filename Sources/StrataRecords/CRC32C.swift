import CStrataShims
import NIOCore

/// CRC-32C (Castagnoli), the checksum of RecordBatch v2 (bytes 21..<end of each batch).
///
/// Backed by the C shim: SSE4.2 with three interleaved streams where the CPU has it (checked once at
/// load time), else a portable slicing-by-8 table. Chaining follows zlib: pass the previous result
/// as `initial` to continue over more bytes.
public enum CRC32C {
    /// CRC-32C of `bytes`, continuing from `initial` (0 to start).
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress else { return initial }
        return strata_crc32c(initial, base, bytes.count)
    }

    /// CRC-32C of the readable bytes of `buffer`.
    @inlinable
    public static func checksum(_ buffer: ByteBuffer, initial: UInt32 = 0) -> UInt32 {
        buffer.withUnsafeReadableBytes { checksum($0, initial: initial) }
    }

    /// CRC-32C of a byte array (tests and tools).
    public static func checksum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, initial: initial) }
    }

    /// Whether the hardware (SSE4.2) path is in use on this CPU.
    public static var isHardwareAccelerated: Bool { strata_crc32c_hw_available() != 0 }
}

import NIOCore

/// Zig-zag base-128 varints as used inside RecordBatch v2 records (`varint` ≤ 5 bytes,
/// `varlong` ≤ 10 bytes). Not the unsigned varints of flexible protocol versions.
public enum Varint {
    /// Bytes needed to encode `value` as a zig-zag varint.
    @inlinable
    public static func size(_ value: Int32) -> Int { unsignedSize(UInt64(zigZag32(value))) }

    /// Bytes needed to encode `value` as a zig-zag varlong.
    @inlinable
    public static func size(_ value: Int64) -> Int { unsignedSize(zigZag64(value)) }

    @inlinable
    static func zigZag32(_ v: Int32) -> UInt32 { UInt32(bitPattern: (v << 1) ^ (v >> 31)) }

    @inlinable
    static func zigZag64(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

    @inlinable
    static func unsignedSize(_ v: UInt64) -> Int {
        // ceil(bits / 7), at least 1.
        let bits = 64 - v.leadingZeroBitCount
        return bits == 0 ? 1 : (bits + 6) / 7
    }

    /// Appends `value` as a zig-zag varint.
    @inlinable
    public static func write(_ value: Int32, to buffer: inout ByteBuffer) {
        writeUnsigned(UInt64(zigZag32(value)), to: &buffer)
    }

    /// Appends `value` as a zig-zag varlong.
    @inlinable
    public static func write(_ value: Int64, to buffer: inout ByteBuffer) {
        writeUnsigned(zigZag64(value), to: &buffer)
    }

    @inlinable
    static func writeUnsigned(_ value: UInt64, to buffer: inout ByteBuffer) {
        var v = value
        while v >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        buffer.writeInteger(UInt8(v))
    }

    /// Decodes a zig-zag varint at `index` of `bytes`, advancing `index`. Returns nil when the bytes
    /// end first or the encoding is longer than 5 bytes.
    @inlinable
    public static func read32(_ bytes: UnsafeRawBufferPointer, at index: inout Int) -> Int32? {
        guard let raw = readUnsigned(bytes, at: &index, maxBytes: 5), raw <= UInt64(UInt32.max) else { return nil }
        let u = UInt32(truncatingIfNeeded: raw)
        return Int32(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    /// Decodes a zig-zag varlong at `index` of `bytes`, advancing `index`.
    @inlinable
    public static func read64(_ bytes: UnsafeRawBufferPointer, at index: inout Int) -> Int64? {
        guard let u = readUnsigned(bytes, at: &index, maxBytes: 10) else { return nil }
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    @inlinable
    static func readUnsigned(_ bytes: UnsafeRawBufferPointer, at index: inout Int, maxBytes: Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var i = index
        let end = min(bytes.count, index + maxBytes)
        while i < end {
            let byte = bytes[i]
            i += 1
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 {
                index = i
                return result
            }
            shift += 7
        }
        return nil
    }
}

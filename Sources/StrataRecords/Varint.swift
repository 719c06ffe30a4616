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

    /// Encodes `value` as an unsigned varint at `out[at...]`, advancing `at` (the caller
    /// guarantees room: up to 10 bytes).
    @inlinable @inline(__always)
    public static func encode(_ value: UInt64, into out: UnsafeMutableRawBufferPointer, at: inout Int) {
        var v = value
        while v >= 0x80 {
            out[at] = UInt8(truncatingIfNeeded: v) | 0x80
            at &+= 1
            v >>= 7
        }
        out[at] = UInt8(truncatingIfNeeded: v)
        at &+= 1
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
    /// end first or the encoding is longer than 5 bytes (or its value does not fit 32 bits).
    ///
    /// Inlined one-byte fast path (lengths and deltas below 64 fit one byte); longer encodings go to
    /// the out-of-line `readUnsigned`.
    @inlinable @inline(__always)
    public static func read32(_ bytes: UnsafeRawBufferPointer, at index: inout Int) -> Int32? {
        let i = index
        if UInt(bitPattern: i) < UInt(bitPattern: bytes.count) {
            let byte = bytes[i]
            if byte < 0x80 {
                index = i &+ 1
                return decodeZigZag32(UInt32(truncatingIfNeeded: byte))
            }
        }
        return read32Slow(bytes, at: &index, limit: bytes.count)
    }

    /// Decodes a zig-zag varlong at `index` of `bytes`, advancing `index`. Returns nil when the bytes
    /// end first or the encoding is longer than 10 bytes. One-byte fast path as in `read32`.
    @inlinable @inline(__always)
    public static func read64(_ bytes: UnsafeRawBufferPointer, at index: inout Int) -> Int64? {
        let i = index
        if UInt(bitPattern: i) < UInt(bitPattern: bytes.count) {
            let byte = bytes[i]
            if byte < 0x80 {
                index = i &+ 1
                return decodeZigZag64(UInt64(truncatingIfNeeded: byte))
            }
        }
        return read64Slow(bytes, at: &index, limit: bytes.count)
    }

    /// `read32` over `bytes[..<limit]`, without the fast path: any encoding length.
    @usableFromInline @inline(never)
    static func read32Slow(_ bytes: UnsafeRawBufferPointer, at index: inout Int, limit: Int) -> Int32? {
        guard let raw = readUnsigned(bytes, at: &index, limit: limit, maxBytes: 5), raw <= UInt64(UInt32.max) else {
            return nil
        }
        return decodeZigZag32(UInt32(truncatingIfNeeded: raw))
    }

    /// `read64` over `bytes[..<limit]`, without the fast path: any encoding length.
    @usableFromInline @inline(never)
    static func read64Slow(_ bytes: UnsafeRawBufferPointer, at index: inout Int, limit: Int) -> Int64? {
        guard let raw = readUnsigned(bytes, at: &index, limit: limit, maxBytes: 10) else { return nil }
        return decodeZigZag64(raw)
    }

    @inlinable @inline(__always)
    static func decodeZigZag32(_ u: UInt32) -> Int32 { Int32(bitPattern: (u >> 1) ^ (0 &- (u & 1))) }

    @inlinable @inline(__always)
    static func decodeZigZag64(_ u: UInt64) -> Int64 { Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1))) }

    /// Base-128 decoding of at most `maxBytes` bytes of `bytes[index..<limit]` (`limit` ≤ `bytes.count`).
    /// Advances `index` only on success. The general path every fast path falls back to.
    @usableFromInline
    static func readUnsigned(
        _ bytes: UnsafeRawBufferPointer, at index: inout Int, limit: Int, maxBytes: Int
    ) -> UInt64? {
        guard index >= 0 else { return nil }
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var i = index
        let end = min(limit, bytes.count, index &+ maxBytes)
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

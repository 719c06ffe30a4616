import CStrataShims

/// Key → partition placement.
public enum Partitioner: Sendable, Equatable {
    /// Java's default (also kafka-python and aiokafka): `(murmur2(key) & 0x7fffffff) % n`.
    case murmur2
    /// librdkafka's default `consistent_random`: `crc32(key) % n` (IEEE CRC-32).
    case crc32

    /// The partition for `key` among `count` partitions; nil for a null key (the caller spreads those).
    public func partition(for key: [UInt8]?, count: Int32) -> Int32? {
        guard let key, count > 0 else { return nil }
        switch self {
        case .murmur2: return Int32((Self.murmur2(key) & 0x7fff_ffff) % UInt32(count))
        case .crc32:
            if key.isEmpty { return nil }
            return Int32(Self.crc32(key) % UInt32(count))
        }
    }

    /// Java's `Utils.murmur2` (seed 0x9747b28c), 32-bit wrapping arithmetic.
    public static func murmur2(_ data: [UInt8]) -> UInt32 {
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        let length = data.count
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        var index = 0
        while index + 4 <= length {
            var k =
                UInt32(data[index]) | UInt32(data[index + 1]) << 8 | UInt32(data[index + 2]) << 16
                | UInt32(data[index + 3]) << 24
            k = k &* m
            k ^= k >> r
            k = k &* m
            h = h &* m
            h ^= k
            index += 4
        }
        let remaining = length & 3
        if remaining == 3 { h ^= UInt32(data[index + 2]) << 16 }
        if remaining >= 2 { h ^= UInt32(data[index + 1]) << 8 }
        if remaining >= 1 {
            h ^= UInt32(data[index])
            h = h &* m
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return h
    }

    /// IEEE CRC-32 (zlib), as librdkafka hashes keys.
    public static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (0xedb8_8320 & (0 &- (crc & 1))) }
        }
        return ~crc
    }
}

import NIOCore
import StrataRecords
import Testing

private func read32(_ bytes: [UInt8], at start: Int = 0) -> (value: Int32?, index: Int) {
    var index = start
    let value = bytes.withUnsafeBytes { Varint.read32($0, at: &index) }
    return (value, index)
}

private func read64(_ bytes: [UInt8], at start: Int = 0) -> (value: Int64?, index: Int) {
    var index = start
    let value = bytes.withUnsafeBytes { Varint.read64($0, at: &index) }
    return (value, index)
}

@Suite struct VarintTests {
    /// Zig-zag then base-128 little-endian groups (kafka-protocol.md §4.3).
    static let known32: [(Int32, [UInt8])] = [
        (0, [0x00]),
        (-1, [0x01]),
        (1, [0x02]),
        (-2, [0x03]),
        (2, [0x04]),
        (63, [0x7E]),
        (-64, [0x7F]),
        (64, [0x80, 0x01]),
        (-65, [0x81, 0x01]),
        (300, [0xD8, 0x04]),
        (8191, [0xFE, 0x7F]),
        (8192, [0x80, 0x80, 0x01]),
        (Int32.max, [0xFE, 0xFF, 0xFF, 0xFF, 0x0F]),
        (Int32.min, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
    ]

    static let known64: [(Int64, [UInt8])] = [
        (0, [0x00]),
        (-1, [0x01]),
        (1, [0x02]),
        (5, [0x0A]),
        (1_700_000_000_000, [0x80, 0xA0, 0xAB, 0xFE, 0xF9, 0x62]),
        (Int64(Int32.max), [0xFE, 0xFF, 0xFF, 0xFF, 0x0F]),
        (Int64(Int32.min), [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
        (Int64(Int32.max) + 1, [0x80, 0x80, 0x80, 0x80, 0x10]),
        (Int64.max, [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
        (Int64.min, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
    ]

    @Test func knownVarintEncodings() {
        for (value, expected) in Self.known32 {
            #expect(varintBytes(value) == expected, "encode \(value)")
            #expect(Varint.size(value) == expected.count, "size \(value)")
            let (decoded, index) = read32(expected)
            #expect(decoded == value, "decode \(expected)")
            #expect(index == expected.count)
        }
    }

    @Test func knownVarlongEncodings() {
        for (value, expected) in Self.known64 {
            #expect(varlongBytes(value) == expected, "encode \(value)")
            #expect(Varint.size(value) == expected.count, "size \(value)")
            let (decoded, index) = read64(expected)
            #expect(decoded == value, "decode \(expected)")
            #expect(index == expected.count)
        }
    }

    @Test func zigZagEdgesRoundTrip() {
        for value: Int32 in [0, -1, 1, Int32.min, Int32.max, Int32.min + 1, Int32.max - 1] {
            #expect(read32(varintBytes(value)).value == value)
            #expect(read64(varlongBytes(Int64(value))).value == Int64(value))
        }
        for value: Int64 in [0, -1, 1, Int64.min, Int64.max, Int64.min + 1, Int64.max - 1] {
            #expect(read64(varlongBytes(value)).value == value)
        }
    }

    /// Every power of two and its neighbours, positive and negative: the size function must agree
    /// with the bytes the writer emits.
    @Test func sizeMatchesBytesWrittenAtEveryBitWidth() {
        for shift in 0..<63 {
            let p = Int64(1) << shift
            for value in [p - 1, p, p + 1, -p - 1, -p, -p + 1] {
                #expect(Varint.size(value) == varlongBytes(value).count, "varlong \(value)")
                #expect(read64(varlongBytes(value)).value == value)
                if let small = Int32(exactly: value) {
                    #expect(Varint.size(small) == varintBytes(small).count, "varint \(small)")
                    #expect(read32(varintBytes(small)).value == small)
                }
            }
        }
    }

    @Test func varintCanSpanFiveBytesAndVarlongTen() {
        #expect(Varint.size(Int32.max) == 5)
        #expect(Varint.size(Int32.min) == 5)
        #expect(Varint.size(Int64.max) == 10)
        #expect(Varint.size(Int64.min) == 10)
        #expect(Varint.size(Int32(0)) == 1)
        #expect(Varint.size(Int64(0)) == 1)
    }

    @Test func truncatedEncodingsReturnNilAndLeaveIndex() {
        let truncated: [[UInt8]] = [[], [0x80], [0x80, 0x80], [0xFF, 0xFF, 0xFF, 0xFF]]
        for bytes in truncated {
            let (value32, index32) = read32(bytes)
            #expect(value32 == nil, "varint \(bytes)")
            #expect(index32 == 0)
            let (value64, index64) = read64(bytes)
            #expect(value64 == nil, "varlong \(bytes)")
            #expect(index64 == 0)
        }
        // Every strict prefix of a long encoding is truncated.
        let full = varlongBytes(Int64.min)
        for length in 0..<full.count {
            #expect(read64(Array(full[..<length])).value == nil, "prefix \(length)")
        }
        // Reading at the very end of a buffer is truncated too.
        #expect(read32([0x02], at: 1).value == nil)
    }

    @Test func overLongEncodingsReturnNil() {
        // Six bytes where a varint allows five.
        #expect(read32([0x80, 0x80, 0x80, 0x80, 0x80, 0x00]).value == nil)
        #expect(read32([0x81, 0x80, 0x80, 0x80, 0x80, 0x00]).value == nil)
        // Five bytes whose value does not fit 32 bits.
        #expect(read32([0xFF, 0xFF, 0xFF, 0xFF, 0x1F]).value == nil)
        #expect(read32([0x80, 0x80, 0x80, 0x80, 0x10]).value == nil)
        // Eleven bytes where a varlong allows ten.
        #expect(read64([UInt8](repeating: 0x80, count: 10) + [0x00]).value == nil)
        #expect(read64([UInt8](repeating: 0xFF, count: 10) + [0x01]).value == nil)
        // A varlong's 32-bit sibling rejects what only the varlong accepts.
        #expect(read32(varlongBytes(Int64(Int32.max) + 1)).value == nil)
    }

    @Test func readsStartAtIndexAndAdvancePastTheVarint() {
        let bytes: [UInt8] = [0xAA, 0xD8, 0x04, 0x01, 0x7F]
        var index = 1
        bytes.withUnsafeBytes { raw in
            #expect(Varint.read32(raw, at: &index) == 300)
            #expect(index == 3)
            #expect(Varint.read64(raw, at: &index) == -1)
            #expect(index == 4)
            #expect(Varint.read32(raw, at: &index) == -64)
            #expect(index == 5)
            #expect(Varint.read32(raw, at: &index) == nil)
            #expect(index == 5)
        }
    }

    @Test func randomizedValuesRoundTripInOneStream() {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        var values32: [Int32] = []
        var values64: [Int64] = []
        var buffer = ByteBuffer()
        var expectedSize = 0
        for _ in 0..<20_000 {
            // Pick a bit width first so small and large values are equally likely.
            let width64 = Int.random(in: 0...64, using: &rng)
            let raw64 = rng.next() & (width64 == 64 ? .max : (UInt64(1) << width64) - 1)
            let value64 = Bool.random(using: &rng) ? Int64(bitPattern: raw64) : ~Int64(bitPattern: raw64)
            let width32 = Int.random(in: 0...32, using: &rng)
            let raw32 = UInt32(truncatingIfNeeded: rng.next()) & (width32 == 32 ? .max : (UInt32(1) << width32) - 1)
            let value32 = Int32(bitPattern: raw32)
            values64.append(value64)
            values32.append(value32)
            Varint.write(value64, to: &buffer)
            Varint.write(value32, to: &buffer)
            expectedSize += Varint.size(value64) + Varint.size(value32)
        }
        #expect(buffer.readableBytes == expectedSize, "seed \(seed)")
        var mismatches = 0
        buffer.withUnsafeReadableBytes { raw in
            var index = 0
            for k in 0..<values32.count {
                if Varint.read64(raw, at: &index) != values64[k] { mismatches += 1 }
                if Varint.read32(raw, at: &index) != values32[k] { mismatches += 1 }
            }
            #expect(index == raw.count, "seed \(seed)")
        }
        #expect(mismatches == 0, "seed \(seed)")
    }

    // MARK: fast paths against the general decoder

    /// `read32`/`read64` inline one-byte encodings and leave the rest to the general loop: every one-
    /// and two-byte input (and each cut short), at every start index, decodes as `ReferenceDecoder`.
    @Test func fastPathAgreesWithGeneralDecoderOnEveryShortInput() {
        var mismatches: [String] = []
        for first in 0...255 {
            for second in -1...255 {
                let bytes = second < 0 ? [UInt8(first)] : [0x80, UInt8(first), UInt8(second)]
                for start in 0...bytes.count {
                    checkAgainstReference(bytes, at: start, &mismatches)
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }

    /// Random encodings of 1 to 12 bytes with random continuation bits, cut at random places.
    @Test func fastPathAgreesWithGeneralDecoderOnRandomInputs() {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        var mismatches: [String] = []
        for _ in 0..<50_000 {
            let count = Int.random(in: 1...12, using: &rng)
            var bytes = rng.bytes(count)
            // Mostly continuation bytes, so that long encodings are common.
            for k in 0..<count where Int.random(in: 0..<4, using: &rng) != 0 { bytes[k] |= 0x80 }
            if Bool.random(using: &rng) { bytes[Int.random(in: 0..<count, using: &rng)] &= 0x7F }
            checkAgainstReference(bytes, at: Int.random(in: 0...count, using: &rng), &mismatches)
        }
        #expect(mismatches.isEmpty, "seed \(seed): \(mismatches.prefix(5))")
    }

    private func checkAgainstReference(_ bytes: [UInt8], at start: Int, _ mismatches: inout [String]) {
        var expected32Index = start
        let expected32 = ReferenceDecoder.read32(bytes, &expected32Index, limit: bytes.count)
        let (got32, got32Index) = read32(bytes, at: start)
        if got32 != expected32 || got32Index != expected32Index {
            mismatches.append("read32 \(bytes) at \(start): \(String(describing: got32)) @\(got32Index)")
        }
        var expected64Index = start
        let expected64 = ReferenceDecoder.read64(bytes, &expected64Index, limit: bytes.count)
        let (got64, got64Index) = read64(bytes, at: start)
        if got64 != expected64 || got64Index != expected64Index {
            mismatches.append("read64 \(bytes) at \(start): \(String(describing: got64)) @\(got64Index)")
        }
    }
}

import CStrataShims
import NIOCore
import StrataRecords
import Testing

/// One of the C implementations of CRC-32C (all share the zlib-style chaining contract).
private typealias CRCFunction = @convention(c) (UInt32, UnsafeRawPointer?, Int) -> UInt32

/// Every C path this CPU may run: the dispatcher and the portable table always, the two SSE4.2
/// paths only when the CPU has the instruction.
private let allPaths: [(name: String, function: CRCFunction)] = {
    var paths: [(name: String, function: CRCFunction)] = [
        ("strata_crc32c", strata_crc32c),
        ("strata_crc32c_portable", strata_crc32c_portable),
    ]
    if strata_crc32c_hw_available() != 0 {
        paths.append(("strata_crc32c_hw_single", strata_crc32c_hw_single))
        paths.append(("strata_crc32c_hw_interleaved", strata_crc32c_hw_interleaved))
    }
    if strata_crc32c_fold_available() != 0 {
        paths.append(("strata_crc32c_fold", strata_crc32c_fold))
    }
    return paths
}()

private func crc(_ function: CRCFunction, _ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
    bytes.withUnsafeBytes { function(initial, $0.baseAddress, $0.count) }
}

/// CRC of `bytes[offset..<offset + count]` (so the start address is misaligned by `offset`).
private func crc(_ function: CRCFunction, _ bytes: [UInt8], offset: Int, count: Int, initial: UInt32 = 0) -> UInt32 {
    bytes.withUnsafeBytes { function(initial, $0.baseAddress! + offset, count) }
}

private let checkInput = Array("123456789".utf8)
private let checkValue: UInt32 = 0xE306_9283

@Suite struct CRC32CTests {
    @Test func checkValueOnDispatchingPath() {
        #expect(crc(strata_crc32c, checkInput) == checkValue)
    }

    @Test func checkValueOnPortablePath() {
        #expect(crc(strata_crc32c_portable, checkInput) == checkValue)
    }

    @Test(.enabled(if: strata_crc32c_hw_available() != 0, "CPU lacks SSE4.2"))
    func checkValueOnHardwarePaths() {
        #expect(crc(strata_crc32c_hw_single, checkInput) == checkValue)
        #expect(crc(strata_crc32c_hw_interleaved, checkInput) == checkValue)
    }

    @Test func hardwareFlagMatchesShim() {
        #expect(CRC32C.isHardwareAccelerated == (strata_crc32c_hw_available() != 0))
        print("[StrataRecordsTests] CRC-32C hardware path: \(CRC32C.isHardwareAccelerated)")
    }

    @Test func swiftWrappersGiveCheckValue() {
        #expect(CRC32C.checksum(checkInput) == checkValue)
        #expect(CRC32C.checksum(ByteBuffer(bytes: checkInput)) == checkValue)
        #expect(checkInput.withUnsafeBytes { CRC32C.checksum($0) } == checkValue)
    }

    @Test func byteBufferWrapperCoversOnlyReadableBytes() {
        var buffer = ByteBuffer(bytes: [0xAA, 0xBB] + checkInput + [0xCC])
        buffer.moveReaderIndex(forwardBy: 2)
        buffer.moveWriterIndex(to: buffer.writerIndex - 1)
        #expect(CRC32C.checksum(buffer) == checkValue)
    }

    /// RFC 3720 (iSCSI) appendix B.4 test vectors.
    @Test func iscsiVectorsOnAllPaths() {
        let vectors: [([UInt8], UInt32)] = [
            ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
            ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
            ((0..<32).map { UInt8($0) }, 0x46DD_794E),
            ((0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
        ]
        for (name, function) in allPaths {
            for (input, expected) in vectors {
                #expect(crc(function, input) == expected, "\(name) over \(input.prefix(2))…")
            }
        }
    }

    @Test func emptyInputReturnsInitialOnAllPaths() {
        for (name, function) in allPaths {
            #expect(function(0, nil, 0) == 0, "\(name)")
            #expect(function(0xDEAD_BEEF, nil, 0) == 0xDEAD_BEEF, "\(name)")
        }
        #expect(CRC32C.checksum([UInt8](), initial: 0x1234_5678) == 0x1234_5678)
        #expect(CRC32C.checksum(ByteBuffer(), initial: 0x1234_5678) == 0x1234_5678)
    }

    @Test func chainingEqualsOneShotOnAllPaths() {
        var rng = SplitMix64(seed: 0xC0FFEE)
        let data = rng.bytes(70_000)
        let whole = crc(strata_crc32c_portable, data)
        let splits = [0, 1, 7, 8, 9, 255, 256, 767, 768, 769, 8191, 24_576, 24_577, 50_000, 69_999, 70_000]
        for (name, function) in allPaths {
            #expect(crc(function, data) == whole, "\(name) one shot")
            for split in splits {
                let first = crc(function, data, offset: 0, count: split)
                let chained = crc(function, data, offset: split, count: data.count - split, initial: first)
                #expect(chained == whole, "\(name) split at \(split)")
            }
        }
        // The Swift wrappers chain the same way.
        let a = Array(checkInput[..<4])
        let b = Array(checkInput[4...])
        #expect(CRC32C.checksum(b, initial: CRC32C.checksum(a)) == checkValue)
    }

    /// Lengths and misalignments around every block boundary of the interleaved path (3 × 256 and
    /// 3 × 8192 bytes) and the 8-byte word loop.
    @Test func allPathsAgreeAroundBlockBoundaries() {
        var rng = SplitMix64(seed: 0x5EED_B10C)
        let data = rng.bytes(3 * 8192 * 2 + 64)
        var lengths: Set<Int> = []
        for anchor in [0, 8, 16, 128, 256, 512, 640, 3 * 256, 2 * 3 * 256, 3 * 8192, 3 * 8192 + 3 * 256, 2 * 3 * 8192] {
            for delta in -9...9 where anchor + delta >= 0 { lengths.insert(anchor + delta) }
        }
        for length in lengths.sorted() {
            for offset in 0..<16 {
                let expected = crc(strata_crc32c_portable, data, offset: offset, count: length)
                for (name, function) in allPaths {
                    let got = crc(function, data, offset: offset, count: length)
                    #expect(got == expected, "\(name) length \(length) offset \(offset)")
                }
            }
        }
    }

    @Test func allPathsAgreeOnRandomLengthsAndMisalignments() {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        let lengthMax = 100_000
        var data = rng.bytes(lengthMax + 64)
        for iteration in 0..<300 {
            if iteration % 50 == 0 { data = rng.bytes(lengthMax + 64) }
            let length = Int.random(in: 0...lengthMax, using: &rng)
            let offset = Int.random(in: 0..<64, using: &rng)
            let initial: UInt32 = Bool.random(using: &rng) ? 0 : UInt32.random(in: 0...UInt32.max, using: &rng)
            let expected = crc(strata_crc32c_portable, data, offset: offset, count: length, initial: initial)
            for (name, function) in allPaths {
                let got = crc(function, data, offset: offset, count: length, initial: initial)
                #expect(
                    got == expected, "seed \(seed) iteration \(iteration): \(name) length \(length) offset \(offset)")
            }
            // Chaining at a random split agrees with the one-shot value.
            let split = Int.random(in: 0...length, using: &rng)
            let first = crc(strata_crc32c, data, offset: offset, count: split, initial: initial)
            let chained = crc(strata_crc32c, data, offset: offset + split, count: length - split, initial: first)
            #expect(chained == expected, "seed \(seed) iteration \(iteration): chained split \(split) of \(length)")
        }
    }

    @Test func everySingleBitFlipChangesTheChecksum() {
        var rng = SplitMix64(seed: 42)
        var data = rng.bytes(1000)
        let original = CRC32C.checksum(data)
        for byte in stride(from: 0, to: data.count, by: 37) {
            for bit in 0..<8 {
                data[byte] ^= 1 << bit
                #expect(CRC32C.checksum(data) != original, "flip byte \(byte) bit \(bit)")
                data[byte] ^= 1 << bit
            }
        }
        #expect(CRC32C.checksum(data) == original)
    }
}

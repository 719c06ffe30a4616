import CLZ4
import Dispatch
import NIOCore
import StrataRecords
import Synchronization
import Testing

private func compress(_ bytes: [UInt8]) throws -> [UInt8] {
    var output = ByteBuffer()
    try LZ4Frame.compress(ByteBuffer(bytes: bytes), into: &output)
    return output.array
}

/// `LZ4Frame.withDecompressed` (the context-owned reused buffer) as bytes or the error it threw.
private func decompressIntoScratch(_ frame: [UInt8], decompressedBytesMax: Int) -> Result<[UInt8], RecordsError> {
    Result { () throws(RecordsError) in
        try withRawBytes(frame) { (source) throws(RecordsError) in
            try LZ4Frame.withDecompressed(source, decompressedBytesMax: decompressedBytesMax) { Array($0) }
        }
    }
}

/// `LZ4Frame.decompress`; also checks that `withDecompressed` produces the same bytes, so every test
/// here covers both output paths.
private func decompress(_ frame: [UInt8], decompressedBytesMax: Int = 64 << 20) throws -> ByteBuffer {
    let output = try LZ4Frame.decompress(ByteBuffer(bytes: frame), decompressedBytesMax: decompressedBytesMax)
    let scratch = decompressIntoScratch(frame, decompressedBytesMax: decompressedBytesMax)
    #expect((try? scratch.get()).map { sameBytes(output, $0) } == true, "withDecompressed differs from decompress")
    return output
}

/// The error of `LZ4Frame.decompress`; also checks that `withDecompressed` throws one of the same kind.
private func decompressError(_ frame: [UInt8], decompressedBytesMax: Int = 64 << 20) -> RecordsError? {
    let error = thrownError { () throws(RecordsError) in
        try LZ4Frame.decompress(ByteBuffer(bytes: frame), decompressedBytesMax: decompressedBytesMax)
    }
    let scratch = decompressIntoScratch(frame, decompressedBytesMax: decompressedBytesMax)
    if case .failure(let scratchError) = scratch {
        // Where liblz4 notices corruption depends on the output room it is given, so the byte named in
        // the message may differ; the kind of error may not.
        #expect(isLZ4Error(scratchError) == isLZ4Error(error), "withDecompressed threw \(scratchError), not \(error)")
    } else {
        #expect(error == nil, "withDecompressed succeeded where decompress threw \(String(describing: error))")
    }
    return error
}

/// Text-like, highly compressible bytes: a phrase repeated, with a counter every 4 KiB.
private func compressible(_ count: Int) -> [UInt8] {
    let phrase = Array("The quick brown fox jumps over the lazy dog; ".utf8)
    var result: [UInt8] = []
    result.reserveCapacity(count)
    for i in 0..<count {
        result.append(i % 4096 == 0 ? UInt8(truncatingIfNeeded: i >> 12) : phrase[i % phrase.count])
    }
    return result
}

/// A frame written by liblz4 directly with settings our writer never uses (linked blocks, checksums,
/// content size, bigger blocks): the reader must accept any valid frame.
private func foreignFrame(
    _ source: [UInt8], blockSize: LZ4F_blockSizeID_t, blockMode: LZ4F_blockMode_t, checksums: Bool
) -> [UInt8] {
    var preferences = LZ4F_preferences_t()
    preferences.frameInfo.blockSizeID = blockSize
    preferences.frameInfo.blockMode = blockMode
    preferences.frameInfo.contentChecksumFlag = checksums ? LZ4F_contentChecksumEnabled : LZ4F_noContentChecksum
    preferences.frameInfo.blockChecksumFlag = checksums ? LZ4F_blockChecksumEnabled : LZ4F_noBlockChecksum
    preferences.frameInfo.contentSize = UInt64(source.count)
    let bound = LZ4F_compressFrameBound(source.count, &preferences)
    var frame = [UInt8](repeating: 0, count: bound)
    let written = frame.withUnsafeMutableBytes { destination in
        source.withUnsafeBytes { input in
            LZ4F_compressFrame(destination.baseAddress, bound, input.baseAddress, source.count, &preferences)
        }
    }
    precondition(LZ4F_isError(written) == 0, "liblz4 failed to compress the fixture")
    return Array(frame.prefix(written))
}

@Suite struct LZ4FrameTests {
    // MARK: round trips

    @Test func emptyInputRoundTrips() throws {
        let frame = try compress([])
        #expect(Array(frame.prefix(4)) == [0x04, 0x22, 0x4D, 0x18])
        #expect(Array(frame.suffix(4)) == [0, 0, 0, 0])  // EndMark right after the descriptor
        #expect(try decompress(frame).readableBytes == 0)
    }

    @Test func smallInputRoundTrips() throws {
        for input in [[0x41], Array("hello, lz4".utf8), compressible(1000), [UInt8](repeating: 0, count: 5000)] {
            let output = try decompress(try compress(input))
            #expect(output.array == input)
        }
    }

    @Test func oneMebibyteOfCompressibleDataRoundTrips() throws {
        let input = compressible(1 << 20)
        let frame = try compress(input)
        #expect(frame.count < input.count / 10, "compressed to \(frame.count) bytes")
        let output = try decompress(frame)
        #expect(BytesDigest(output) == BytesDigest(input))
    }

    @Test func oneMebibyteOfRandomDataRoundTrips() throws {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        let input = rng.bytes(1 << 20)
        let frame = try compress(input)
        // Incompressible: stored blocks, so the frame is a little larger than the input.
        #expect(frame.count >= input.count, "seed \(seed)")
        #expect(frame.count < input.count + input.count / 100, "seed \(seed)")
        #expect(BytesDigest(try decompress(frame)) == BytesDigest(input), "seed \(seed)")
    }

    @Test func randomSizesAndContentRoundTrip() throws {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        for iteration in 0..<40 {
            let count = Int.random(in: 0...300_000, using: &rng)
            let input = Bool.random(using: &rng) ? rng.bytes(count) : compressible(count)
            let output = try decompress(try compress(input))
            #expect(BytesDigest(output) == BytesDigest(input), "seed \(seed) iteration \(iteration) size \(count)")
        }
    }

    @Test func compressAppendsAfterExistingOutputAndReadsOnlyReadableInput() throws {
        var input = ByteBuffer(bytes: [0xEE, 0xEE] + Array("payload".utf8))
        input.moveReaderIndex(forwardBy: 2)
        var output = ByteBuffer(bytes: [1, 2, 3])
        try LZ4Frame.compress(input, into: &output)
        #expect(output.getBytes(at: 0, length: 3) == [1, 2, 3])
        output.moveReaderIndex(forwardBy: 3)
        #expect(try LZ4Frame.decompress(output, decompressedBytesMax: 100).array == Array("payload".utf8))
    }

    // MARK: frame descriptor (Kafka compatibility)

    @Test func frameDescriptorSaysIndependent64KiBBlocks() throws {
        for input in [[], compressible(10), compressible(1 << 20)] {
            let frame = try compress(input)
            try #require(frame.count >= 7)
            #expect(Array(frame.prefix(4)) == [0x04, 0x22, 0x4D, 0x18], "magic")
            let flg = frame[4]
            #expect(flg >> 6 == 0b01, "FLG version")
            #expect(flg & 0x20 != 0, "FLG block independence")
            #expect(flg & 0x10 == 0, "FLG block checksum off")
            #expect(flg & 0x04 == 0, "FLG content checksum off")
            #expect(frame[5] == 0x40, "BD: 64 KiB blocks")
        }
    }

    // MARK: bad frames

    @Test func everyTruncationOfASmallFrameThrowsLZ4() throws {
        let frame = try compress(compressible(200_000))  // several 64 KiB blocks
        for length in 0..<frame.count {
            let error = decompressError(Array(frame[..<length]))
            #expect(isLZ4Error(error), "prefix \(length) of \(frame.count): \(String(describing: error))")
        }
    }

    @Test func truncationsOfALargeRandomFrameThrowLZ4() throws {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        let frame = try compress(rng.bytes(300_000))
        var cuts = [0, 1, 4, 6, 7, 10, 11, frame.count - 4, frame.count - 1]
        for _ in 0..<40 { cuts.append(Int.random(in: 0..<frame.count, using: &rng)) }
        for length in cuts {
            #expect(isLZ4Error(decompressError(Array(frame[..<length]))), "seed \(seed) prefix \(length)")
        }
    }

    @Test func corruptedDescriptorThrowsLZ4() throws {
        let frame = try compress(compressible(1000))
        let corruptions: [(String, (inout [UInt8]) -> Void)] = [
            ("magic", { $0[0] ^= 0xFF }),
            ("FLG version", { $0[4] &= 0x3F }),
            ("BD block size", { $0[5] = 0x30 }),
            ("header checksum", { $0[6] ^= 0x01 }),
            (
                "block size above 64 KiB",
                {
                    $0[7] = 0
                    $0[8] = 0
                    $0[9] = 0x10
                    $0[10] = 0
                }
            ),
        ]
        for (name, corrupt) in corruptions {
            var bytes = frame
            corrupt(&bytes)
            #expect(isLZ4Error(decompressError(bytes)), "\(name)")
        }
    }

    @Test func corruptedDataUnderContentChecksumThrowsLZ4() throws {
        let input = compressible(200_000)
        let frame = foreignFrame(input, blockSize: LZ4F_max64KB, blockMode: LZ4F_blockIndependent, checksums: true)
        #expect(BytesDigest(try decompress(frame)) == BytesDigest(input))
        for position in stride(from: 20, to: frame.count - 8, by: max(1, frame.count / 50)) {
            var bytes = frame
            bytes[position] ^= 0x04
            #expect(isLZ4Error(decompressError(bytes)), "byte \(position)")
        }
    }

    /// Arbitrary byte corruption without checksums may go unnoticed, but must never trap, hang or
    /// produce more than the limit: it either decodes or throws `.lz4`.
    @Test func corruptedFramesDecodeOrThrowLZ4NeverTrap() throws {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        var input = compressible(150_000)
        input.replaceSubrange(70_000..<71_000, with: rng.bytes(1000))
        let frame = try compress(input)
        let limit = 200_000
        var thrown = 0
        for _ in 0..<1500 {
            var bytes = frame
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            do {
                let output = try LZ4Frame.decompress(ByteBuffer(bytes: bytes), decompressedBytesMax: limit)
                #expect(output.readableBytes <= limit, "seed \(seed)")
            } catch {
                #expect(isLZ4Error(error), "seed \(seed): \(error)")
                thrown += 1
            }
        }
        #expect(thrown > 0, "seed \(seed)")
    }

    @Test func trailingBytesAfterTheFrameThrowLZ4() throws {
        let frame = try compress(compressible(5000))
        for trailer in [[0], [0x04, 0x22, 0x4D, 0x18], try compress([1, 2, 3]), [UInt8](repeating: 0xAB, count: 100)] {
            #expect(isLZ4Error(decompressError(frame + trailer)), "trailer of \(trailer.count) bytes")
        }
    }

    @Test func emptyInputIsNotAFrame() {
        #expect(isLZ4Error(decompressError([])))
    }

    // MARK: decompressedBytesMax

    /// Sizes straddle the 64 KiB block and non-power-of-two limits (buffers grow in powers of two,
    /// so the limit must be enforced on the bytes produced, not on the buffer's capacity).
    @Test(arguments: [
        (1 << 20, (1 << 20) - 1), (120_000, 100_000), (70_000, 65_537), (65_537, 65_536), (100, 99), (1, 0),
        (300_000, 1000),
    ])
    func outputOverDecompressedBytesMaxThrowsLZ4(size: Int, limit: Int) throws {
        for input in [compressible(size), SplitMix64(seed: UInt64(size)).bytesOnce(size)] {
            let error = decompressError(try compress(input), decompressedBytesMax: limit)
            #expect(isLZ4Error(error), "\(size) bytes with limit \(limit): \(String(describing: error))")
        }
    }

    @Test(arguments: [1 << 20, 100_000, 65_536, 65_537, 1000, 1, 0])
    func outputExactlyAtDecompressedBytesMaxSucceeds(size: Int) throws {
        for input in [compressible(size), SplitMix64(seed: UInt64(size)).bytesOnce(size)] {
            let output = try decompress(try compress(input), decompressedBytesMax: size)
            #expect(BytesDigest(output) == BytesDigest(input), "\(size) bytes")
        }
    }

    // MARK: frames from other writers

    @Test func readsFramesWithLinkedBlocksChecksumsAndBiggerBlocks() throws {
        let input = compressible(600_000)
        let settings: [(LZ4F_blockSizeID_t, LZ4F_blockMode_t, Bool)] = [
            (LZ4F_max64KB, LZ4F_blockLinked, false),
            (LZ4F_max64KB, LZ4F_blockLinked, true),
            (LZ4F_max256KB, LZ4F_blockIndependent, true),
            (LZ4F_max4MB, LZ4F_blockLinked, false),
        ]
        for (blockSize, blockMode, checksums) in settings {
            let frame = foreignFrame(input, blockSize: blockSize, blockMode: blockMode, checksums: checksums)
            let output = try decompress(frame, decompressedBytesMax: input.count)
            #expect(BytesDigest(output) == BytesDigest(input), "\(blockSize) \(blockMode) checksums \(checksums)")
            #expect(isLZ4Error(decompressError(frame, decompressedBytesMax: input.count - 1)))
        }
    }

    // MARK: pooled decompression contexts

    /// Contexts and output size guesses are reused from call to call: a long mix of sizes, block modes
    /// and declared content sizes, each followed by frames bigger and smaller than the last.
    @Test func contextsAreReusedAcrossManyFramesOfMixedShapes() throws {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        var frames: [(frame: [UInt8], input: [UInt8])] = []
        for size in [0, 1, 100, 65_535, 65_536, 65_537, 70_000, 300_000, 1 << 20] {
            let input = Bool.random(using: &rng) ? rng.bytes(size) : compressible(size)
            frames.append((try compress(input), input))
            let mode = Bool.random(using: &rng) ? LZ4F_blockLinked : LZ4F_blockIndependent
            let checksums = Bool.random(using: &rng)
            let foreign = foreignFrame(input, blockSize: LZ4F_max64KB, blockMode: mode, checksums: checksums)
            frames.append((foreign, input))
        }
        var wrong: [String] = []
        for call in 0..<1_000 {
            let (frame, input) = frames[Int.random(in: 0..<frames.count, using: &rng)]
            // Exactly at the limit must succeed whatever size the previous frame had.
            let limit = Bool.random(using: &rng) ? input.count : 64 << 20
            let output = try decompress(frame, decompressedBytesMax: limit)
            if !sameBytes(output, input) { wrong.append("call \(call): \(input.count) bytes at limit \(limit)") }
        }
        #expect(wrong.isEmpty, "seed \(seed): \(wrong.prefix(3))")
    }

    /// A frame that fails part-way (over the limit, corrupt, truncated), with or without a declared
    /// content size, must not leave state behind for the next frame decoded on the same thread.
    @Test func failedFramesDoNotAffectTheNextFrame() throws {
        let input = compressible(200_000)
        let sized = foreignFrame(input, blockSize: LZ4F_max64KB, blockMode: LZ4F_blockIndependent, checksums: true)
        let plain = try compress(input)
        var corrupt = plain
        corrupt[plain.count / 2] ^= 0xFF
        let failures: [(frame: [UInt8], limit: Int)] = [
            (sized, 100_000), (plain, 100_000), (Array(sized.dropLast(30)), 1 << 20), (Array(plain.prefix(9)), 1 << 20),
            (corrupt, 1 << 20), (sized + [0], 1 << 20),
        ]
        for round in 0..<20 {
            for (failure, limit) in failures {
                #expect(isLZ4Error(decompressError(failure, decompressedBytesMax: limit)), "round \(round)")
                #expect(sameBytes(try decompress(plain), input), "round \(round), plain after failure")
                #expect(isLZ4Error(decompressError(failure, decompressedBytesMax: limit)), "round \(round)")
                #expect(sameBytes(try decompress(sized), input), "round \(round), sized after failure")
            }
        }
    }

    /// Frames with 4 MiB blocks (whose contexts are not pooled) interleaved with Kafka-shaped ones.
    @Test func framesWithBigBlocksInterleaveWithPooledOnes() throws {
        let input = compressible(600_000)
        let big = foreignFrame(input, blockSize: LZ4F_max4MB, blockMode: LZ4F_blockLinked, checksums: false)
        let small = try compress(input)
        for _ in 0..<20 {
            #expect(sameBytes(try decompress(big), input))
            #expect(sameBytes(try decompress(small), input))
        }
    }

    /// Many threads decompressing at once share the pool (more threads than it keeps contexts).
    @Test func concurrentDecompressionFromSeveralThreads() throws {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        let inputs = [0, 500, 65_536, 150_000, 400_000].map { size in
            Bool.random(using: &rng) ? rng.bytes(size) : compressible(size)
        }
        let frames = try inputs.map { try compress($0) }
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 24) { thread in
            for call in 0..<60 {
                let k = (thread + call) % frames.count
                if call % 7 == 3 {
                    // A failure now and then: its context must not come back into the pool broken.
                    if !isLZ4Error(decompressError(frames[k], decompressedBytesMax: max(0, inputs[k].count - 1)))
                        && !inputs[k].isEmpty
                    {
                        failures.withLock { $0.append("thread \(thread) call \(call): no error over the limit") }
                    }
                    continue
                }
                do {
                    let output = try decompress(frames[k])
                    if !sameBytes(output, inputs[k]) {
                        failures.withLock { $0.append("thread \(thread) call \(call): wrong output") }
                    }
                } catch {
                    failures.withLock { $0.append("thread \(thread) call \(call): \(error)") }
                }
            }
        }
        let found = failures.withLock { $0 }
        #expect(found.isEmpty, "seed \(seed): \(found.prefix(3))")
    }

    // MARK: inside a RecordBatch

    @Test func corruptLZ4PayloadWithValidCrcThrowsLZ4FromTheIterator() throws {
        var builder = RecordBatchBuilder(compression: .lz4)
        for i in 0..<50 { builder.append(key: Array("k\(i)".utf8), value: compressible(500), timestamp: 1) }
        let good = try builder.build().array
        #expect(try decodeAll(good).count == 50)

        var badChecksum = good
        badChecksum[Layout.size + 6] ^= 0x01  // frame header checksum
        refreshCRC(&badChecksum)
        #expect(isLZ4Error(thrownError { () throws(RecordsError) in try decodeAll(badChecksum) }))

        var cut = Array(good.dropLast(4))  // no EndMark
        patch(&cut, at: Layout.batchLength, Int32(cut.count - Layout.logOverhead))
        refreshCRC(&cut)
        #expect(isLZ4Error(thrownError { () throws(RecordsError) in try decodeAll(cut) }))
    }

    @Test func lz4BatchOverDecompressedBytesMaxThrowsLZ4() throws {
        var builder = RecordBatchBuilder(compression: .lz4)
        builder.append(key: nil, value: compressible(100_000), timestamp: 1)
        let bytes = try builder.build().array
        let sectionSize = builder.uncompressedRecordBytes
        #expect(try decodeAll(bytes, decompressedBytesMax: sectionSize).count == 1)
        let error = thrownError { () throws(RecordsError) in
            try decodeAll(bytes, decompressedBytesMax: sectionSize - 1)
        }
        #expect(isLZ4Error(error), "\(String(describing: error))")
    }
}

extension SplitMix64 {
    /// `count` random bytes from a fresh generator (for argument-driven tests).
    func bytesOnce(_ count: Int) -> [UInt8] {
        var copy = self
        return copy.bytes(count)
    }
}

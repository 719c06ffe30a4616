import Foundation
import Logging
import NIOCore
import StrataRecords
@testable import StrataStorage

/// A fresh temporary directory, removed by `cleanup()`.
struct TemporaryDirectory {
    let path: String

    init(_ name: String = "strata-test") {
        path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// A deterministic PRNG (SplitMix64) so randomized tests can print and replay their seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Seed from STRATA_TEST_SEED or the clock; printed so a failure can be replayed.
func testSeed(_ test: String) -> UInt64 {
    let seed = ProcessInfo.processInfo.environment["STRATA_TEST_SEED"].flatMap(UInt64.init)
        ?? UInt64(Date().timeIntervalSince1970 * 1000)
    print("\(test): seed \(seed) (replay with STRATA_TEST_SEED=\(seed))")
    return seed
}

/// A batch of `count` records with values "<tag>-<i>" and keys "k<i>", timestamps from `timestamp`.
func makeBatch(count: Int = 3, tag: String = "v", timestamp: Int64 = 1_700_000_000_000, valueSize: Int? = nil,
               compression: CompressionCodec = .none) -> RecordBatch {
    var builder = RecordBatchBuilder(compression: compression)
    for index in 0..<count {
        var value = Array("\(tag)-\(index)".utf8)
        if let valueSize { value += [UInt8](repeating: UInt8(index & 0x7f), count: max(0, valueSize - value.count)) }
        builder.append(key: Array("k\(index)".utf8), value: value, timestamp: timestamp + Int64(index))
    }
    return try! RecordBatch(buffer: try! builder.build())
}

/// Values of every record in `slice`, decoding each batch.
func values(in slice: LogSlice) throws -> [(offset: Int64, value: String)] {
    var buffer = try slice.makeByteBuffer()
    var result: [(Int64, String)] = []
    while let batch = try RecordBatch.next(from: &buffer) {
        try batch.validate()
        for record in try batch.records() {
            result.append((record.offset, record.value.map { String(buffer: $0) } ?? "<null>"))
        }
    }
    return result
}

/// Every record from `offset` to the log end, following slices across segments.
func readAll(_ log: PartitionLog, from offset: Int64 = 0, maxBytes: Int = 1 << 20) throws -> [(offset: Int64, value: String)] {
    var next = max(offset, log.logStartOffset)
    var result: [(Int64, String)] = []
    while next < log.logEndOffset {
        guard let slice = try log.read(from: next, maxBytes: maxBytes).slice else { break }
        for record in try values(in: slice) where record.offset >= next { result.append(record) }
        next = slice.lastOffset + 1
    }
    return result
}

let quietLogger: Logger = {
    var logger = Logger(label: "strata.test")
    logger.logLevel = .critical
    return logger
}()

let sharedExecutor = BlockingExecutor(threadCount: 2, name: "strata-test-io")

func openLog(_ directory: String, config: LogConfig = LogConfig(), clean: Bool = true, recoveryPoint: Int64? = nil,
             fileSystem: FileSystem = PosixFileSystem(), clock: StorageClock = SystemClock()) throws -> PartitionLog {
    try PartitionLog.open(directory: directory, topicPartition: TopicPartition("t", 0), config: config,
                          options: .init(cleanShutdown: clean, recoveryPoint: recoveryPoint), fileSystem: fileSystem,
                          clock: clock, executor: sharedExecutor, logger: quietLogger)
}

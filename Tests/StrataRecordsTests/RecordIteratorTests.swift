import NIOCore
import StrataRecords
import Testing

/// Builds an uncompressed batch and decodes it again.
private func roundTrip(
    _ build: (inout RecordBatchBuilder) -> Void, compression: CompressionCodec = .none
) throws -> (header: RecordBatchHeader, records: [Record]) {
    var builder = RecordBatchBuilder(compression: compression)
    build(&builder)
    let batch = try RecordBatch(buffer: try builder.build())
    return (try batch.validate(), try batch.records())
}

/// Length prefix + body: a record whose body the test wrote by hand (possibly malformed).
private func framed(_ body: [UInt8]) -> [UInt8] { varintBytes(Int32(body.count)) + body }

/// Decoding a hand-made records section: the first error, or nil when every record decoded.
private func decodeError(_ section: [UInt8], recordCount: Int32, baseOffset: Int64 = 0) -> RecordsError? {
    let bytes = handMadeBatch(records: section, recordCount: recordCount, baseOffset: baseOffset)
    return thrownError { () throws(RecordsError) in
        let records = try decodeAll(bytes)
        // Headers were validated by the iterator: walking them must not trap either.
        for record in records { for header in record.headers { _ = header.key } }
    }
}

/// One malformed records section and the field the error must name.
struct MalformedCase: Sendable, CustomTestStringConvertible {
    var name: String
    var section: [UInt8]
    var recordCount: Int32
    var index: Int
    var field: String
    var testDescription: String { name }
}

/// A well-formed 14-byte record: key [1], value [2, 3], one header h=[4].
private let goodRecord = handMadeRecord(offsetDelta: 0, key: [1], value: [2, 3], headers: [("h", [4])])

private let malformedCases: [MalformedCase] = [
    MalformedCase(name: "truncated length varint", section: [0x80], recordCount: 1, index: 0, field: "length"),
    MalformedCase(name: "empty section", section: [], recordCount: 1, index: 0, field: "length"),
    MalformedCase(name: "zero length", section: [0x00], recordCount: 1, index: 0, field: "length"),
    MalformedCase(name: "negative length", section: [0x01, 0, 0, 0], recordCount: 1, index: 0, field: "length"),
    MalformedCase(
        name: "length past section end", section: varintBytes(40) + Array(goodRecord.dropFirst()),
        recordCount: 1, index: 0, field: "length"),
    MalformedCase(
        name: "timestampDelta longer than 10 bytes",
        section: framed([0] + [UInt8](repeating: 0x80, count: 10) + [0, 0, 1, 1, 0]), recordCount: 1, index: 0,
        field: "timestampDelta"),
    MalformedCase(
        name: "offsetDelta longer than 5 bytes",
        section: framed([0, 0] + [UInt8](repeating: 0x80, count: 5) + [0, 1, 1, 0]), recordCount: 1, index: 0,
        field: "offsetDelta"),
    MalformedCase(
        name: "body ends before key length", section: framed([0, 0, 0]), recordCount: 1, index: 0, field: "keyLength"),
    MalformedCase(
        name: "key longer than record", section: framed([0, 0, 0] + varintBytes(50) + [1, 2, 1, 0]),
        recordCount: 1, index: 0, field: "keyLength"),
    MalformedCase(
        name: "key length -2", section: framed([0, 0, 0] + varintBytes(-2) + [1, 0]), recordCount: 1, index: 0,
        field: "keyLength"),
    MalformedCase(
        name: "value longer than record", section: framed([0, 0, 0, 1] + varintBytes(9) + [7, 0]),
        recordCount: 1, index: 0, field: "valueLength"),
    MalformedCase(
        name: "value length -2", section: framed([0, 0, 0, 1] + varintBytes(-2) + [0]), recordCount: 1, index: 0,
        field: "valueLength"),
    MalformedCase(name: "body ends before header count", section: framed([0, 0, 0, 1, 1]), recordCount: 1, index: 0,
                  field: "headerCount"),
    MalformedCase(
        name: "negative header count", section: framed([0, 0, 0, 1, 1] + varintBytes(-1)), recordCount: 1, index: 0,
        field: "headerCount"),
    MalformedCase(
        name: "header count Int32.max with no headers", section: framed([0, 0, 0, 1, 1] + varintBytes(Int32.max)),
        recordCount: 1, index: 0, field: "headerKeyLength"),
    MalformedCase(
        name: "null header key", section: framed([0, 0, 0, 1, 1, 2] + varintBytes(-1) + [1]), recordCount: 1,
        index: 0, field: "headerKeyLength"),
    MalformedCase(
        name: "header key longer than record", section: framed([0, 0, 0, 1, 1, 2] + varintBytes(30) + [0x68, 1]),
        recordCount: 1, index: 0, field: "headerKeyLength"),
    MalformedCase(
        name: "header value length -2", section: framed([0, 0, 0, 1, 1, 2, 2, 0x68] + varintBytes(-2)),
        recordCount: 1, index: 0, field: "headerValueLength"),
    MalformedCase(
        name: "header value longer than record", section: framed([0, 0, 0, 1, 1, 2, 2, 0x68] + varintBytes(8) + [9]),
        recordCount: 1, index: 0, field: "headerValueLength"),
    MalformedCase(
        name: "fields end before declared length", section: framed([0, 0, 0, 1, 1, 0, 0xEE]), recordCount: 1,
        index: 0, field: "length"),
    MalformedCase(name: "trailing bytes after last record", section: goodRecord + [0], recordCount: 1, index: 1,
                  field: "records"),
    MalformedCase(
        name: "second whole record beyond recordCount", section: goodRecord + goodRecord, recordCount: 1, index: 1,
        field: "records"),
    MalformedCase(
        name: "fewer records than recordCount", section: goodRecord, recordCount: 2, index: 1, field: "length"),
    MalformedCase(
        name: "second record truncated", section: goodRecord + goodRecord.dropLast(3), recordCount: 2, index: 1,
        field: "length"),
]

@Suite struct RecordIteratorTests {
    // MARK: well-formed records

    @Test func nullKeyDecodesAsNil() throws {
        let (_, records) = try roundTrip { $0.append(key: nil as [UInt8]?, value: [1, 2, 3], timestamp: 5) }
        try #require(records.count == 1)
        #expect(records[0].key == nil)
        #expect(records[0].value?.array == [1, 2, 3])
    }

    @Test func nullValueIsATombstone() throws {
        let (_, records) = try roundTrip { $0.append(key: Array("gone".utf8), value: nil as [UInt8]?, timestamp: 5) }
        try #require(records.count == 1)
        #expect(records[0].key?.array == Array("gone".utf8))
        #expect(records[0].value == nil)
    }

    @Test func emptyKeyAndValueAreEmptyNotNull() throws {
        let (_, records) = try roundTrip { $0.append(key: [], value: [], timestamp: 5) }
        try #require(records.count == 1)
        #expect(records[0].key?.readableBytes == 0)
        #expect(records[0].value?.readableBytes == 0)
    }

    @Test func headersKeepOrderEmptyKeysAndNullValues() throws {
        let headers = [
            RecordHeader(key: "trace-id", value: ByteBuffer(string: "abc")),
            RecordHeader(key: "nothing", value: nil),
            RecordHeader(key: "empty", value: ByteBuffer()),
            RecordHeader(key: "", value: ByteBuffer(bytes: [0, 0xFF])),
            RecordHeader(key: "clé-中", value: nil),
            RecordHeader(key: "trace-id", value: ByteBuffer(string: "dup")),
        ]
        let (_, records) = try roundTrip {
            $0.append(key: nil as [UInt8]?, value: nil as [UInt8]?, headers: headers, timestamp: 0)
        }
        try #require(records.count == 1)
        #expect(records[0].headers.count == headers.count)
        #expect(Array(records[0].headers) == headers)
        // A header sequence can be walked more than once.
        #expect(Array(records[0].headers) == headers)
        let values = records[0].headers.map(\.value)
        #expect(values[1] == nil)
        #expect(values[2]?.readableBytes == 0)
    }

    @Test func manyRecordsKeepOffsetsKeysAndValues() throws {
        let count = 10_000
        let (header, records) = try roundTrip { builder in
            for i in 0..<count {
                builder.append(
                    key: Array("k\(i)".utf8), value: Array("v\(i * 7)".utf8), timestamp: 1_000 + Int64(i % 97))
            }
        }
        #expect(header.recordCount == Int32(count))
        #expect(header.lastOffsetDelta == Int32(count - 1))
        #expect(header.maxTimestamp == 1_096)
        try #require(records.count == count)
        var wrong = 0
        for (i, record) in records.enumerated() {
            if record.offset != Int64(i) || record.timestamp != 1_000 + Int64(i % 97)
                || record.key?.array != Array("k\(i)".utf8) || record.value?.array != Array("v\(i * 7)".utf8)
            {
                wrong += 1
            }
        }
        #expect(wrong == 0)
    }

    @Test func negativeTimestampDeltasDecode() throws {
        let timestamps: [Int64] = [1_000_000, 999_000, 1_000_500, 0, 1_000_000]
        let (header, records) = try roundTrip { builder in
            for t in timestamps { builder.append(key: nil as [UInt8]?, value: [1], timestamp: t) }
        }
        #expect(header.baseTimestamp == 1_000_000)
        #expect(header.maxTimestamp == 1_000_500)
        #expect(records.map(\.timestamp) == timestamps)
    }

    @Test func timestampDeltasBeyondInt32Decode() throws {
        let timestamps: [Int64] = [0, 1 << 40, Int64(Int32.max) + 1, 3]
        let (header, records) = try roundTrip { builder in
            for t in timestamps { builder.append(key: nil as [UInt8]?, value: nil as [UInt8]?, timestamp: t) }
        }
        #expect(header.maxTimestamp == 1 << 40)
        #expect(records.map(\.timestamp) == timestamps)
    }

    @Test func recordsLongerThanOneVarintByteDecode() throws {
        let key = [UInt8](repeating: 0x6B, count: 200)
        let value = [UInt8](repeating: 0x76, count: 20_000)
        let (_, records) = try roundTrip { $0.append(key: key, value: value, timestamp: 1) }
        try #require(records.count == 1)
        #expect(digest(records[0].key) == digest(key))
        #expect(digest(records[0].value) == digest(value))
    }

    /// The builder and an independent encoder written from kafka-protocol.md §4.3 produce the same
    /// records section, and the iterator decodes it.
    @Test func builderMatchesIndependentRecordEncoding() throws {
        var builder = RecordBatchBuilder()
        builder.append(key: [1, 2], value: nil, headers: [RecordHeader(key: "a", value: nil)], timestamp: 500)
        builder.append(key: nil, value: [3], headers: [], timestamp: 400)
        builder.append(
            key: [], value: Array(repeating: 9, count: 130),
            headers: [RecordHeader(key: "bb", value: ByteBuffer(bytes: [5]))], timestamp: 70_000)
        let built = try builder.build().array
        let expected = handMadeRecord(timestampDelta: 0, offsetDelta: 0, key: [1, 2], value: nil, headers: [("a", nil)])
            + handMadeRecord(timestampDelta: -100, offsetDelta: 1, key: nil, value: [3])
            + handMadeRecord(timestampDelta: 69_500, offsetDelta: 2, key: [], value: Array(repeating: 9, count: 130),
                             headers: [("bb", [5])])
        #expect(Array(built[Layout.size...]) == expected)
        let records = try decodeAll(handMadeBatch(records: expected, recordCount: 3, baseTimestamp: 500))
        #expect(records.map(\.timestamp) == [500, 400, 70_000])
        #expect(records.map(\.offset) == [0, 1, 2])
    }

    @Test func offsetsAreBasePlusDeltaAfterStamping() throws {
        var builder = RecordBatchBuilder()
        for _ in 0..<4 { builder.append(key: nil as [UInt8]?, value: [0], timestamp: 0) }
        var batch = try RecordBatch(buffer: try builder.build())
        batch.stamp(baseOffset: Int64(Int32.max) * 4, partitionLeaderEpoch: 1)
        #expect(try batch.records().map(\.offset) == (0..<4).map { Int64(Int32.max) * 4 + $0 })
    }

    @Test func recordAttributesAndOffsetDeltasComeFromTheBytes() throws {
        // Offset deltas with a gap (as left by compaction) and a non-zero attributes byte.
        var second = handMadeRecord(offsetDelta: 7, key: nil, value: [2])
        second[1] = 0x55
        let section = handMadeRecord(offsetDelta: 0, key: nil, value: [1]) + second
        let bytes = handMadeBatch(records: section, recordCount: 2, lastOffsetDelta: 7, baseOffset: 100)
        let records = try decodeAll(bytes)
        #expect(records.map(\.offset) == [100, 107])
        #expect(records.map(\.attributes) == [0, 0x55])
    }

    /// Key, value and headers are views of the records section; assigning one keeps the others.
    @Test func settingKeyValueOrHeadersKeepsTheOtherFields() throws {
        let headers = [RecordHeader(key: "h", value: ByteBuffer(string: "v")), RecordHeader(key: "n", value: nil)]
        let (_, records) = try roundTrip {
            $0.append(key: Array("k".utf8), value: Array("value".utf8), headers: headers, timestamp: 9)
            $0.append(key: nil as [UInt8]?, value: [1], timestamp: 10)
        }
        try #require(records.count == 2)
        var record = records[0]
        record.key = nil
        #expect(record.key == nil)
        #expect(record.value?.array == Array("value".utf8))
        #expect(Array(record.headers) == headers)
        record.value = ByteBuffer(string: "other")
        record.key = ByteBuffer(bytes: [])
        #expect(record.key?.readableBytes == 0)
        #expect(record.value?.array == Array("other".utf8))
        record.headers = records[1].headers
        #expect(record.headers.count == 0)
        #expect(Array(record.headers).isEmpty)
        #expect(record.offset == records[0].offset && record.timestamp == 9)
        // The original record still reads its own bytes.
        #expect(records[0].key?.array == Array("k".utf8))
        #expect(Array(records[0].headers) == headers)
        var tombstone = records[1]
        tombstone.value = nil
        #expect(tombstone.value == nil && tombstone.key == nil)
    }

    // MARK: malformed records

    @Test(arguments: malformedCases)
    func malformedRecordIsReportedWithField(_ malformed: MalformedCase) {
        let error = decodeError(malformed.section, recordCount: malformed.recordCount)
        guard case let .malformedRecord(index, field, position, _)? = error else {
            Issue.record("expected malformedRecord, got \(String(describing: error))")
            return
        }
        #expect(index == malformed.index)
        #expect(field == malformed.field)
        #expect(position >= 0 && position <= malformed.section.count)
    }

    @Test func malformedRecordPositionsPointAtTheBadField() {
        // Second record's key length is bad: position is inside the second record.
        let bad = framed([0, 0, 2] + varintBytes(-3) + [1, 0])
        let error = decodeError(goodRecord + bad, recordCount: 2)
        #expect(error == .malformedRecord(
            index: 1, field: "keyLength", recordsPosition: goodRecord.count + 1 + 4, reason: "bad key length"))
        let trailing = decodeError(goodRecord + [7, 7], recordCount: 1)
        #expect(trailing == .malformedRecord(
            index: 1, field: "records", recordsPosition: goodRecord.count,
            reason: "2 bytes after the last of 1 records"))
    }

    @Test func offsetPastInt64MaxIsMalformedNotATrap() {
        let section = handMadeRecord(offsetDelta: 0, key: nil, value: [1])
            + handMadeRecord(offsetDelta: 1, key: nil, value: [2])
        let error = decodeError(section, recordCount: 2, baseOffset: Int64.max)
        #expect(malformedField(error) == "offsetDelta")
        let negative = decodeError(
            handMadeRecord(offsetDelta: -1, key: nil, value: [1]), recordCount: 1, baseOffset: Int64.min)
        #expect(malformedField(negative) == "offsetDelta")
    }

    @Test func everyTruncationOfTheRecordsSectionIsMalformed() {
        let section = goodRecord
            + handMadeRecord(timestampDelta: -3, offsetDelta: 1, key: nil, value: Array(repeating: 1, count: 150),
                             headers: [("x", nil), ("yy", [1, 2])])
            + handMadeRecord(offsetDelta: 2, key: [], value: nil)
        #expect(decodeError(section, recordCount: 3) == nil)
        for length in 0..<section.count {
            let error = decodeError(Array(section[..<length]), recordCount: 3)
            #expect(malformedField(error) != nil, "prefix \(length): \(String(describing: error))")
        }
    }

    /// Every single-byte corruption of a records section either still decodes or is reported as a
    /// malformed record: never a trap, never another error type.
    @Test func corruptedRecordBytesAreMalformedOrDecodeNeverTrap() {
        let section = goodRecord
            + handMadeRecord(timestampDelta: 1 << 35, offsetDelta: 1, key: [9, 9, 9], value: nil, headers: [("k", nil)])
            + handMadeRecord(offsetDelta: 2, key: nil, value: Array(repeating: 3, count: 70))
        var unexpected: [String] = []
        var malformedCount = 0
        for position in 0..<section.count {
            let original = section[position]
            for replacement: UInt8 in [0x00, 0x01, 0x02, 0x7F, 0x80, 0xFE, 0xFF, original ^ 0x01, original ^ 0x40] {
                var corrupted = section
                corrupted[position] = replacement
                let error = decodeError(corrupted, recordCount: 3)
                if error == nil { continue }
                if malformedField(error) != nil { malformedCount += 1; continue }
                unexpected.append("byte \(position)=0x\(String(replacement, radix: 16)): \(String(describing: error))")
            }
        }
        #expect(unexpected.isEmpty, "\(unexpected.prefix(5))")
        #expect(malformedCount > 0)
    }

    // MARK: randomized round trip

    @Test func randomBatchesRoundTripEveryField() throws {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        for iteration in 0..<100 {
            let spec = RandomBatchSpec(using: &rng)
            let problems = try spec.check(rng: &rng)
            #expect(problems.isEmpty, "seed \(seed) iteration \(iteration) (\(spec.summary)): \(problems.prefix(5))")
            if !problems.isEmpty { break }
        }
    }
}

/// A random batch description: builder settings plus records, and the check that encoding then
/// decoding it gives every field back.
private struct RandomBatchSpec {
    struct Spec {
        var key: [UInt8]?
        var value: [UInt8]?
        var headers: [(String, [UInt8]?)]
        var timestamp: Int64
    }

    var compression: CompressionCodec
    var producerId: Int64
    var producerEpoch: Int16
    var baseSequence: Int32
    var partitionLeaderEpoch: Int32
    var isTransactional: Bool
    var timestampType: TimestampType
    var records: [Spec]

    var summary: String { "\(compression.name), \(records.count) records" }

    init(using rng: inout SplitMix64) {
        compression = Bool.random(using: &rng) ? .none : .lz4
        let idempotent = Bool.random(using: &rng)
        producerId = idempotent ? Int64.random(in: 0...Int64.max, using: &rng) : -1
        producerEpoch = idempotent ? Int16.random(in: 0...Int16.max, using: &rng) : -1
        baseSequence = idempotent ? Int32.random(in: 0...Int32.max, using: &rng) : -1
        partitionLeaderEpoch = Int32.random(in: -1...1_000, using: &rng)
        isTransactional = idempotent && Bool.random(using: &rng)
        timestampType = Int.random(in: 0..<4, using: &rng) == 0 ? .logAppendTime : .createTime
        let count = Int.random(in: 0..<10, using: &rng) == 0 ? Int.random(in: 1...600, using: &rng)
            : Int.random(in: 1...40, using: &rng)
        let base = Int64.random(in: 0...(1 << 42), using: &rng)
        records = (0..<count).map { _ in
            Spec(
                key: Self.bytes(&rng, sizeMax: Int.random(in: 0..<20, using: &rng) == 0 ? 400 : 40),
                value: Self.bytes(&rng, sizeMax: Self.valueSizeMax(&rng)),
                headers: (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                    (Self.headerKey(&rng), Self.bytes(&rng, sizeMax: 24))
                },
                timestamp: Swift.max(0, base + Int64.random(in: -(1 << 24)...(1 << 33), using: &rng)))
        }
    }

    private static func valueSizeMax(_ rng: inout SplitMix64) -> Int {
        switch Int.random(in: 0..<400, using: &rng) {
        case 0: return 140_000  // crosses LZ4's 64 KiB block size
        case 1..<20: return 5_000
        default: return 300
        }
    }

    /// nil (10 %), empty (10 %), else random or compressible bytes.
    private static func bytes(_ rng: inout SplitMix64, sizeMax: Int) -> [UInt8]? {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: return nil
        case 1: return []
        default:
            let count = Int.random(in: 1...sizeMax, using: &rng)
            if Bool.random(using: &rng) { return rng.bytes(count) }
            let pattern = rng.bytes(Int.random(in: 1...8, using: &rng))
            return (0..<count).map { pattern[$0 % pattern.count] }
        }
    }

    private static func headerKey(_ rng: inout SplitMix64) -> String {
        let alphabet: [Character] = ["a", "b", "Z", "-", "_", ".", "0", "é", "ü", "中", "🚀"]
        return String((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
    }

    private func makeBuilder() -> RecordBatchBuilder {
        RecordBatchBuilder(
            compression: compression, producerId: producerId, producerEpoch: producerEpoch,
            baseSequence: baseSequence, partitionLeaderEpoch: partitionLeaderEpoch,
            isTransactional: isTransactional, timestampType: timestampType)
    }

    /// Encodes, decodes and compares; returns the mismatches (empty when everything round-tripped).
    func check(rng: inout SplitMix64) throws -> [String] {
        var builder = makeBuilder()
        for r in records {
            builder.append(
                key: r.key, value: r.value,
                headers: r.headers.map { RecordHeader(key: $0.0, value: $0.1.map { ByteBuffer(bytes: $0) }) },
                timestamp: r.timestamp)
        }
        let built = try builder.build()
        var problems: [String] = []
        func check(_ ok: Bool, _ what: @autoclosure () -> String) { if !ok { problems.append(what()) } }

        var batch = try RecordBatch(buffer: built)
        let header = try batch.validate()
        try header.checkProducedShape()
        check(header.baseOffset == 0, "baseOffset \(header.baseOffset)")
        check(header.partitionLeaderEpoch == partitionLeaderEpoch, "partitionLeaderEpoch")
        check(header.compression == compression, "compression \(header.attributes)")
        check(header.timestampType == timestampType, "timestampType")
        check(header.isTransactional == isTransactional, "isTransactional")
        check(!header.isControl, "isControl")
        check(header.producerId == producerId, "producerId")
        check(header.producerEpoch == producerEpoch, "producerEpoch")
        check(header.baseSequence == baseSequence, "baseSequence")
        check(header.recordCount == Int32(records.count), "recordCount")
        check(header.lastOffsetDelta == Int32(records.count - 1), "lastOffsetDelta")
        check(header.baseTimestamp == records[0].timestamp, "baseTimestamp")
        check(header.maxTimestamp == records.map(\.timestamp).max()!, "maxTimestamp")
        check(header.sizeInBytes == built.readableBytes, "sizeInBytes")

        let baseOffset = Int64.random(in: 0...(1 << 50), using: &rng)
        batch.stamp(baseOffset: baseOffset, partitionLeaderEpoch: 7)
        let decoded = try batch.records()
        check(decoded.count == records.count, "decoded \(decoded.count) records")
        for (i, (got, want)) in zip(decoded, records).enumerated() {
            check(got.offset == baseOffset + Int64(i), "record \(i) offset \(got.offset)")
            check(got.timestamp == want.timestamp, "record \(i) timestamp \(got.timestamp) != \(want.timestamp)")
            check(got.attributes == 0, "record \(i) attributes")
            check(digest(got.key) == digest(want.key), "record \(i) key \(String(describing: digest(got.key)))")
            check(digest(got.value) == digest(want.value), "record \(i) value \(String(describing: digest(got.value)))")
            let headers = Array(got.headers)
            check(
                got.headers.count == want.headers.count && headers.count == want.headers.count,
                "record \(i) header count")
            for (h, (gotHeader, wantHeader)) in zip(headers, want.headers).enumerated() {
                check(gotHeader.key == wantHeader.0, "record \(i) header \(h) key \(gotHeader.key)")
                check(digest(gotHeader.value) == digest(wantHeader.1), "record \(i) header \(h) value")
            }
        }

        // Re-encoding the decoded records with the same settings gives the same bytes.
        var again = makeBuilder()
        for record in decoded {
            again.append(
                key: record.key, value: record.value, headers: Array(record.headers), timestamp: record.timestamp)
        }
        check(BytesDigest(try again.build()) == BytesDigest(built), "re-encoded batch differs")
        return problems
    }
}

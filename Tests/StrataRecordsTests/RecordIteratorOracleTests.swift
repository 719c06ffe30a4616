import NIOCore
import StrataRecords
import Testing

/// The record decoder as it was before the fast paths (one general varint loop, every check in
/// order), kept as an oracle: the optimized `RecordIterator` must decode the same records and throw
/// the same errors, with the same index, field, position and reason, on any bytes.
enum ReferenceDecoder {
    struct Decoded: Equatable, CustomStringConvertible {
        var offset: Int64
        var timestamp: Int64
        var attributes: Int8
        var key: [UInt8]?
        var value: [UInt8]?
        var headerKeys: [String]
        var headerValues: [[UInt8]?]

        var description: String {
            "offset \(offset) ts \(timestamp) attr \(attributes) key \(key?.count ?? -1) value \(value?.count ?? -1)"
                + " headers \(headerKeys.count)"
        }
    }

    /// General base-128 decoding, at most `maxBytes` bytes of `bytes[..<limit]`.
    static func readUnsigned(_ bytes: [UInt8], _ index: inout Int, limit: Int, maxBytes: Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var i = index
        let end = min(limit, index + maxBytes)
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

    static func read32(_ bytes: [UInt8], _ index: inout Int, limit: Int) -> Int32? {
        guard let raw = readUnsigned(bytes, &index, limit: limit, maxBytes: 5), raw <= UInt64(UInt32.max) else {
            return nil
        }
        let u = UInt32(raw)
        return Int32(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    static func read64(_ bytes: [UInt8], _ index: inout Int, limit: Int) -> Int64? {
        guard let u = readUnsigned(bytes, &index, limit: limit, maxBytes: 10) else { return nil }
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    /// Decodes `recordCount` records of `section`: the records, then the error that stopped it (if any).
    static func decode(
        _ section: [UInt8], recordCount: Int32, baseOffset: Int64, baseTimestamp: Int64
    )
        -> (records: [Decoded], error: RecordsError?)
    {
        var records: [Decoded] = []
        var position = 0
        var index = 0
        while true {
            guard index < Int(recordCount) else {
                if position != section.count {
                    return (
                        records,
                        .malformedRecord(
                            index: index, field: "records", recordsPosition: position,
                            reason: "\(section.count - position) bytes after the last of \(recordCount) records")
                    )
                }
                return (records, nil)
            }
            switch record(section, at: position, index: index, baseOffset: baseOffset, baseTimestamp: baseTimestamp) {
            case .success((let decoded, let end)):
                records.append(decoded)
                position = end
                index += 1
            case .failure(let error):
                return (records, error)
            }
        }
    }

    private static func record(
        _ bytes: [UInt8], at start: Int, index: Int, baseOffset: Int64, baseTimestamp: Int64
    ) -> Result<(Decoded, Int), RecordsError> {
        var i = start
        func fail(_ field: String, _ reason: String) -> Result<(Decoded, Int), RecordsError> {
            .failure(.malformedRecord(index: index, field: field, recordsPosition: i, reason: reason))
        }
        guard let length = read32(bytes, &i, limit: bytes.count) else {
            return fail("length", "bad or truncated varint")
        }
        guard length > 0, Int(length) <= bytes.count - i else {
            return fail("length", "declared \(length) bytes, \(bytes.count - i) remain")
        }
        let end = i + Int(length)
        let attributes = Int8(bitPattern: bytes[i])
        i += 1
        guard let timestampDelta = read64(bytes, &i, limit: end) else { return fail("timestampDelta", "bad varlong") }
        guard let offsetDelta = read32(bytes, &i, limit: end) else { return fail("offsetDelta", "bad varint") }
        guard let keyLength = read32(bytes, &i, limit: end), keyLength >= -1, Int(keyLength) <= end - i else {
            return fail("keyLength", "bad key length")
        }
        let key = keyLength < 0 ? nil : Array(bytes[i..<(i + Int(keyLength))])
        i += max(0, Int(keyLength))
        guard let valueLength = read32(bytes, &i, limit: end), valueLength >= -1, Int(valueLength) <= end - i else {
            return fail("valueLength", "bad value length")
        }
        let value = valueLength < 0 ? nil : Array(bytes[i..<(i + Int(valueLength))])
        i += max(0, Int(valueLength))
        guard let headerCount = read32(bytes, &i, limit: end), headerCount >= 0 else {
            return fail("headerCount", "bad header count")
        }
        var headerKeys: [String] = []
        var headerValues: [[UInt8]?] = []
        for _ in 0..<Int(headerCount) {
            guard let hk = read32(bytes, &i, limit: end), hk >= 0, Int(hk) <= end - i else {
                return fail("headerKeyLength", "bad header key length")
            }
            headerKeys.append(String(decoding: bytes[i..<(i + Int(hk))], as: UTF8.self))
            i += Int(hk)
            guard let hv = read32(bytes, &i, limit: end), hv >= -1, Int(hv) <= end - i else {
                return fail("headerValueLength", "bad header value length")
            }
            headerValues.append(hv < 0 ? nil : Array(bytes[i..<(i + Int(hv))]))
            i += max(0, Int(hv))
        }
        guard i == end else { return fail("length", "record declares \(length) bytes but its fields end earlier") }
        let (offset, overflow) = baseOffset.addingReportingOverflow(Int64(offsetDelta))
        if overflow {
            return .failure(
                .malformedRecord(
                    index: index, field: "offsetDelta", recordsPosition: start,
                    reason: "baseOffset \(baseOffset) + offsetDelta \(offsetDelta) overflows"))
        }
        let decoded = Decoded(
            offset: offset, timestamp: baseTimestamp &+ timestampDelta, attributes: attributes, key: key,
            value: value, headerKeys: headerKeys, headerValues: headerValues)
        return .success((decoded, end))
    }
}

/// The optimized iterator's view of the same section, in the oracle's terms.
private func iteratorDecode(
    _ section: [UInt8], recordCount: Int32, baseOffset: Int64, baseTimestamp: Int64
)
    -> (records: [ReferenceDecoder.Decoded], error: RecordsError?)
{
    let bytes = handMadeBatch(
        records: section, recordCount: recordCount, baseOffset: baseOffset, baseTimestamp: baseTimestamp)
    var records: [ReferenceDecoder.Decoded] = []
    do {
        var iterator = try RecordBatch(buffer: ByteBuffer(bytes: bytes)).makeRecordIterator()
        while let record = try iterator.next() {
            let headers = Array(record.headers)
            records.append(
                ReferenceDecoder.Decoded(
                    offset: record.offset, timestamp: record.timestamp, attributes: record.attributes,
                    key: record.key?.array, value: record.value?.array, headerKeys: headers.map(\.key),
                    headerValues: headers.map { $0.value?.array }))
        }
        return (records, nil)
    } catch {
        return (records, error)
    }
}

/// `RecordBatch.forEachRecord`'s view of the same section, in the oracle's terms.
private func viewDecode(
    _ section: [UInt8], recordCount: Int32, baseOffset: Int64, baseTimestamp: Int64
)
    -> (records: [ReferenceDecoder.Decoded], error: RecordsError?)
{
    let bytes = handMadeBatch(
        records: section, recordCount: recordCount, baseOffset: baseOffset, baseTimestamp: baseTimestamp)
    var records: [ReferenceDecoder.Decoded] = []
    let error = thrownError { () throws(RecordsError) in
        try RecordBatch(buffer: ByteBuffer(bytes: bytes)).forEachRecord { record in
            var headerKeys: [String] = []
            var headerValues: [[UInt8]?] = []
            record.forEachHeader { key, value in
                headerKeys.append(String(decoding: key, as: UTF8.self))
                headerValues.append(value.map { Array($0) })
            }
            records.append(
                ReferenceDecoder.Decoded(
                    offset: record.offset, timestamp: record.timestamp, attributes: record.attributes,
                    key: record.key.map { Array($0) }, value: record.value.map { Array($0) }, headerKeys: headerKeys,
                    headerValues: headerValues))
        }
    }
    return (records, error)
}

/// Random records whose varints take 1 to 10 bytes, with nulls, empties and headers.
private func randomSection(_ rng: inout SplitMix64) -> (section: [UInt8], count: Int32) {
    func length(_ rng: inout SplitMix64) -> [UInt8]? {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: return nil
        case 1: return []
        case 2: return rng.bytes(Int.random(in: 64...300, using: &rng))  // two-byte length varints
        case 3: return rng.bytes(Int.random(in: 8_192...9_000, using: &rng))  // three-byte length varints
        default: return rng.bytes(Int.random(in: 1...63, using: &rng))
        }
    }
    let count = Int.random(in: 1...6, using: &rng)
    var section: [UInt8] = []
    for delta in 0..<count {
        let timestampDelta: Int64 =
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: Int64.random(in: -64...63, using: &rng)
            case 1: Int64.random(in: -8_192...8_191, using: &rng)
            case 2: Int64.random(in: Int64.min...Int64.max, using: &rng)
            default: Int64.random(in: -(1 << 40)...(1 << 40), using: &rng)
            }
        let offsetDelta = Bool.random(using: &rng) ? Int32(delta) : Int32.random(in: -10_000...Int32.max, using: &rng)
        let headers: [(String, [UInt8]?)] = (0..<Int.random(in: 0...2, using: &rng)).map { h in
            ("h\(h)", Bool.random(using: &rng) ? nil : rng.bytes(Int.random(in: 0...70, using: &rng)))
        }
        var record = handMadeRecord(
            timestampDelta: timestampDelta, offsetDelta: offsetDelta, key: length(&rng), value: length(&rng),
            headers: headers)
        if Int.random(in: 0..<8, using: &rng) == 0 { record[1] = UInt8.random(in: 0...255, using: &rng) }  // attributes
        section += record
    }
    return (section, Int32(count))
}

/// One random corruption: replaced, inserted or deleted bytes, a truncation, or nothing.
private func mutate(_ section: inout [UInt8], _ rng: inout SplitMix64) {
    guard !section.isEmpty else { return }
    let interesting: [UInt8] = [0x00, 0x01, 0x02, 0x7E, 0x7F, 0x80, 0x81, 0xFE, 0xFF]
    for _ in 0..<Int.random(in: 1...3, using: &rng) {
        let at = Int.random(in: 0..<section.count, using: &rng)
        let byte =
            Bool.random(using: &rng)
            ? interesting.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
        switch Int.random(in: 0..<6, using: &rng) {
        case 0, 1, 2: section[at] = byte
        case 3: section.insert(byte, at: at)
        case 4: if section.count > 1 { section.remove(at: at) }
        default: section.removeLast(Int.random(in: 0...min(section.count - 1, 20), using: &rng))
        }
    }
}

@Suite struct RecordIteratorOracleTests {
    @Test func validSectionsDecodeLikeTheReferenceDecoder() {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        var mismatches: [String] = []
        for iteration in 0..<400 {
            let (section, count) = randomSection(&rng)
            let baseOffset = Int64.random(in: 0...(1 << 50), using: &rng)
            let expected = ReferenceDecoder.decode(
                section, recordCount: count, baseOffset: baseOffset, baseTimestamp: 7)
            let got = iteratorDecode(section, recordCount: count, baseOffset: baseOffset, baseTimestamp: 7)
            if got.records != expected.records || got.error != expected.error {
                mismatches.append("iteration \(iteration): \(got) != \(expected)")
            }
            let viewed = viewDecode(section, recordCount: count, baseOffset: baseOffset, baseTimestamp: 7)
            if viewed.records != expected.records || viewed.error != expected.error {
                mismatches.append("iteration \(iteration), forEachRecord: \(viewed) != \(expected)")
            }
        }
        #expect(mismatches.isEmpty, "seed \(seed): \(mismatches.prefix(3))")
    }

    /// Same records, same errors (index, field, position, reason) on corrupted bytes, wrong record
    /// counts and base offsets near the top of the range.
    @Test func corruptedSectionsFailLikeTheReferenceDecoder() {
        let seed = TestSeed.make()
        var rng = SplitMix64(seed: seed)
        var mismatches: [String] = []
        var errors = 0
        for iteration in 0..<6_000 {
            var (section, count) = randomSection(&rng)
            mutate(&section, &rng)
            if Int.random(in: 0..<5, using: &rng) == 0 { count += Int32.random(in: -1...1, using: &rng) }
            let baseOffset =
                Int.random(in: 0..<10, using: &rng) == 0
                ? Int64.max - Int64.random(in: 0...1_000, using: &rng) : Int64.random(in: 0...(1 << 50), using: &rng)
            let expected = ReferenceDecoder.decode(
                section, recordCount: count, baseOffset: baseOffset, baseTimestamp: -5)
            let got = iteratorDecode(section, recordCount: count, baseOffset: baseOffset, baseTimestamp: -5)
            if expected.error != nil { errors += 1 }
            if got.records != expected.records || got.error != expected.error {
                mismatches.append(
                    "iteration \(iteration): got \(String(describing: got.error)), "
                        + "want \(String(describing: expected.error)) after "
                        + "\(got.records.count)/\(expected.records.count)"
                )
            }
            let viewed = viewDecode(section, recordCount: count, baseOffset: baseOffset, baseTimestamp: -5)
            if viewed.records != expected.records || viewed.error != expected.error {
                mismatches.append(
                    "iteration \(iteration), forEachRecord: got \(String(describing: viewed.error)), "
                        + "want \(String(describing: expected.error))")
            }
        }
        #expect(mismatches.isEmpty, "seed \(seed): \(mismatches.prefix(3))")
        #expect(errors > 1_000, "seed \(seed): only \(errors) corruptions were errors")
    }

    /// Every one- and two-byte prefix of a record length, cut at every point: both decoders agree.
    @Test func everyShortLengthPrefixDecodesLikeTheReferenceDecoder() {
        let body = handMadeRecord(offsetDelta: 0, key: [1], value: [2, 3], headers: [("h", [4])]).dropFirst()
        var mismatches: [String] = []
        for first in 0...255 {
            for second in [0x00, 0x01, 0x0E, 0x7F, 0x80, 0xFF] {
                let section = [UInt8(first), UInt8(second)] + body
                for cut in [section.count, 1, 2, 3] {
                    let bytes = Array(section.prefix(cut))
                    let expected = ReferenceDecoder.decode(bytes, recordCount: 1, baseOffset: 0, baseTimestamp: 0)
                    let got = iteratorDecode(bytes, recordCount: 1, baseOffset: 0, baseTimestamp: 0)
                    if got.records != expected.records || got.error != expected.error {
                        mismatches.append("\(first) \(second) cut \(cut)")
                    }
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }
}

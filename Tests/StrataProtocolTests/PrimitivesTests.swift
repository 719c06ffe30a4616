import NIOCore
import StrataProtocol
import Testing

/// A struct exercising every primitive, so the coder can be tested without a real message.
private struct Everything: ProtocolValue {
    var int8: Int8 = 0
    var int16: Int16 = 0
    var int32: Int32 = 0
    var int64: Int64 = 0
    var flag = false
    var string = ""
    var nullableString: String?
    var bytes = ByteBuffer()
    var nullableBytes: ByteBuffer?
    var numbers: [Int32] = []
    var names: [String]?

    init() {}

    mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.int8(&int8, "int8")
        try coder.int16(&int16, "int16")
        try coder.int32(&int32, "int32")
        try coder.int64(&int64, "int64")
        try coder.bool(&flag, "flag")
        try coder.string(&string, "string")
        try coder.nullableString(&nullableString, "nullable_string")
        try coder.bytes(&bytes, "bytes")
        try coder.nullableBytes(&nullableBytes, "nullable_bytes")
        try coder.array(&numbers, "numbers")
        try coder.nullableArray(&names, "names")
    }
}

private func write<Value: ProtocolValue>(_ value: Value, flexible: Bool) -> ByteBuffer {
    var writer = ProtocolWriter(version: 0, isFlexible: flexible)
    var copy = value
    copy.code(&writer)
    return writer.buffer
}

private func read<Value: ProtocolValue>(
    _ type: Value.Type, from buffer: ByteBuffer, flexible: Bool
) throws(ProtocolError) -> Value {
    var reader = ProtocolReader(buffer: buffer, version: 0, isFlexible: flexible, subject: "Test")
    var value = Value()
    try value.code(&reader)
    return value
}

private func reader(_ buffer: ByteBuffer, flexible: Bool = false) -> ProtocolReader {
    ProtocolReader(buffer: buffer, version: 1, isFlexible: flexible, subject: "Test")
}

@Suite struct PrimitivesTests {
    private var sample: Everything {
        var value = Everything()
        value.int8 = -2
        value.int16 = 0x0102
        value.int32 = -1
        value.int64 = 0x0102_0304_0506_0708
        value.flag = true
        value.string = "ab"
        value.nullableString = nil
        value.bytes = bytes([0xcc])
        value.nullableBytes = nil
        value.numbers = [7]
        value.names = nil
        return value
    }

    @Test func classicEncodingUsesFixedWidthLengthsAndMinusOneForNull() throws {
        let buffer = write(sample, flexible: false)
        #expect(hexString(buffer) == "fe" + "0102" + "ffffffff" + "0102030405060708" + "01" + "00026162" + "ffff"
            + "00000001cc" + "ffffffff" + "0000000100000007" + "ffffffff")
        #expect(try read(Everything.self, from: buffer, flexible: false) == sample)
    }

    @Test func compactEncodingUsesVarintLengthPlusOneAndZeroForNull() throws {
        let buffer = write(sample, flexible: true)
        #expect(hexString(buffer) == "fe" + "0102" + "ffffffff" + "0102030405060708" + "01" + "036162" + "00"
            + "02cc" + "00" + "0200000007" + "00")
        #expect(try read(Everything.self, from: buffer, flexible: true) == sample)
    }

    @Test func compactLengthsOver127TakeTwoVarintBytes() throws {
        var value = Everything()
        value.string = String(repeating: "x", count: 200)
        let buffer = write(value, flexible: true)
        #expect(buffer.getBytes(at: 16, length: 2) == [0xc9, 0x01])
        #expect(try read(Everything.self, from: buffer, flexible: true) == value)
    }

    @Test(arguments: [
        (UInt32(0), "00"), (127, "7f"), (128, "8001"), (16_383, "ff7f"), (16_384, "808001"),
        (UInt32.max, "ffffffff0f"),
    ])
    func unsignedVarintsUseLittleEndianSevenBitGroups(value: UInt32, expected: String) throws {
        var writer = ProtocolWriter(version: 0, isFlexible: true)
        writer.writeUnsignedVarint(value)
        #expect(hexString(writer.buffer) == expected)
        var input = reader(writer.buffer)
        #expect(try input.unsignedVarint("v") == value)
    }

    @Test(arguments: ["ffffffffff01", "ffffffff1f", "8080"])
    func overlongOrTruncatedVarintsAreRejected(_ input: String) {
        var decoder = reader(hex(input))
        #expect(throws: ProtocolError.self) { try decoder.unsignedVarint("v") }
    }

    @Test func taggedFieldsSkipUnknownTags() throws {
        // Two tags (0: two bytes, 5: one byte), then an int8 that must still be readable.
        var decoder = reader(hex("02 00 02 aabb 05 01 cc 2a"), flexible: true)
        try decoder.taggedFields()
        var next: Int8 = 0
        try decoder.int8(&next, "next")
        #expect(next == 42)
    }

    @Test func taggedFieldsOutOfOrderAreRejected() {
        var decoder = reader(hex("02 05 00 01 00"), flexible: true)
        #expect(throws: ProtocolError.self) { try decoder.taggedFields() }
    }

    @Test func taggedFieldLongerThanTheBufferIsRejected() {
        var decoder = reader(hex("01 00 7f aabb"), flexible: true)
        #expect(throws: ProtocolError.self) { try decoder.taggedFields() }
    }

    @Test func taggedFieldsAreNothingInClassicVersions() throws {
        var decoder = reader(hex("2a"))
        try decoder.taggedFields()
        #expect(decoder.buffer.readableBytes == 1)
    }

    @Test func hostileArrayCountThrowsBeforeAllocating() {
        var values: [Int64] = []
        var decoder = reader(hex("7fffffff 000000"))
        #expect(throws: ProtocolError(.lengthOverLimit(length: Int(Int32.max), limit: ProtocolReader.arrayCountMax),
                                      context: "Test v1", field: "values", position: 0)) {
            try decoder.array(&values, "values")
        }
        var belowLimit = reader(hex("000f4240 000000"))
        #expect(throws: ProtocolError(.truncated(needed: 1_000_000, available: 3), context: "Test v1",
                                      field: "values", position: 0)) {
            try belowLimit.array(&values, "values")
        }
        var compact = reader(hex("ffffffff0f 00"), flexible: true)
        #expect(throws: ProtocolError.self) { try compact.array(&values, "values") }
    }

    @Test func arrayCountOverTheLimitIsRejectedEvenWithEnoughBytes() {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int32(ProtocolReader.arrayCountMax + 1))
        buffer.writeRepeatingByte(0, count: (ProtocolReader.arrayCountMax + 1) * 4)
        var decoder = reader(buffer)
        var values: [Int32] = []
        #expect(throws: ProtocolError(.lengthOverLimit(length: ProtocolReader.arrayCountMax + 1,
                                                       limit: ProtocolReader.arrayCountMax),
                                      context: "Test v1", field: "values", position: 0)) {
            try decoder.array(&values, "values")
        }
    }

    @Test func hostileStringAndBytesLengthsThrow() {
        var string = ""
        var shortString = reader(hex("7fff 6162"))
        #expect(throws: ProtocolError.self) { try shortString.string(&string, "s") }
        var longCompact = reader(hex("ffff03 61"), flexible: true)
        #expect(throws: ProtocolError(.lengthOverLimit(length: 65_534, limit: ProtocolReader.stringBytesMax),
                                      context: "Test v1", field: "s", position: 0)) {
            try longCompact.string(&string, "s")
        }
        var blob: ByteBuffer?
        var hugeBytes = reader(hex("7fffffff 00"))
        #expect(throws: ProtocolError.self) { try hugeBytes.nullableBytes(&blob, "b") }
    }

    @Test func negativeLengthsOtherThanNullAreInvalid() {
        var string: String?
        var decoder = reader(hex("fffe"))
        #expect(throws: ProtocolError(.invalidLength(-2), context: "Test v1", field: "s", position: 0)) {
            try decoder.nullableString(&string, "s")
        }
        var values: [Int32]?
        var array = reader(hex("fffffffb"))
        #expect(throws: ProtocolError(.invalidLength(-5), context: "Test v1", field: "a", position: 0)) {
            try array.nullableArray(&values, "a")
        }
    }

    @Test func nullWhereNotNullableIsInvalid() {
        var string = ""
        var decoder = reader(hex("ffff"))
        #expect(throws: ProtocolError(.invalidLength(-1), context: "Test v1", field: "s", position: 0)) {
            try decoder.string(&string, "s")
        }
        var values: [Int32] = []
        var array = reader(hex("00"), flexible: true)
        #expect(throws: ProtocolError.self) { try array.array(&values, "a") }
    }

    @Test func errorsNameTheMessageFieldPathAndPosition() throws {
        let request = ProduceRequest(acks: 1, timeoutMs: 100, topics: [
            TopicPartitions(name: "t", partitions: [.init(index: 0, records: bytes([1, 2, 3, 4]))]),
        ])
        let whole = encoded(request, version: 8)
        var truncated = whole.getSlice(at: 0, length: whole.readableBytes - 2)!
        do {
            _ = try ProduceRequest(from: &truncated, version: 8)
            Issue.record("decoding a truncated request succeeded")
        } catch {
            #expect(error.description
                == "Produce v8 request: truncated field topic_data[0].partitions[0].records at byte 23 "
                + "(need 4 bytes, 2 available)")
        }
    }
}

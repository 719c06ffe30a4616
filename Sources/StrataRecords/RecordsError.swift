/// Every way RecordBatch bytes can be wrong, with the field and byte position that were wrong.
///
/// Positions are byte offsets from the start of the batch (or, for records inside a compressed
/// batch, from the start of the decompressed records section, as `recordsPosition`). Storage and
/// protocol layers wrap these with the file, partition or request they came from.
public enum RecordsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer bytes than a field or the declared length needs.
    case truncated(field: String, position: Int, needed: Int, available: Int)
    /// `batchLength` outside `[49, limit]`.
    case invalidBatchLength(length: Int64, limit: Int)
    /// `magic` is not 2 (v0/v1 message sets are not supported).
    case unsupportedMagic(Int8)
    /// CRC-32C over bytes 21..<end does not match the stored value.
    case crcMismatch(stored: UInt32, computed: UInt32, baseOffset: Int64)
    /// `recordCount` ≤ 0, or `lastOffsetDelta + 1 != recordCount` where that is required.
    case invalidRecordCount(recordCount: Int32, lastOffsetDelta: Int32)
    /// `baseOffset` negative or so large that the batch's offsets would overflow (corrupt header).
    case invalidBaseOffset(Int64)
    /// A compression codec this build does not decode (gzip, snappy, zstd) or an undefined one.
    case unsupportedCompression(codec: Int)
    /// A record inside the batch is malformed.
    case malformedRecord(index: Int, field: String, recordsPosition: Int, reason: String)
    /// The LZ4 frame is corrupt or decompresses past the allowed size.
    case lz4(reason: String)

    public var description: String {
        switch self {
        case .truncated(let field, let position, let needed, let available):
            return "truncated \(field) at byte \(position): need \(needed) bytes, \(available) available"
        case .invalidBatchLength(let length, let limit):
            return "invalid batchLength \(length) (allowed 49...\(limit))"
        case .unsupportedMagic(let magic):
            return "unsupported magic \(magic) (only RecordBatch v2 is stored)"
        case .crcMismatch(let stored, let computed, let baseOffset):
            return "CRC-32C mismatch in batch at baseOffset \(baseOffset): stored 0x\(String(stored, radix: 16)), "
                + "computed 0x\(String(computed, radix: 16))"
        case .invalidRecordCount(let count, let delta):
            return "invalid recordCount \(count) with lastOffsetDelta \(delta)"
        case .invalidBaseOffset(let offset):
            return "invalid baseOffset \(offset)"
        case .unsupportedCompression(let codec):
            return "unsupported compression codec \(codec) (\(CompressionCodec(rawValue: codec)?.name ?? "undefined"))"
        case .malformedRecord(let index, let field, let position, let reason):
            return "malformed record #\(index): \(field) at records byte \(position): \(reason)"
        case .lz4(let reason):
            return "LZ4 frame error: \(reason)"
        }
    }
}

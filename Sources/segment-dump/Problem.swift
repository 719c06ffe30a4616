#if canImport(Glibc)
import Glibc
#endif

/// Something wrong found in a segment file, located by file, byte position and (when known) offset.
///
/// `kind` is a stable machine-readable name (documented in the README and used by `--json`);
/// `message` says in words what is wrong. Value type, built by the checkers and handed to the sink.
struct Problem: Sendable, Equatable {
    /// Stable names of every problem the checkers report.
    enum Kind: String, Sendable {
        // .log framing: reading the file stops here.
        case truncatedBatch
        case invalidBatchLength
        // .log content: the framing looked sane, so reading continues with the next batch.
        case unsupportedMagic
        case crcMismatch
        case invalidRecordCount
        case offsetBelowSegmentBase
        case nonMonotonicOffsets
        case offsetOverflow
        case malformedRecords
        case segmentOverlap
        // .index
        case truncatedIndex
        case nonMonotonicIndex
        case indexEntryPastLog
        case indexEntryInDamagedLog
        case indexEntryNotBatchBoundary
        case indexOffsetMismatch
        // .timeindex
        case truncatedTimeIndex
        case nonMonotonicTimeIndex
        case timeIndexOffsetOutOfRange
        case timeIndexTimestampMismatch
    }

    /// The file as the user named it (relative paths stay relative).
    var file: String
    /// Byte position in `file`: the start of the batch or index entry that is wrong.
    var position: Int
    /// The offset involved (a batch's base offset, an index entry's offset), when known.
    var offset: Int64?
    var kind: Kind
    var message: String
    /// When reading `file` stopped here: the bytes left unread.
    var unreadBytes: Int?
}

/// A failure that prevents dumping at all (exit status 2): a missing or unreadable file, an
/// argument that is not a segment file or directory.
struct DumpError: Error, Sendable, CustomStringConvertible {
    var description: String

    init(_ description: String) { self.description = description }

    /// A failed system call on `path`, with the errno text.
    static func io(_ operation: String, _ path: String, errno code: Int32) -> DumpError {
        DumpError("cannot \(operation) \(path): \(String(cString: strerror(code))) (errno \(code))")
    }
}

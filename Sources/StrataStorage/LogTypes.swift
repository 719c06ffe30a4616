import NIOCore

/// A topic name and partition number; its directory is `<topic>-<partition>`.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var topic: String
    public var partition: Int32

    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)-\(partition)" }
    public var directoryName: String { description }

    /// Parses a partition directory name (`<topic>-<n>`).
    public init?(directoryName: String) {
        guard let dash = directoryName.lastIndex(of: "-") else { return nil }
        let topic = String(directoryName[..<dash])
        guard let partition = Int32(directoryName[directoryName.index(after: dash)...]), partition >= 0,
            Topic.validationError(topic) == nil
        else { return nil }
        self.init(topic, partition)
    }

    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }
}

/// Topic-name rules (Kafka's): `[A-Za-z0-9._-]`, 1…249 characters, not `.` or `..`.
public enum Topic {
    public static let nameLengthMax = 249

    /// Why `name` is not a legal topic name, or nil.
    public static func validationError(_ name: String) -> String? {
        if name.isEmpty { return "empty" }
        if name == "." || name == ".." { return "'.' and '..' are reserved" }
        if name.utf8.count > nameLengthMax { return "longer than \(nameLengthMax) characters" }
        for byte in name.utf8 {
            let ok =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == 0x2e || byte == 0x5f || byte == 0x2d
            if !ok { return "contains a character outside [A-Za-z0-9._-]" }
        }
        return nil
    }
}

/// Result of appending one batch.
public struct AppendInfo: Sendable, Equatable {
    /// Offset assigned to the first record.
    public var firstOffset: Int64
    public var lastOffset: Int64
    public var maxTimestamp: Int64
    /// Broker time stamped for LogAppendTime topics, else -1.
    public var logAppendTime: Int64
    public var sizeInBytes: Int
    public var logStartOffset: Int64

    public init(
        firstOffset: Int64, lastOffset: Int64, maxTimestamp: Int64, logAppendTime: Int64, sizeInBytes: Int,
        logStartOffset: Int64
    ) {
        self.firstOffset = firstOffset
        self.lastOffset = lastOffset
        self.maxTimestamp = maxTimestamp
        self.logAppendTime = logAppendTime
        self.sizeInBytes = sizeInBytes
        self.logStartOffset = logStartOffset
    }
}

/// A run of whole batches in one segment, read without copying: a view of the segment's memory
/// map plus the file region (descriptor, position, length) for `sendfile`. Holding a slice keeps
/// the segment's map and descriptor alive even if the segment is deleted meanwhile.
public struct LogSlice: Sendable {
    let map: MappedFile
    let segment: LogSegment
    /// Byte position of the first batch in the `.log` file.
    public let filePosition: Int
    /// Length in bytes (whole batches only).
    public let length: Int
    /// Base offset of the first batch (may be below the requested offset).
    public let firstOffset: Int64
    /// Last offset of the last batch.
    public let lastOffset: Int64

    /// Descriptor of the `.log` file, valid while this slice (or a copy) is alive.
    public var fileDescriptor: Int32 { segment.fd }
    /// Path of the `.log` file.
    public var filePath: String { segment.logPath }

    /// The bytes, in place in the memory map.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(map.bytes(filePosition..<filePosition + length))
    }

    /// Appends the bytes to `buffer` (one memcpy). A page that cannot be read (the file shrank, or
    /// the disk failed: SIGBUS on a map) throws `StorageError.io` naming the file and position and
    /// leaves `buffer` as it was.
    public func copyBytes(into buffer: inout ByteBuffer) throws(StorageError) {
        guard length > 0 else { return }
        let map = self.map
        let range = filePosition..<filePosition + length
        var failure: StorageError?
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { (destination) -> Int in
            do throws(StorageError) {
                try map.copy(range, to: destination.baseAddress!)
                return range.count
            } catch {
                failure = error
                return 0
            }
        }
        if let failure { throw failure }
    }

    /// Reads the slice's last byte through the guarded copy: a file that shrank below the slice (or a
    /// last page the disk cannot read) is a `StorageError.io` now, before the region goes to
    /// `sendfile`, which would otherwise stop short and leave the answer unfinished.
    public func checkLastPageReadable() throws(StorageError) {
        guard length > 0 else { return }
        var byte: UInt8 = 0
        let end = filePosition + length
        try withUnsafeMutableBytes(of: &byte) { (scratch) throws(StorageError) in
            try map.copy(end - 1..<end, to: scratch.baseAddress!)
        }
    }

    /// The bytes copied into a new buffer (see ``copyBytes(into:)``).
    public func makeByteBuffer(
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) throws(StorageError) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: length)
        try copyBytes(into: &buffer)
        return buffer
    }
}

/// What a read returns: the slice (nil at the log end) and the partition's offsets at read time.
public struct LogReadInfo: Sendable {
    public var slice: LogSlice?
    public var highWatermark: Int64
    public var logStartOffset: Int64
    public var logEndOffset: Int64
}

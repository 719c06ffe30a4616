import NIOCore
import StrataStorage

/// A response ready to send: an encoded frame, and ranges of segment files that belong between its
/// bytes (zero-copy fetch: the connection sends them with `sendfile`, never through user space).
///
/// A value; each file part holds its `LogSlice`, which keeps the segment's descriptor valid until
/// the part is sent even if retention or compaction deletes the segment meanwhile.
public struct ResponseFrame: Sendable {
    /// Bytes of a segment file that go after `position` (a writer index of `buffer`).
    public struct FilePart: Sendable {
        public let position: Int
        public let slice: LogSlice
    }

    /// The frame without the file parts; its size prefix counts them.
    public var buffer: ByteBuffer
    /// In position order.
    public var files: [FilePart]

    public init(buffer: ByteBuffer, files: [FilePart] = []) {
        self.buffer = buffer
        self.files = files
    }

    /// Bytes on the wire.
    public var byteCount: Int { buffer.readableBytes + files.reduce(0) { $0 + $1.slice.length } }

    /// The whole frame in one buffer, file parts copied from their memory maps (tests, and hosts that
    /// cannot send files).
    public func flattened() throws(StorageError) -> ByteBuffer {
        guard !files.isEmpty else { return buffer }
        var out = ByteBufferAllocator().buffer(capacity: byteCount)
        var cursor = buffer.readerIndex
        for part in files {
            out.writeImmutableBuffer(buffer.getSlice(at: cursor, length: part.position - cursor)!)
            try part.slice.copyBytes(into: &out)
            cursor = part.position
        }
        out.writeImmutableBuffer(buffer.getSlice(at: cursor, length: buffer.writerIndex - cursor)!)
        return out
    }
}

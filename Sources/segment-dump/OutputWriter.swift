#if canImport(Glibc)
import Glibc
#endif

/// Buffered writes of whole lines to a file descriptor (stdout), flushed every `bufferBytes` and at
/// the end. Single owner. A failed write (closed pipe, full disk) ends the process with status 2.
struct OutputWriter {
    static let bufferBytes = 64 << 10

    private let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(Self.bufferBytes)
    }

    mutating func line(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        buffer.append(0x0a)
        if buffer.count >= Self.bufferBytes { flush() }
    }

    mutating func flush() {
        var start = 0
        while start < buffer.count {
            let written = buffer[start...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                exit(2)
            }
            start += written
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Unbuffered messages on stderr (progress, the one-line error of exit status 2).
enum StandardError {
    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            let written = bytes[start...].withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
            if written <= 0 { return }
            start += written
        }
        bytes.removeAll()
    }
}

import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A whole file mapped read-only, so a 1 GiB segment streams through the page cache in constant
/// memory: the reader asks for ranges as it goes and calls `release(below:)` to drop pages it has
/// finished with. Owns the descriptor and the mapping (both released in `deinit`). A file that
/// another process truncates while it is mapped can still fault (SIGBUS): dump files that are not
/// being written, or copies.
///
/// Threads: one reader thread calls every method; a populate thread (for files of at least
/// `backgroundPopulateBytesMin`) fills page-table entries ahead of it, so the page-mapping work runs
/// on the other core while the reader checks CRCs. They share only `readerPosition` and `stopping`
/// (atomics); `deinit` stops and joins the populate thread before unmapping.
final class MappedInput: @unchecked Sendable {
    let path: String
    let size: Int
    private let fd: Int32
    private let base: UnsafeRawPointer?
    private var released = 0
    private var populated = 0
    private let readerPosition = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var populateThread: Thread?
    private let populateDone = DispatchSemaphore(value: 0)

    /// Files from this size up are populated by a background thread.
    static let backgroundPopulateBytesMin = 128 << 20
    /// How far ahead of the reader the background thread may populate (bounds resident memory).
    static let backgroundPopulateAheadBytes = 256 << 20

    /// Bytes dropped from the mapping at a time as reading moves on.
    static let releaseStepBytes = 64 << 20
    /// Bytes whose page-table entries are filled in one call ahead of the reader: one
    /// `MADV_POPULATE_READ` per window instead of a page fault per few pages. Resident memory stays
    /// bounded by this plus `releaseStepBytes`.
    static let populateStepBytes = 64 << 20
    /// `MADV_POPULATE_READ` (Linux 5.14+); older kernels answer EINVAL and reading just faults.
    static let madvisePopulateRead: Int32 = 22

    /// Opens and maps `path`. Throws `DumpError` (exit status 2) when it cannot be opened or mapped.
    init(path: String) throws(DumpError) {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw .io("open", path, errno: errno) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let code = errno
            close(descriptor)
            throw .io("stat", path, errno: code)
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw DumpError("\(path) is not a regular file")
        }
        fd = descriptor
        size = Int(status.st_size)
        guard size > 0 else {
            base = nil
            return
        }
        guard let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), pointer != MAP_FAILED else {
            let code = errno
            close(descriptor)
            throw .io("mmap", path, errno: code)
        }
        _ = madvise(pointer, size, MADV_SEQUENTIAL)
        base = UnsafeRawPointer(pointer)
        if size >= Self.backgroundPopulateBytesMin {
            populated = size  // the reader leaves populating to the thread
            let thread = Thread { [self] in self.populateInBackground() }
            thread.name = "segment-dump-populate"
            populateThread = thread
            thread.start()
        } else {
            populate(ahead: 0)
        }
    }

    /// The populate thread: windows of `populateStepBytes`, at most `backgroundPopulateAheadBytes`
    /// ahead of the reader, never behind it.
    private func populateInBackground() {
        defer { populateDone.signal() }
        guard let base else { return }
        var next = 0
        while next < size && !stopping.load(ordering: .relaxed) {
            let reader = readerPosition.load(ordering: .relaxed)
            next = max(next, reader / 4096 * 4096)
            if next - reader >= Self.backgroundPopulateAheadBytes {
                usleep(200)
                continue
            }
            let length = min(Self.populateStepBytes, size - next)
            _ = madvise(UnsafeMutableRawPointer(mutating: base + next), length, Self.madvisePopulateRead)
            next += length
        }
    }

    /// Keeps the window after `position` populated.
    private func populate(ahead position: Int) {
        guard let base, populated < size, position + Self.populateStepBytes / 2 >= populated else { return }
        let length = min(Self.populateStepBytes, size - populated)
        _ = madvise(UnsafeMutableRawPointer(mutating: base + populated), length, Self.madvisePopulateRead)
        populated += length
    }

    deinit {
        if populateThread != nil {
            stopping.store(true, ordering: .relaxed)
            populateDone.wait()
        }
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
        close(fd)
    }

    /// The bytes in `range`, clamped to the file (an empty buffer when nothing is left).
    func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        let lower = max(0, min(range.lowerBound, size))
        let upper = max(lower, min(range.upperBound, size))
        guard let base, upper > lower else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + lower, count: upper - lower)
    }

    /// The bytes from `position` to the end of the file.
    func bytes(from position: Int) -> UnsafeRawBufferPointer { bytes(position..<size) }

    /// Tells the kernel the pages below `position` are no longer needed by this reader, in steps of
    /// `releaseStepBytes`, so resident memory stays bounded however large the file.
    func release(below position: Int) {
        readerPosition.store(position, ordering: .relaxed)
        populate(ahead: position)
        guard let base, position - released >= Self.releaseStepBytes else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let end = position / page * page
        guard end > released else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + released), end - released, MADV_DONTNEED)
        released = end
    }
}

/// A progress line on stderr (`segment-dump: FILE 37% (384/1024 MiB)`), only when stdout is a
/// terminal and the file is at least `thresholdBytes`: redirected output and small files stay quiet.
struct Progress {
    static let thresholdBytes = 256 << 20
    static let stepBytes = 64 << 20

    private let file: String
    private let total: Int
    private let enabled: Bool
    private var nextReport: Int

    init(file: String, total: Int, stdoutIsTerminal: Bool) {
        self.file = file
        self.total = total
        enabled = stdoutIsTerminal && total >= Self.thresholdBytes
        nextReport = Self.stepBytes
    }

    mutating func update(_ position: Int) {
        guard enabled, position >= nextReport else { return }
        nextReport = position + Self.stepBytes
        let percent = Int(Double(position) / Double(max(total, 1)) * 100)
        StandardError.write("\rsegment-dump: \(file) \(percent)% (\(position >> 20)/\(total >> 20) MiB)")
    }

    func finish() {
        if enabled { StandardError.write("\rsegment-dump: \(file) 100% (\(total >> 20)/\(total >> 20) MiB)\n") }
    }
}

import StrataStorage

#if canImport(Glibc)
import Glibc
#endif

/// One segment (base offset) to dump: which of its files to show, where they are, how to name them.
struct SegmentJob: Sendable {
    /// Path of the segment's files without the suffix (`dir/00000000000000000000`).
    var stem: String
    /// The same as shown to the user (relative to the argument given).
    var displayStem: String
    var baseOffset: Int64
    /// The files to dump, in order (a directory dumps all three that exist).
    var kinds: [FileKind]

    func path(_ kind: FileKind) -> String { stem + kind.suffix }
    func display(_ kind: FileKind) -> String { displayStem + kind.suffix }
}

/// The segments one command-line argument stands for: a single file, or every segment of a
/// partition directory in offset order (then consecutive segments must not overlap).
struct DumpTarget: Sendable {
    var jobs: [SegmentJob]
    var isDirectory: Bool

    /// Resolves an argument, or explains in one line why it cannot be dumped (exit status 2).
    static func resolve(_ argument: String) throws(DumpError) -> DumpTarget {
        var status = stat()
        guard stat(argument, &status) == 0 else { throw .io("open", argument, errno: errno) }
        if status.st_mode & S_IFMT == S_IFDIR { return try directory(argument) }
        let slash = argument.lastIndex(of: "/")
        let name = slash.map { String(argument[argument.index(after: $0)...]) } ?? argument
        for kind in [FileKind.log, .index, .timeindex] {
            if let base = SegmentFileName.baseOffset(of: name, suffix: kind.suffix) {
                let stem = String(argument.dropLast(kind.suffix.count))
                return DumpTarget(
                    jobs: [SegmentJob(stem: stem, displayStem: stem, baseOffset: base, kinds: [kind])],
                    isDirectory: false)
            }
        }
        throw DumpError("\(argument): not a segment file (expected <20-digit base offset>.log, .index or .timeindex)")
    }

    private static func directory(_ argument: String) throws(DumpError) -> DumpTarget {
        guard let handle = opendir(argument) else { throw .io("list", argument, errno: errno) }
        defer { closedir(handle) }
        var kindsByBase: [Int64: Set<FileKind>] = [:]
        while let entry = readdir(handle) {
            let name = directoryEntryName(entry)
            for kind in [FileKind.log, .index, .timeindex] {
                if let base = SegmentFileName.baseOffset(of: name, suffix: kind.suffix) {
                    kindsByBase[base, default: []].insert(kind)
                }
            }
        }
        guard !kindsByBase.isEmpty else {
            throw DumpError("\(argument): no segment files (<20-digit base offset>.log, .index, .timeindex) here")
        }
        let prefix = argument.hasSuffix("/") ? argument : argument + "/"
        let jobs = kindsByBase.keys.sorted().map { base in
            let stem = prefix + SegmentFileName.stem(base)
            let kinds = [FileKind.log, .index, .timeindex].filter { kindsByBase[base]!.contains($0) }
            return SegmentJob(stem: stem, displayStem: stem, baseOffset: base, kinds: kinds)
        }
        return DumpTarget(jobs: jobs, isDirectory: true)
    }
}

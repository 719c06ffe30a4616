import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A directory made with `mkdtemp` under `parent` for one benchmark's data files, removed with
/// everything in it by `remove()`. Owned by the benchmark that made it; not thread-safe.
public final class ScratchDirectory {
    public let path: String
    private var removed = false

    /// Makes `<parent>/strata-bench-XXXXXX` (parent defaults to `$TMPDIR` or `/tmp`).
    public init(parent: String? = nil, prefix: String = "strata-bench") throws {
        path = try Self.make(parent: parent, prefix: prefix)
    }

    /// Makes `<parent>/<prefix>-XXXXXX` and returns its path; the caller removes it.
    public static func make(parent: String? = nil, prefix: String = "strata-bench") throws -> String {
        let base = parent ?? ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array((base + "/" + prefix + "-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let made else { throw BenchError.system(operation: "mkdtemp", path: base, errno: errno) }
        return String(cString: made)
    }

    deinit { remove() }

    /// `path/name`.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Removes the directory tree (idempotent).
    public func remove() {
        guard !removed else { return }
        removed = true
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Failures of the benchmark harness itself (not of the code measured).
public enum BenchError: Error, CustomStringConvertible {
    case system(operation: String, path: String, errno: Int32)
    case unexpected(String)

    public var description: String {
        switch self {
        case let .system(operation, path, code):
            return "\(operation) \(path): \(String(cString: strerror(code))) (errno \(code))"
        case let .unexpected(message):
            return message
        }
    }
}

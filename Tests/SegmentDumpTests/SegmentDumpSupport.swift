import Foundation
import Testing

/// Runs the built `segment-dump` binary as a subprocess, the way users run it.
enum SegmentDumpTool {
    /// The repository root, found from this file's path.
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `data-fixtures/segments`: the working directory of fixture runs, so arguments stay relative.
    static let fixturesRoot = repositoryRoot.appendingPathComponent("data-fixtures/segments")
    /// `data-fixtures/segment-dump`: the committed expected outputs.
    static let goldenRoot = repositoryRoot.appendingPathComponent("data-fixtures/segment-dump")

    /// The binary beside the test bundle (on Linux `Bundle.main.bundleURL` is the products directory;
    /// on macOS the bundle sits inside it), or `STRATA_SEGMENT_DUMP` when set.
    static func binary(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        if let override = ProcessInfo.processInfo.environment["STRATA_SEGMENT_DUMP"] { return override }
        let bundle = Bundle.main.bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent(),
                          bundle.deletingLastPathComponent().deletingLastPathComponent()]
            .map { $0.appendingPathComponent("segment-dump").path }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            Issue.record("""
                segment-dump binary not found (looked at \(candidates.joined(separator: ", "))). Build it first: \
                swift build --product segment-dump (swift test builds it too), or set STRATA_SEGMENT_DUMP.
                """, sourceLocation: sourceLocation)
            throw SkipRun()
        }
        return found
    }

    struct SkipRun: Error {}

    /// What one run produced.
    struct Result {
        var status: Int32
        /// False when the process died of a signal (a crash or a trap).
        var exitedNormally: Bool
        var stdout: String
        var stderr: String

        /// stdout lines, each parsed as a JSON object (nil where a line is not one).
        var jsonLines: [[String: Any]?] {
            stdout.split(separator: "\n").map { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            }
        }

        /// The `problem` objects of a `--json` run.
        var problems: [[String: Any]] {
            jsonLines.compactMap { $0 }.filter { $0["type"] as? String == "problem" }
        }
    }

    /// Runs `segment-dump arguments…` in `directory`; stdout and stderr go through files, so output
    /// of any size cannot block the child.
    static func run(_ arguments: [String], in directory: URL = fixturesRoot) throws -> Result {
        let scratch = FileManager.default.temporaryDirectory
            .appendingPathComponent("segment-dump-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let outPath = scratch.appendingPathComponent("stdout")
        let errPath = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outPath.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath.path, contents: nil)
        let out = try FileHandle(forWritingTo: outPath)
        let err = try FileHandle(forWritingTo: errPath)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binary())
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return Result(status: process.terminationStatus, exitedNormally: process.terminationReason == .exit,
                      stdout: String(decoding: try Data(contentsOf: outPath), as: UTF8.self),
                      stderr: String(decoding: try Data(contentsOf: errPath), as: UTF8.self))
    }
}

/// A fresh temporary directory, removed by `cleanup()`.
struct ScratchDirectory {
    let url: URL
    var path: String { url.path }

    init(_ name: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

/// A deterministic PRNG (SplitMix64) so randomized tests can print and replay their seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Seed from STRATA_TEST_SEED or the clock; printed so a failure can be replayed.
func testSeed(_ test: String) -> UInt64 {
    let seed = ProcessInfo.processInfo.environment["STRATA_TEST_SEED"].flatMap(UInt64.init)
        ?? UInt64(Date().timeIntervalSince1970 * 1000)
    print("\(test): seed \(seed) (replay with STRATA_TEST_SEED=\(seed))")
    return seed
}

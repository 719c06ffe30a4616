import Foundation
import Testing

/// The committed segment fixtures (`data-fixtures/segments/`) are exactly what `FixtureGenerator`
/// produces today, byte for byte.
///
/// `STRATA_REGENERATE_FIXTURES=1` (see `tools/gen-fixtures`) rewrites them and then fails on purpose,
/// so every regeneration is looked at before it is committed.
@Suite struct FixtureGoldenTests {
    static let regenerateVariable = "STRATA_REGENERATE_FIXTURES"

    /// `<repo>/data-fixtures/segments`, found from this file's path.
    static var committedRoot: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("data-fixtures/segments")
    }

    @Test func committedFixturesMatchTheGenerator() throws {
        let scratch = TemporaryDirectory("strata-fixtures")
        defer { scratch.cleanup() }
        try FixtureGenerator.generateAll(into: scratch.path)
        let generated = try Self.files(under: URL(fileURLWithPath: scratch.path))

        if ProcessInfo.processInfo.environment[Self.regenerateVariable] == "1" {
            let root = Self.committedRoot
            try? FileManager.default.removeItem(at: root)
            for (path, data) in generated {
                let target = root.appendingPathComponent(path)
                try FileManager.default.createDirectory(at: target.deletingLastPathComponent(),
                                                        withIntermediateDirectories: true)
                try data.write(to: target)
            }
            Issue.record("""
                \(Self.regenerateVariable)=1: rewrote \(generated.count) files under \(root.path). \
                This failure is deliberate: review the diff (git status data-fixtures), commit it, \
                then run the tests without the variable.
                """)
            return
        }

        let committed = try Self.files(under: Self.committedRoot)
        #expect(!committed.isEmpty, "no committed fixtures under \(Self.committedRoot.path); run tools/gen-fixtures")
        for (path, data) in generated.sorted(by: { $0.key < $1.key }) {
            guard let expected = committed[path] else {
                Issue.record("data-fixtures/segments/\(path) is missing; run tools/gen-fixtures")
                continue
            }
            if expected != data {
                let at = zip(expected, data).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                    ?? min(expected.count, data.count)
                Issue.record("""
                    data-fixtures/segments/\(path) differs from the generator's output: first difference at byte \
                    \(at) (committed \(expected.count) bytes, generated \(data.count) bytes)
                    """)
            }
        }
        for path in committed.keys.sorted() where generated[path] == nil {
            Issue.record("data-fixtures/segments/\(path) is not produced by the generator any more")
        }
    }

    /// Every regular file under `root`, keyed by its path relative to `root`.
    static func files(under root: URL) throws -> [String: Data] {
        var result: [String: Data] = [:]
        let base = root.standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(atPath: base) else { return result }
        while let relative = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let full = base + "/" + relative
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue
            else { continue }
            result[relative] = try Data(contentsOf: URL(fileURLWithPath: full))
        }
        return result
    }
}

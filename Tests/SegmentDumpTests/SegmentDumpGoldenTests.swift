import Foundation
import Testing

/// The text and `--json` output of `segment-dump` on every fixture is exactly the committed
/// `data-fixtures/segment-dump/<case>.txt` / `.jsonl`.
///
/// `STRATA_REGENERATE_GOLDEN=1` (see `tools/gen-fixtures --golden`) rewrites them and then fails on
/// purpose, so every regeneration is looked at before it is committed. Runs happen in
/// `data-fixtures/segments` with relative arguments, so no output depends on the machine.
@Suite struct SegmentDumpGoldenTests {
    static let regenerateVariable = "STRATA_REGENERATE_GOLDEN"

    /// One golden case: a name, the arguments (before `--json`), and the exit status expected.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var arguments: [String]
        var status: Int32
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "uncompressed", arguments: ["--print-data", "uncompressed/t-0"], status: 0),
        Case(name: "lz4", arguments: ["--records", "lz4/t-0"], status: 0),
        Case(name: "multi-segment", arguments: ["multi-segment/t-0"], status: 0),
        Case(name: "multi-segment-verify", arguments: ["--verify", "--records", "multi-segment/t-0"], status: 0),
        Case(name: "headers-nulls-tombstones", arguments: ["--print-data", "headers-nulls-tombstones/t-0"],
             status: 0),
        Case(name: "consumer-offsets", arguments: ["--offsets-decoder", "consumer-offsets/__consumer_offsets-0"],
             status: 0),
        Case(name: "torn-tail", arguments: ["--records", "torn-tail/t-0"], status: 1),
        Case(name: "corrupt-crc", arguments: ["--records", "corrupt-crc/t-0"], status: 1),
        Case(name: "bad-index", arguments: ["bad-index/t-0"], status: 1),
        Case(name: "single-files", arguments: ["lz4/t-0/00000000000000000000.index",
                                               "multi-segment/t-0/00000000000000000009.timeindex",
                                               "--max-bytes", "500", "uncompressed/t-0/00000000000000000000.log"],
             status: 0),
    ]

    @Test(arguments: cases)
    func textOutputMatchesGolden(_ golden: Case) throws {
        try check(golden, json: false)
    }

    @Test(arguments: cases)
    func jsonOutputMatchesGolden(_ golden: Case) throws {
        try check(golden, json: true)
    }

    private func check(_ golden: Case, json: Bool) throws {
        let result = try SegmentDumpTool.run(json ? ["--json"] + golden.arguments : golden.arguments)
        let command = "segment-dump " + (json ? ["--json"] + golden.arguments : golden.arguments).joined(separator: " ")
        #expect(result.exitedNormally, "\(command) crashed")
        #expect(result.status == golden.status, "\(command) exited \(result.status)")
        #expect(result.stderr.isEmpty, "\(command) wrote to stderr: \(result.stderr)")
        #expect(!result.stdout.contains(SegmentDumpTool.repositoryRoot.path), "output holds an absolute path")
        if json {
            for (number, line) in result.jsonLines.enumerated() where line?["type"] == nil {
                Issue.record("\(command): stdout line \(number + 1) is not a JSON object with a type")
            }
        }
        let file = SegmentDumpTool.goldenRoot.appendingPathComponent(golden.name + (json ? ".jsonl" : ".txt"))
        if ProcessInfo.processInfo.environment[Self.regenerateVariable] == "1" {
            try FileManager.default.createDirectory(at: SegmentDumpTool.goldenRoot, withIntermediateDirectories: true)
            try Data(result.stdout.utf8).write(to: file)
            Issue.record("""
                \(Self.regenerateVariable)=1: rewrote data-fixtures/segment-dump/\(file.lastPathComponent). \
                This failure is deliberate: review the diff (git diff data-fixtures), commit it, then run the \
                tests without the variable.
                """)
            return
        }
        guard let expected = try? String(contentsOf: file, encoding: .utf8) else {
            Issue.record("""
                data-fixtures/segment-dump/\(file.lastPathComponent) is missing; run tools/gen-fixtures --golden
                """)
            return
        }
        if expected != result.stdout {
            let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let actualLines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            let index = zip(expectedLines, actualLines).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? min(expectedLines.count, actualLines.count)
            let want = index < expectedLines.count ? String(expectedLines[index]) : "<end of file>"
            let got = index < actualLines.count ? String(actualLines[index]) : "<end of output>"
            Issue.record("""
                \(command) differs from data-fixtures/segment-dump/\(file.lastPathComponent) at line \(index + 1):
                expected: \(want)
                actual:   \(got)
                """)
        }
    }
}

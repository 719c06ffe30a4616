import Foundation
import StrataRecords
import Testing

/// Damaged input: every damaged fixture is reported (exit 1) at exactly the byte its `damage.json`
/// names; random damage never crashes the tool and is reported at or before the damaged byte;
/// unusable arguments exit 2 with one line on stderr.
@Suite struct SegmentDumpDamageTests {
    struct ExpectedProblem: Decodable, Hashable {
        var file: String
        var position: Int
        var kind: String
    }

    @Test(arguments: ["torn-tail", "corrupt-crc", "bad-index"])
    func damagedFixtureIsReportedAtItsPosition(name: String) throws {
        let manifest = SegmentDumpTool.fixturesRoot.appendingPathComponent(name).appendingPathComponent("damage.json")
        let expected = try JSONDecoder().decode([String: [ExpectedProblem]].self, from: Data(contentsOf: manifest))
        let partition = try #require(try FileManager.default.contentsOfDirectory(atPath: manifest
            .deletingLastPathComponent().path).first { $0.hasSuffix("-0") })
        for extra in [[], ["--verify"], ["--records"]] {
            let result = try SegmentDumpTool.run(["--json"] + extra + ["\(name)/\(partition)"])
            #expect(result.exitedNormally && result.status == 1, "\(name) \(extra): exit \(result.status)")
            let reported = Set(result.problems.map { problem in
                ExpectedProblem(file: problem["file"] as? String ?? "?", position: problem["position"] as? Int ?? -1,
                                kind: problem["kind"] as? String ?? "?")
            })
            let wanted = Set((expected["problems"] ?? []).map {
                ExpectedProblem(file: "\(name)/\($0.file)", position: $0.position, kind: $0.kind)
            })
            #expect(reported == wanted, "\(name) \(extra)")
            let text = try SegmentDumpTool.run(extra + ["\(name)/\(partition)"])
            #expect(text.status == 1)
            for problem in wanted {
                #expect(text.stdout.contains("PROBLEM file: \(problem.file) position: \(problem.position) "),
                        "\(name): text output does not name \(problem.file) position \(problem.position)")
            }
        }
    }

    @Test func unusableArgumentsExitTwoWithOneLine() throws {
        let scratch = try ScratchDirectory("segment-dump-args")
        defer { scratch.cleanup() }
        _ = FileManager.default.createFile(atPath: scratch.path + "/notes.txt", contents: Data("hello".utf8))
        try FileManager.default.createDirectory(atPath: scratch.path + "/empty-0", withIntermediateDirectories: true)
        let cases: [[String]] = [
            [], ["missing/00000000000000000000.log"], ["notes.txt"], ["empty-0"], ["--no-such-flag", "x"],
            ["--max-bytes", "-5", "notes.txt"], ["--max-bytes", "lots", "notes.txt"],
        ]
        for arguments in cases {
            let result = try SegmentDumpTool.run(arguments, in: scratch.url)
            #expect(result.exitedNormally && result.status == 2, "\(arguments): exit \(result.status)")
            #expect(result.stdout.isEmpty, "\(arguments): wrote to stdout")
            #expect(result.stderr.hasPrefix("segment-dump: ") && result.stderr.filter { $0 == "\n" }.count == 1,
                    "\(arguments): stderr is not one line: \(result.stderr)")
        }
        let help = try SegmentDumpTool.run(["--help"], in: scratch.url)
        #expect(help.status == 0 && help.stdout.contains("--offsets-decoder"))
    }

    /// Batch start positions of a valid log.
    static func batchStarts(_ bytes: [UInt8]) -> [Int] {
        var starts: [Int] = []
        var position = 0
        bytes.withUnsafeBytes { raw in
            while position < raw.count,
                  let (_, length) = RecordBatchHeader.peekOffsetAndSize(
                      UnsafeRawBufferPointer(rebasing: raw[position...])) {
                starts.append(position)
                position += Int(length) + RecordBatchHeader.Layout.logOverhead
            }
        }
        return starts
    }

    /// Whether a change at `position` must be detected: every byte except `baseOffset` (0–7) and
    /// `partitionLeaderEpoch` (12–15), which lie outside the CRC by the format's design and can hold
    /// any value.
    static func isProtected(_ position: Int, starts: [Int]) -> Bool {
        guard let start = starts.last(where: { $0 <= position }) else { return true }
        let inBatch = position - start
        return !((0..<8).contains(inBatch) || (12..<16).contains(inBatch))
    }

    /// Flips, overwrites and truncates random bytes of valid segments: the tool never crashes, its
    /// JSON stays well-formed, and damage to protected bytes is reported at or before the first
    /// damaged byte. Index files are damaged too (no crash, well-formed output).
    @Test func randomDamageNeverCrashesAndIsReportedInTime() throws {
        let seed = testSeed("randomDamageNeverCrashesAndIsReportedInTime")
        var random = SeededGenerator(seed: seed)
        let scratch = try ScratchDirectory("segment-dump-fuzz")
        defer { scratch.cleanup() }
        let iterationsPerFixture = 40
        for fixture in ["uncompressed", "lz4", "headers-nulls-tombstones"] {
            let source = SegmentDumpTool.fixturesRoot.appendingPathComponent("\(fixture)/t-0")
            let stem = "00000000000000000000"
            let original = [UInt8](try Data(contentsOf: source.appendingPathComponent(stem + ".log")))
            let starts = Self.batchStarts(original)
            for iteration in 0..<iterationsPerFixture {
                let directory = scratch.url.appendingPathComponent("\(fixture)-\(iteration)-0")
                try FileManager.default.copyItem(at: source, to: directory)
                var bytes = original
                var changed: [Int] = []
                var cutAt: Int?
                let what: String
                switch Int.random(in: 0..<4, using: &random) {
                case 0:
                    let at = Int.random(in: 0..<bytes.count, using: &random)
                    bytes[at] ^= UInt8.random(in: 1...255, using: &random)
                    changed = [at]
                    what = "flip byte \(at)"
                case 1:
                    let at = Int.random(in: 0..<bytes.count, using: &random)
                    let end = min(bytes.count, at + Int.random(in: 1...40, using: &random))
                    for index in at..<end {
                        let new = UInt8.random(in: 0...255, using: &random)
                        if new != bytes[index] { changed.append(index) }
                        bytes[index] = new
                    }
                    what = "overwrite bytes \(at)..<\(end)"
                case 2:
                    let length = Int.random(in: 0..<bytes.count, using: &random)
                    bytes.removeLast(bytes.count - length)
                    if !starts.contains(length) { cutAt = length }
                    what = "truncate to \(length) bytes"
                default:
                    let length = Int.random(in: 0..<200, using: &random)
                    bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
                    cutAt = bytes.isEmpty ? nil : 0   // garbage from the first byte on
                    what = "replace with \(length) random bytes"
                }
                try Data(bytes).write(to: directory.appendingPathComponent(stem + ".log"))
                let indexName = Bool.random(using: &random) ? stem + ".index" : stem + ".timeindex"
                var index = [UInt8](try Data(contentsOf: directory.appendingPathComponent(indexName)))
                if !index.isEmpty && Bool.random(using: &random) {
                    index[Int.random(in: 0..<index.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
                    if Bool.random(using: &random) { index.removeLast(Int.random(in: 0...index.count, using: &random)) }
                    try Data(index).write(to: directory.appendingPathComponent(indexName))
                }

                let label = "seed \(seed) \(fixture) iteration \(iteration): \(what)"
                let result = try SegmentDumpTool.run(["--json", "--records", directory.lastPathComponent],
                                                     in: scratch.url)
                #expect(result.exitedNormally && (result.status == 0 || result.status == 1),
                        "\(label): exit \(result.status), stderr \(result.stderr)")
                #expect(result.jsonLines.allSatisfy { $0 != nil }, "\(label): malformed JSON line")
                #expect(result.jsonLines.last??["type"] as? String == "total", "\(label): no total line")
                let logFile = "\(directory.lastPathComponent)/\(stem).log"
                let logProblems = result.problems.filter { $0["file"] as? String == logFile }
                    .compactMap { $0["position"] as? Int }
                let protectedChange = changed.filter { Self.isProtected($0, starts: starts) }.min()
                if let damage = [protectedChange, cutAt].compactMap({ $0 }).min() {
                    #expect(result.status == 1, "\(label): damage not reported")
                    let first = logProblems.min()
                    #expect((first ?? Int.max) <= damage,
                            "\(label): first problem at \(first.map(String.init) ?? "none"), after \(damage)")
                }
                try FileManager.default.removeItem(at: directory)
            }
        }
    }
}

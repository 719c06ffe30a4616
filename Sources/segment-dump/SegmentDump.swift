import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// `segment-dump`: offline inspection and verification of segment files, Kafka's `kafka-dump-log`
/// with its field names, plus `--json`, `--verify` and summaries.
///
/// Exit status: 0 clean, 1 problems found, 2 usage or I/O error (one line on stderr). Never traps on
/// any file contents: bad bytes are problems, not crashes.
@main
struct SegmentDump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment-dump",
        abstract: "Dump and verify Strata/Kafka segment files (.log, .index, .timeindex).",
        discussion: """
            A directory argument dumps every segment in it (a partition directory), in offset order. \
            Problems (torn tails, CRC mismatches, impossible lengths, bad index entries) are reported with \
            file, byte position and offset. Exit status: 0 clean, 1 problems found, 2 usage or I/O error.
            """)

    @Argument(help: "Segment files (.log, .index, .timeindex) or partition directories.")
    var files: [String] = []

    @Flag(help: "Decode and show every record (LZ4 batches are decompressed).")
    var records = false

    @Flag(name: .customLong("print-data"), help: "Show keys, values and header values (implies --records).")
    var printData = false

    @Flag(help: "Check everything, show only problems and summaries.")
    var verify = false

    @Flag(help: "One JSON object per line on stdout.")
    var json = false

    @Option(name: .customLong("max-bytes"), help: "Stop reading each .log after this many bytes of batches.")
    var maxBytes: Int?

    @Flag(
        name: .customLong("offsets-decoder"),
        help: "Decode __consumer_offsets keys and values (implies --print-data).")
    var offsetsDecoder = false

    static func main() {
        let command: SegmentDump
        do {
            command = try parse()
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            fail(message(for: error))
        }
        guard !command.files.isEmpty else { fail("no files given") }
        if let maxBytes = command.maxBytes, maxBytes < 0 { fail("--max-bytes must not be negative") }
        var options = DumpOptions()
        options.offsetsDecoder = command.offsetsDecoder
        options.printData = command.printData || command.offsetsDecoder
        options.records = command.records || options.printData
        options.verify = command.verify
        options.json = command.json
        options.maxBytes = command.maxBytes
        options.stdoutIsTerminal = isatty(1) == 1
        do {
            var targets: [DumpTarget] = []
            for file in command.files { targets.append(try DumpTarget.resolve(file)) }
            let out = OutputWriter(fd: 1)
            let sink: DumpSink = options.json ? JSONSink(out: out) : TextSink(out: out)
            Glibc.exit(try Dumper(targets: targets, options: options, sink: sink).run())
        } catch {
            fail(error.description)
        }
    }

    /// Prints `segment-dump: MESSAGE` on stderr and exits with status 2.
    static func fail(_ message: String) -> Never {
        StandardError.write("segment-dump: \(message)\n")
        Glibc.exit(2)
    }
}

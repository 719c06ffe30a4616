import Foundation
import StorageBenchKit
import StrataStorage

/// Measures each storage target against a baseline in the same process, alternating the two
/// round by round, and prints a Markdown table of medians and ratios on standard output.
///
/// Usage: `StorageRatios [--quick] [--directory PARENT] [--only records,lz4,append,commit,partition,reopen,cleaner]`.
/// Data files live in a fresh directory under PARENT (default `$TMPDIR` or `/tmp`), removed at the end.
@main
struct StorageRatios {
    static let sections = ["records", "lz4", "append", "commit", "partition", "reopen", "cleaner"]

    static func main() async {
        do {
            try await run(arguments: Array(CommandLine.arguments.dropFirst()))
        } catch {
            progress("failed: \(error)")
            exit(1)
        }
    }

    static func run(arguments: [String]) async throws {
        var plan = Plan.full
        var parent: String?
        var selected = Set(sections)
        var index = 0
        while index < arguments.count {
            switch arguments[index] {
            case "--quick":
                plan = .quick
            case "--directory" where index + 1 < arguments.count:
                index += 1
                parent = arguments[index]
            case "--only" where index + 1 < arguments.count:
                index += 1
                selected = Set(arguments[index].split(separator: ",").map(String.init))
            default:
                throw BenchError.unexpected("unknown argument \(arguments[index]); see the doc comment")
            }
            index += 1
        }
        let scratch = try ScratchDirectory(parent: parent)
        defer { scratch.remove() }
        let executor = BlockingExecutor(threadCount: 4, name: "bench-io")
        defer { executor.shutdown() }
        let report = Report()
        progress("data in \(scratch.path); \(plan.rounds) rounds per measurement")
        // CPU-only work first, then writes on an idle disk, then the big partitions.
        let cpu = CPUSections(plan: plan, scratch: scratch, report: report)
        let writes = WriteSections(plan: plan, scratch: scratch, executor: executor, report: report)
        let partitions = PartitionSections(plan: plan, scratch: scratch, executor: executor, report: report)
        if selected.contains("records") { try cpu.recordIteration() }
        if selected.contains("lz4") { try cpu.lz4() }
        if selected.contains("append") { try writes.append() }
        if selected.contains("commit") { try await writes.groupCommit() }
        if selected.contains("partition") { try partitions.partition() }
        if selected.contains("reopen") { try partitions.reopen() }
        if selected.contains("cleaner") {
            let cleaner = CleanerSections(plan: plan, scratch: scratch, executor: executor, report: report)
            try cleaner.compaction()
            try await cleaner.producerLatency()
        }
        report.note("Every figure is the median of \(plan.rounds) rounds (after a warm-up round) unless stated; "
            + "baseline and Strata rounds alternate in one process. Ratio = Strata throughput ÷ baseline "
            + "throughput (for times: as labelled). Sink \(Sink.value % 1000).")
        print(report.markdown, terminator: "")
        fflush(nil)
    }
}

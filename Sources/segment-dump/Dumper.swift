#if canImport(Glibc)
import Glibc
#endif

/// Runs the whole dump: for each argument's segments, the `.log` (read once; also read, silently,
/// when only an index of it was named, to check the index against it), then the `.index` and the
/// `.timeindex`; then the totals. Returns the exit status (0 clean, 1 problems found). Single-threaded.
struct Dumper {
    let targets: [DumpTarget]
    let options: DumpOptions
    let sink: DumpSink

    func run() throws(DumpError) -> Int32 {
        var totals = LogTotals()
        var files = 0
        for target in targets {
            var previous: (job: SegmentJob, nextOffset: Int64)?
            for job in target.jobs {
                var log: IndexedLog?
                let logPath = job.path(.log)
                if job.kinds.contains(.log) || access(logPath, F_OK) == 0 {
                    let input = try MappedInput(path: logPath)
                    let shown = job.kinds.contains(.log)
                    let reporter = EventReporter(
                        sink: shown ? sink : nil, verify: options.verify,
                        file: job.display(.log))
                    if shown {
                        files += 1
                        sink.emit(
                            .fileStart(
                                file: job.display(.log), kind: .log, baseOffset: job.baseOffset,
                                size: input.size))
                        if target.isDirectory, let previous, job.baseOffset < previous.nextOffset {
                            reporter.problem(
                                0, job.baseOffset, .segmentOverlap,
                                "segment base offset \(job.baseOffset) is below the next offset "
                                    + "\(previous.nextOffset) of the previous segment \(previous.job.display(.log))")
                        }
                    }
                    let dump = LogDump(
                        input: input, file: job.display(.log), baseOffset: job.baseOffset,
                        options: options)
                    let (facts, fileTotals) = dump.run(reporter)
                    if shown {
                        sink.emit(.logSummary(file: job.display(.log), fileTotals))
                        totals.add(fileTotals)
                    }
                    if let next = facts.nextOffset { previous = (job, next) }
                    log = IndexedLog(input: input, facts: facts)
                }
                for kind in [FileKind.index, .timeindex] where job.kinds.contains(kind) {
                    files += 1
                    totals.problems += try checkIndex(kind, job: job, log: log)
                }
            }
        }
        sink.emit(.total(files: files, totals))
        sink.finish()
        return totals.problems > 0 ? 1 : 0
    }

    /// Dumps one index file; returns its problem count.
    private func checkIndex(_ kind: FileKind, job: SegmentJob, log: IndexedLog?) throws(DumpError) -> Int {
        let input = try MappedInput(path: job.path(kind))
        let file = job.display(kind)
        let reporter = EventReporter(sink: sink, verify: options.verify, file: file)
        sink.emit(.fileStart(file: file, kind: kind, baseOffset: job.baseOffset, size: input.size))
        let entries: Int
        switch kind {
        case .index:
            entries = IndexCheck(input: input, file: file, baseOffset: job.baseOffset)
                .run(log: log, reporter: reporter)
        default:
            entries = TimeIndexCheck(input: input, file: file, baseOffset: job.baseOffset)
                .run(log: log, reporter: reporter)
        }
        sink.emit(.indexSummary(file: file, kind: kind, entries: entries, problems: reporter.problems))
        return reporter.problems
    }
}

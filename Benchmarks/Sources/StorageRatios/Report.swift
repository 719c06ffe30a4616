import Foundation

/// One line of the results table: a Strata figure, its same-run baseline, and the verdict.
struct ResultRow {
    var target: String
    var measurement: String
    var strata: String
    var baseline: String
    /// Strata relative to the baseline ("93.1 %"), or "—" when the target is absolute.
    var ratio: String
    var goal: String
    /// nil for informative rows that carry no target.
    var passed: Bool?

    var verdict: String {
        switch passed {
        case true?: return "PASS"
        case false?: return "MISS"
        case nil: return "info"
        }
    }
}

/// Collects rows and notes and renders them as a Markdown table. Owned by `main`; single-threaded.
final class Report {
    private(set) var rows: [ResultRow] = []
    private(set) var notes: [String] = []

    func add(_ row: ResultRow) {
        rows.append(row)
        let line = "[\(row.target)] \(row.measurement): Strata \(row.strata) | baseline \(row.baseline) | "
            + "\(row.ratio) (goal \(row.goal)) \(row.verdict)"
        progress(line)
    }

    func note(_ text: String) {
        notes.append(text)
        progress("note: " + text)
    }

    var markdown: String {
        var text = "| # | measurement | Strata | same-run baseline | ratio | target | result |\n"
        text += "|---|---|---|---|---|---|---|\n"
        for row in rows {
            text += "| \(row.target) | \(row.measurement) | \(row.strata) | \(row.baseline) | \(row.ratio) | "
                + "\(row.goal) | \(row.verdict) |\n"
        }
        if !notes.isEmpty {
            text += "\n"
            for note in notes { text += "- \(note)\n" }
        }
        return text
    }
}

/// Progress to standard error, so standard output is only the table.
func progress(_ line: String) {
    FileHandle.standardError.write(Data(("bench-storage: " + line + "\n").utf8))
}

/// Number formatting for the table.
enum Format {
    static func fixed(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

    /// Bytes per second as MB/s (10^6 bytes), or GB/s from 10 GB/s up.
    static func rate(bytes: Int, seconds: Double) -> String {
        let perSecond = Double(bytes) / seconds
        return perSecond >= 1e10 ? fixed(perSecond / 1e9, 2) + " GB/s" : fixed(perSecond / 1e6, 0) + " MB/s"
    }

    static func percent(_ ratio: Double) -> String { fixed(ratio * 100, 1) + " %" }

    static func milliseconds(_ seconds: Double) -> String { fixed(seconds * 1e3, seconds < 0.01 ? 3 : 1) + " ms" }

    static func microseconds(nanoseconds: Double) -> String { fixed(nanoseconds / 1e3, 2) + " µs" }

    static func mebibytes(_ bytes: Int) -> String {
        bytes >= 1 << 30 ? fixed(Double(bytes) / Double(1 << 30), 2) + " GiB" : "\(bytes >> 20) MiB"
    }
}

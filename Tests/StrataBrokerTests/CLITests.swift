import Foundation
import Testing

/// The `strata` client subcommands (topics, produce, consume) as a user runs them: the real binary
/// against the real server binary, checked by their output and exit status, and cross-checked with
/// kcat where a second client's view matters.
@Suite(.serialized) struct CLITests {
    let strata = ServerProcess.productsDirectory.appendingPathComponent("strata").path

    func run(_ arguments: [String], _ server: ServerProcess, input: String? = nil) throws -> CommandResult {
        try runCommand(strata, arguments + ["--bootstrap", server.bootstrap], input: input)
    }

    /// Regression: with the Kafka port taken but the metrics port free, `strata serve` logged the bind
    /// error and then hung (the metrics listener ignored the cancellation), deaf to SIGTERM.
    @Test func serveExitsNonZeroNamingTheProblemWhenItsPortIsTaken() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        let directory = NSTemporaryDirectory() + "strata-taken-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let second = try runCommand(
            strata, ["serve", "--data-dir", directory, "--listen", server.bootstrap, "--metrics", "127.0.0.1:0"],
            timeoutSeconds: 30)
        // 1, not the SIGKILL of runCommand's timeout.
        #expect(second.status == 1, "exit status \(second.status)")
        let last = second.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("strata serve: ") && last.lowercased().contains("address already in use"), "\(last)")
    }

    @Test func topicsCreateDescribeAlterListDelete() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        let created = try run(
            ["topics", "create", "orders", "--partitions", "4", "--config", "retention.ms=3600000"], server)
        #expect(created.status == 0, "\(created.stderr)")
        let again = try run(["topics", "create", "orders"], server)
        #expect(again.status == 1 && again.stderr.contains("TOPIC_ALREADY_EXISTS"), "\(again.stderr)")
        #expect(try run(["topics", "list"], server).stdout == "orders\n")
        let altered = try run(
            ["topics", "alter", "orders", "--set", "segment.ms=60000", "--set", "cleanup.policy=compact"],
            server)
        #expect(altered.status == 0, "\(altered.stderr)")
        let described = try run(["topics", "describe", "orders"], server)
        #expect(described.status == 0)
        let lines = described.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "Topic: orders\tPartitions: 4")
        #expect(lines.filter { $0.contains("Partition: ") }.count == 4)
        #expect(lines.contains("\tretention.ms=3600000 (topic override)"), "earlier override kept: \(lines)")
        #expect(lines.contains("\tsegment.ms=60000 (topic override)"))
        #expect(lines.contains("\tcleanup.policy=compact (topic override)"))
        #expect(lines.contains("\tflush.ms=1000"), "defaults are listed unmarked")
        let reset = try run(["topics", "alter", "orders", "--delete", "retention.ms"], server)
        #expect(reset.status == 0)
        #expect(try run(["topics", "describe", "orders"], server).stdout.contains("\tretention.ms=604800000\n"))
        let bad = try run(["topics", "alter", "orders", "--set", "retention.ms=soon"], server)
        #expect(
            bad.status == 1 && bad.stderr.contains("INVALID_CONFIG") && bad.stderr.contains("retention.ms"),
            "\(bad.stderr)")
        #expect(try run(["topics", "delete", "orders"], server).status == 0)
        #expect(try run(["topics", "list"], server).stdout == "")
        #expect(server.stop() == 0)
    }

    @Test func produceThenConsumeRoundTripsKeysValuesAndPartitions() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        #expect(try run(["topics", "create", "lines", "--partitions", "3"], server).status == 0)
        let input = (0..<500).map { "key-\($0 % 37)|value \($0)" }.joined(separator: "\n") + "\n"
        let produced = try run(["produce", "lines", "--key-separator", "|", "--acks", "all"], server, input: input)
        #expect(produced.status == 0 && produced.stderr.contains("produced 500 records"), "\(produced.stderr)")
        let consumed = try run(
            ["consume", "lines", "--from-beginning", "--exit-at-end", "--format", "%p %o %k %v"],
            server)
        #expect(consumed.status == 0, "\(consumed.stderr)")
        let rows = consumed.stdout.split(separator: "\n").map {
            $0.split(separator: " ", maxSplits: 3).map(String.init)
        }
        #expect(rows.count == 500)
        // Every line came back once, with its key; one key always lands in one partition, in order.
        #expect(Set(rows.map { "\($0[2])|\($0[3])" }) == Set(input.split(separator: "\n").map(String.init)))
        var partitionOfKey: [String: String] = [:]
        var lastValueOfKey: [String: Int] = [:]
        for row in rows {
            #expect(partitionOfKey[row[2], default: row[0]] == row[0], "key \(row[2]) in one partition")
            partitionOfKey[row[2]] = row[0]
            let value = Int(row[3].dropFirst("value ".count))!
            #expect(value > lastValueOfKey[row[2], default: -1], "per-key order kept")
            lastValueOfKey[row[2]] = value
        }
        // kcat reads the same records (another client's view of what the CLI wrote).
        if let kcat = InteropTools.kcat {
            let viaKcat = try runCommand(
                kcat, ["-C", "-b", server.bootstrap, "-t", "lines", "-e", "-q", "-f", "%k|%s\\n"])
            #expect(
                Set(viaKcat.stdout.split(separator: "\n").map(String.init))
                    == Set(input.split(separator: "\n").map(String.init)))
        }
        // --max-messages, --partition, --offset and json output.
        let one = try run(
            [
                "consume", "lines", "--partition", rows[0][0], "--offset", "0", "--max-messages", "1",
                "--format", "json",
            ], server)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(one.stdout.utf8)) as? [String: Any])
        #expect(object["offset"] as? Int == 0 && object["topic"] as? String == "lines")
        #expect(server.stop() == 0)
    }

    @Test func consumeFromATimestampStartsAtTheFirstLaterRecord() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        #expect(try run(["topics", "create", "timed", "--partitions", "1"], server).status == 0)
        #expect(try run(["produce", "timed"], server, input: "early-1\nearly-2\n").status == 0)
        Thread.sleep(forTimeInterval: 0.05)
        let cut = Int64(Date().timeIntervalSince1970 * 1000)
        Thread.sleep(forTimeInterval: 0.05)
        #expect(try run(["produce", "timed"], server, input: "late-1\nlate-2\n").status == 0)
        let consumed = try run(
            ["consume", "timed", "--timestamp", "\(cut)", "--exit-at-end", "--format", "%o %v"], server)
        #expect(consumed.stdout == "2 late-1\n3 late-2\n", "\(consumed.stdout) \(consumed.stderr)")
        #expect(server.stop() == 0)
    }

    @Test func printOffsetsReportsEachAcknowledgedRecordWhereItLanded() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        #expect(try run(["topics", "create", "acked", "--partitions", "2"], server).status == 0)
        let lines = (0..<300).map { "line \($0)" }
        let produced = try run(
            ["produce", "acked", "--print-offsets"], server, input: lines.joined(separator: "\n") + "\n")
        #expect(produced.status == 0, "\(produced.stderr)")
        // One "partition<TAB>offset<TAB>line" per input line, each where a reader finds it.
        let reported = produced.stdout.split(separator: "\n").map { $0.split(separator: "\t", maxSplits: 2) }
        #expect(reported.count == 300 && reported.allSatisfy { $0.count == 3 })
        #expect(Set(reported.map { String($0[2]) }) == Set(lines))
        let consumed = try run(
            ["consume", "acked", "--from-beginning", "--exit-at-end", "--format", "%p\t%o\t%v"], server)
        #expect(Set(consumed.stdout.split(separator: "\n")) == Set(produced.stdout.split(separator: "\n")))
        #expect(try run(["produce", "acked", "--print-offsets", "--acks", "0"], server, input: "x\n").status == 64)
        #expect(server.stop() == 0)
    }

    @Test func errorsAreOneLineWithDocumentedExitStatuses() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        let unreachable = try runCommand(strata, ["topics", "list", "--bootstrap", "127.0.0.1:1"])
        #expect(
            unreachable.status == 3 && unreachable.stderr == "strata: no broker available (tried 127.0.0.1:1)\n",
            "\(unreachable.stderr)")
        let unknown = try run(["consume", "missing", "--from-beginning", "--exit-at-end"], server)
        #expect(unknown.status == 1 && unknown.stderr.contains("UNKNOWN_TOPIC_OR_PARTITION"), "\(unknown.stderr)")
        #expect(try run(["topics", "list"], server).stdout == "", "consuming an unknown topic does not create it")
        let badFlag = try run(["produce", "t", "--acks", "2"], server, input: "")
        #expect(badFlag.status == 64 && badFlag.stderr.contains("--acks 2"), "\(badFlag.stderr)")
        let conflicting = try run(["consume", "t", "--from-beginning", "--offset", "3"], server)
        #expect(conflicting.status == 64)
        #expect(server.stop() == 0)
    }
}

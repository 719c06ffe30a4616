import Foundation
import Testing

/// Real clients against the real `strata` binary on a loopback port: kcat (librdkafka 2.0.2),
/// confluent-kafka (librdkafka 2.16), kafka-python 3 and aiokafka 0.14. Each test ends with a
/// SIGTERM and checks the clean-shutdown marker.
@Suite(.serialized) struct InteropTests {
    func withServer(_ body: (ServerProcess) throws -> Void) throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        do {
            try body(server)
        } catch {
            Issue.record("server stderr:\n\(server.stderrText.suffix(4000))")
            throw error
        }
        #expect(server.stop() == 0, "strata exits 0 on SIGTERM")
        #expect(FileManager.default.fileExists(atPath: server.dataDirectory + "/.strata_cleanshutdown"),
                "clean shutdown leaves the marker")
    }

    @Test(.enabled(if: InteropTools.kcatAvailable))
    func kcatProducesAndConsumesPlainAndLZ4() throws {
        let kcat = try #require(InteropTools.kcat, "kcat missing: run tools/setup")
        try withServer { server in
            let count = 10_000
            let before = Int64(Date().timeIntervalSince1970 * 1000)
            let lines = (1...count).map { "key\($0):value-\($0)" }.joined(separator: "\n") + "\n"
            for (topic, codec) in [("plain", "none"), ("compressed", "lz4")] {
                let produce = try runCommand(kcat, ["-P", "-b", server.bootstrap, "-t", topic, "-K:", "-z", codec,
                                                    "-X", "acks=all"], input: lines)
                #expect(produce.status == 0, "kcat -P: \(produce.stderr)")
                let consume = try runCommand(kcat, ["-C", "-b", server.bootstrap, "-t", topic, "-o", "beginning", "-e",
                                                    "-q", "-f", "%o %k %s\\n"])
                #expect(consume.status == 0, "kcat -C: \(consume.stderr)")
                let received = consume.stdout.split(separator: "\n")
                #expect(received.count == count)
                #expect(received.first == "0 key1 value-1")
                #expect(received.last == "\(count - 1) key\(count) value-\(count)")
                // In order: offset i holds key i+1.
                #expect(received.enumerated().allSatisfy { $0.element.hasPrefix("\($0.offset) key\($0.offset + 1) ") })
                // From a timestamp before everything: all records; from the future: none.
                let fromTime = try runCommand(kcat, ["-C", "-b", server.bootstrap, "-t", topic, "-o", "s@\(before)",
                                                     "-e", "-q", "-f", "%o\\n"])
                #expect(fromTime.stdout.split(separator: "\n").count == count)
            }
            let metricsPort = try #require(server.metricsAddress(), "metrics port line")
            let metrics = try runCommand("/usr/bin/env", ["python3", "-c",
                "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:\(metricsPort)/metrics').read().decode())"])
            #expect(metrics.stdout.contains("strata_requests_total{api=\"Produce\"}"), "\(metrics.stdout.prefix(500))")
            #expect(metrics.stdout.contains("strata_produce_latency_seconds"))
            // Large fetches went out with sendfile from the segment files.
            let sendfile = metrics.stdout.split(separator: "\n").first { $0.hasPrefix("strata_fetch_sendfile_bytes_total ") }
            #expect((sendfile.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0) > 100_000, "\(sendfile ?? "none")")
            let metadata = try runCommand(kcat, ["-L", "-b", server.bootstrap, "-J"])
            #expect(metadata.stdout.contains("\"topic\":\"plain\"") && metadata.stdout.contains("\"topic\":\"compressed\""))
            // Offsets by time and from the end.
            let tail = try runCommand(kcat, ["-C", "-b", server.bootstrap, "-t", "plain", "-o", "-2", "-e", "-q",
                                             "-f", "%o\\n"])
            #expect(tail.stdout == "\(count - 2)\n\(count - 1)\n")
        }
    }

    @Test(.enabled(if: InteropTools.kcatAvailable))
    func dataSurvivesRestartAndKill9() throws {
        let kcat = try #require(InteropTools.kcat, "kcat missing: run tools/setup")
        let data = NSTemporaryDirectory() + "strata-restart-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: data) }
        let lines = (0..<500).map { "m\($0)" }.joined(separator: "\n") + "\n"
        do {
            let server = try ServerProcess(dataDirectory: data)
            let produce = try runCommand(kcat, ["-P", "-b", server.bootstrap, "-t", "durable", "-X", "acks=all"],
                                         input: lines)
            #expect(produce.status == 0)
            server.kill9()  // acks=all: every acknowledged record must survive
        }
        let server = try ServerProcess(dataDirectory: data)
        defer { server.cleanup() }
        #expect(server.stderrText.contains("no clean-shutdown marker"), "restart after kill -9 runs recovery")
        let consume = try runCommand(kcat, ["-C", "-b", server.bootstrap, "-t", "durable", "-e", "-q", "-f", "%s\\n"])
        #expect(consume.stdout == lines)
        #expect(server.stop() == 0)
    }

    @Test(.enabled(if: InteropTools.kcatAvailable))
    func retentionDeletesOldSegmentsAndConsumersResetToTheRemainder() throws {
        let kcat = try #require(InteropTools.kcat, "kcat missing: run tools/setup")
        let server = try ServerProcess(extraArguments: [
            "--set", "log.segment.bytes=4096", "--set", "log.retention.bytes=16384",
            "--set", "log.retention.check.interval.ms=50", "--set", "log.segment.delete.delay.ms=0",
        ])
        defer { server.cleanup() }
        let lines = (0..<3000).map { "record-\($0)-" + String(repeating: "x", count: 40) }.joined(separator: "\n") + "\n"
        let produce = try runCommand(kcat, ["-P", "-b", server.bootstrap, "-t", "short", "-X", "acks=all",
                                                "-X", "batch.num.messages=100"], input: lines)
        #expect(produce.status == 0, "\(produce.stderr)")
        // The cleaner runs every 50 ms: wait (bounded) until the earliest offset has moved.
        var first = 0
        let deadline = Date().addingTimeInterval(30)
        var remainder: [Substring] = []
        while first == 0 && Date() < deadline {
            let consume = try runCommand(kcat, ["-C", "-b", server.bootstrap, "-t", "short", "-o", "0", "-e", "-q",
                                                "-X", "auto.offset.reset=earliest", "-f", "%o %s\\n"])
            remainder = consume.stdout.split(separator: "\n")
            first = remainder.first.flatMap { Int($0.split(separator: " ")[0]) } ?? 0
        }
        #expect(first > 0, "old segments were deleted and offset 0 was reset to the log start; \(server.stderrText.suffix(1500))")
        #expect(remainder.count == 3000 - first, "everything from the log start to the end is still there")
        #expect(remainder.last?.hasPrefix("2999 record-2999-") == true)
        #expect(server.stop() == 0)
    }

    @Test(.enabled(if: InteropTools.pythonAvailable))
    func compactedTopicKeepsTheLatestValuePerKeyAndVerifiesClean() throws {
        let python = try #require(InteropTools.python, "python venv missing: run tools/setup")
        let server = try ServerProcess(extraArguments: ["--set", "log.retention.check.interval.ms=100"])
        defer { server.cleanup() }
        let result = try runCommand(python, [InteropTools.clientsScript, "compaction", server.bootstrap,
                                             "compacted", "600"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr.suffix(2000)) \(server.stderrText.suffix(2000))")
        // The cleaner's work shows in /metrics and in its log line with before/after sizes.
        let metricsPort = try #require(server.metricsAddress(), "metrics port line")
        let metrics = try runCommand("/usr/bin/env", ["python3", "-c",
            "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:\(metricsPort)/metrics').read().decode())"])
        func value(_ series: String) -> Double? {
            metrics.stdout.split(separator: "\n").first { $0.hasPrefix(series + " ") }
                .flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        #expect((value("strata_cleaner_runs_total{kind=\"compaction\"}") ?? 0) >= 1, "\(metrics.stdout.suffix(3000))")
        #expect((value("strata_cleaner_bytes_removed_total{kind=\"compaction\"}") ?? 0) > 0)
        #expect((value("strata_cleaner_records_removed_total{kind=\"compaction\"}") ?? 0) > 0)
        #expect(value("strata_cleaner_dirty_ratio{topic=\"compacted\",partition=\"0\"}") != nil)
        #expect(metrics.stdout.contains("strata_cleaner_run_seconds"))
        #expect(server.stderrText.contains("compacted") && server.stderrText.contains("bytesOut"))
        #expect(server.stop() == 0)
        // The compacted partition passes segment-dump's verification.
        let dump = ServerProcess.productsDirectory.appendingPathComponent("segment-dump").path
        let verify = try runCommand(dump, ["--verify", server.dataDirectory + "/compacted-0"])
        #expect(verify.status == 0, "\(verify.stdout.suffix(2000))")
    }

    @Test(.enabled(if: InteropTools.pythonAvailable), arguments: ["confluent", "kafka-python", "aiokafka"])
    func pythonClientProducesAndConsumes(scenario: String) throws {
        let python = try #require(InteropTools.python, "python venv missing: run tools/setup")
        try withServer { server in
            let result = try runCommand(python, [InteropTools.clientsScript, scenario, server.bootstrap,
                                                 "interop-\(scenario)", "3000"])
            #expect(result.status == 0, "\(scenario): \(result.stdout) \(result.stderr.suffix(3000))")
            #expect(result.stdout.contains("\"ok\": true"))
        }
    }
}

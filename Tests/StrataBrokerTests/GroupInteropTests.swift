import Foundation
import Testing

/// Consumer groups with real clients (tools/interop/groups.py: confluent-kafka, kafka-python,
/// aiokafka) against the real `strata` binary, started with no initial rebalance delay. Every
/// scenario bounds its waits (100 s in the script, 150 s per process here).
@Suite(.serialized) struct GroupInteropTests {
    static let noDelay = ["--set", "group.initial.rebalance.delay.ms=0"]

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/tools/interop/groups.py"
    }

    /// Runs one scenario; returns its JSON line after checking it reported success.
    @discardableResult
    func scenario(
        _ name: String, _ server: ServerProcess, topic: String, group: String, count: Int = 400,
        environment: [String: String] = [:]
    ) throws -> String {
        let python = try #require(InteropTools.python, "python venv missing: run tools/setup")
        let result = try runCommand(
            python, [Self.script, name, server.bootstrap, topic, group, "\(count)"],
            environment: environment, timeoutSeconds: 150)
        let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(
            result.status == 0 && line.contains("\"ok\": true"),
            "\(name): \(result.stdout) \(result.stderr.suffix(3000))\nserver: \(server.stderrText.suffix(20000))")
        return line
    }

    func withServer(_ arguments: [String] = noDelay, _ body: (ServerProcess) throws -> Void) throws {
        let server = try ServerProcess(extraArguments: arguments)
        defer { server.cleanup() }
        try body(server)
        #expect(server.stop() == 0, "strata exits 0 on SIGTERM")
    }

    @Test(.enabled(if: InteropTools.pythonAvailable))
    func confluentConsumersSplitTakeOverAndResumeAfterTheCommit() throws {
        // Both members must be in the first generation: with no delay, a loaded machine can let the
        // first member form a group alone and consume before the split, which the scenario forbids.
        try withServer(["--set", "group.initial.rebalance.delay.ms=2000"]) { server in
            try scenario("confluent-pair", server, topic: "pair", group: "pair-group")
        }
    }

    @Test(.enabled(if: InteropTools.pythonAvailable), arguments: ["kafka-python", "aiokafka", "mixed"])
    func pythonGroupsConsumeEverythingWithTheirDefaults(client: String) throws {
        try withServer { server in
            try scenario(client, server, topic: "t-\(client)", group: "g-\(client)")
        }
    }

    /// The path that made the kafka-python scenario fail about 1 run in 4, taken every run: the
    /// second member starts 2 s after the first, which meanwhile formed a generation alone, read every
    /// record and commits them when it rejoins. The second member's partitions then have nothing left
    /// to deliver: it is caught up through the committed offsets (its position), not through records.
    @Test(.enabled(if: InteropTools.pythonAvailable))
    func aKafkaPythonMemberJoiningAfterEverythingWasReadResumesAtTheCommit() throws {
        try withServer { server in
            try scenario(
                "kafka-python", server, topic: "t-late", group: "g-late", environment: ["GROUPS_PY_STAGGER": "2"])
        }
    }

    @Test(.enabled(if: InteropTools.pythonAvailable))
    func aKilledMemberIsEvictedAfterItsSessionTimeout() throws {
        try withServer { server in
            try scenario("evict", server, topic: "evict", group: "evict-group", count: 100)
        }
    }

    @Test(.enabled(if: InteropTools.pythonAvailable))
    func aRestartedStaticMemberGetsItsPartitionsBackWithoutARebalance() throws {
        try withServer { server in
            try scenario("static", server, topic: "static", group: "static-group", count: 100)
        }
    }

    /// A 4-member group started together forms once the initial delay has passed; the speed target
    /// (delay + 1 s) is measured by `strata perf rebalance`.
    @Test(.enabled(if: InteropTools.pythonAvailable))
    func fourMembersStartedTogetherRebalanceAfterOneInitialDelay() throws {
        let server = try ServerProcess()  // the default group.initial.rebalance.delay.ms (3000)
        defer { server.cleanup() }
        let line = try scenario("burst", server, topic: "burst", group: "burst-group")
        let seconds = line.range(of: "\"rebalance_seconds\": ").flatMap {
            Double(line[$0.upperBound...].prefix { $0 != "}" })
        }
        // The initial delay is honoured; how soon after it the group forms is a benchmark figure
        // (`strata perf rebalance`), not a test threshold on a shared machine.
        #expect(seconds.map { $0 >= 3 } == true, "\(line)")
        #expect(server.stop() == 0)
    }

    @Test(.enabled(if: InteropTools.pythonAvailable))
    func committedOffsetsSurviveSigtermAndKill9() throws {
        let data = NSTemporaryDirectory() + "strata-group-restart-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: data) }
        func committed(_ line: String) -> Substring? {
            line.range(of: "\"committed\": ").map { line[$0.upperBound...] }
        }
        var server = try ServerProcess(extraArguments: Self.noDelay, dataDirectory: data)
        let first = try scenario("commit", server, topic: "durable", group: "keeper", count: 300)
        #expect(committed(first)?.hasPrefix("{\"0\": 75, \"1\": 75, \"2\": 75, \"3\": 75}") == true, "\(first)")
        #expect(server.stop() == 0)
        server = try ServerProcess(extraArguments: Self.noDelay, dataDirectory: data)
        let afterStop = try scenario("committed", server, topic: "durable", group: "keeper")
        #expect(committed(afterStop) == committed(first), "after SIGTERM: \(afterStop)")
        let second = try scenario("commit", server, topic: "durable", group: "keeper", count: 300)
        #expect(committed(second)?.hasPrefix("{\"0\": 150, \"1\": 150, \"2\": 150, \"3\": 150}") == true, "\(second)")
        server.kill9()  // acks=all commits must survive a crash
        server = try ServerProcess(extraArguments: Self.noDelay, dataDirectory: data)
        defer { server.cleanup() }
        #expect(server.stderrText.contains("no clean-shutdown marker"), "restart after kill -9 runs recovery")
        let afterKill = try scenario("committed", server, topic: "durable", group: "keeper")
        #expect(committed(afterKill) == committed(second), "after kill -9: \(afterKill)")
        #expect(server.stop() == 0)
    }
}

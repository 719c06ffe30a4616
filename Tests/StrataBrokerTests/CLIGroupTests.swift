import Foundation
import Testing

/// `strata consume --group` and `strata groups list|describe|delete` as a user runs them: the real
/// binary against the real server binary, checked by output and exit status.
@Suite(.serialized) struct CLIGroupTests {
    let strata = ServerProcess.productsDirectory.appendingPathComponent("strata").path

    func run(_ arguments: [String], _ server: ServerProcess, input: String? = nil) throws -> CommandResult {
        try runCommand(strata, arguments + ["--bootstrap", server.bootstrap], input: input)
    }

    /// The `Offsets:` rows of `groups describe`, as field → value per row.
    func offsetRows(_ output: String) -> [[String: String]] {
        output.split(separator: "\n").filter { $0.hasPrefix("\tTopic: ") }.map { line in
            var fields: [String: String] = [:]
            for field in line.split(separator: "\t") {
                let parts = field.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            return fields
        }
    }

    @Test func consumeWithAGroupCommitsAndGroupsDescribeShowsOffsetsAndLag() throws {
        let server = try ServerProcess(extraArguments: ClientGroupTests.noDelay)
        defer { server.cleanup() }
        #expect(try run(["topics", "create", "jobs", "--partitions", "4"], server).status == 0)
        let input = (0..<100).map { "k\($0)|job \($0)" }.joined(separator: "\n") + "\n"
        #expect(
            try run(["produce", "jobs", "--key-separator", "|", "--acks", "all"], server, input: input).status == 0)

        let first = try run(
            ["consume", "jobs", "--group", "workers", "--from-beginning", "--max-messages", "60", "--format", "%v"],
            server)
        #expect(first.status == 0, "\(first.stderr)")
        let firstLines = first.stdout.split(separator: "\n").map(String.init)
        #expect(firstLines.count == 60)

        #expect(try run(["groups", "list"], server).stdout == "workers\n")
        let described = try run(["groups", "describe", "workers"], server)
        #expect(described.status == 0, "\(described.stderr)")
        #expect(
            described.stdout.hasPrefix("Group: workers\tState: Empty\tProtocolType: consumer\t"), "\(described.stdout)")
        var rows = offsetRows(described.stdout)
        #expect(rows.count == 4, "\(described.stdout)")
        #expect(rows.compactMap { Int($0["CommittedOffset"] ?? "") }.reduce(0, +) == 60, "\(described.stdout)")
        #expect(rows.compactMap { Int($0["LogEndOffset"] ?? "") }.reduce(0, +) == 100)
        #expect(rows.compactMap { Int($0["Lag"] ?? "") }.reduce(0, +) == 40)

        // The next run resumes at the commits: exactly the other 40.
        let second = try run(
            ["consume", "jobs", "--group", "workers", "--max-messages", "40", "--format", "%v"], server)
        #expect(second.status == 0, "\(second.stderr)")
        let secondLines = second.stdout.split(separator: "\n").map(String.init)
        #expect(Set(firstLines).isDisjoint(with: secondLines))
        #expect(Set(firstLines + secondLines).count == 100)
        rows = offsetRows(try run(["groups", "describe", "workers"], server).stdout)
        #expect(rows.allSatisfy { $0["Lag"] == "0" }, "\(rows)")

        let unknown = try run(["groups", "describe", "nobody"], server)
        #expect(unknown.status == 1 && unknown.stderr.contains("GROUP_ID_NOT_FOUND"), "\(unknown.stderr)")
        #expect(try run(["groups", "delete", "workers"], server).status == 0)
        #expect(try run(["groups", "list"], server).stdout == "")
        #expect(server.stop() == 0)
        let unreachable = try run(["groups", "list"], server)
        #expect(
            unreachable.status == 3 && unreachable.stderr.hasPrefix("strata: no broker available"), "\(unreachable)")
    }

    @Test func groupsDescribeShowsALiveMemberWithItsClientHostAndPartitions() throws {
        let server = try ServerProcess(extraArguments: ClientGroupTests.noDelay)
        defer { server.cleanup() }
        #expect(try run(["topics", "create", "live", "--partitions", "4"], server).status == 0)
        let member = Process()
        member.executableURL = URL(fileURLWithPath: strata)
        member.arguments = ["consume", "live", "--group", "watchers", "--bootstrap", server.bootstrap]
        member.standardOutput = FileHandle.nullDevice
        member.standardError = FileHandle.nullDevice
        try member.run()
        defer { if member.isRunning { member.terminate() } }
        var described = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            described = try run(["groups", "describe", "watchers"], server).stdout
            if described.contains("State: Stable") && described.contains("Partitions: live-0,live-1,live-2,live-3") {
                break
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(described.contains("\tMembers: 1\n"), "\(described)")
        let memberLine = described.split(separator: "\n").first { $0.hasPrefix("\tMember: ") } ?? ""
        #expect(memberLine.contains("\tClientId: strata-consume\t"), "\(memberLine)")
        #expect(memberLine.contains("\tHost: /127.0.0.1\t"), "\(memberLine)")
        #expect(memberLine.hasSuffix("Partitions: live-0,live-1,live-2,live-3"), "\(memberLine)")
        #expect(described.contains("Assignor: range"), "\(described)")
        member.terminate()
        member.waitUntilExit()
        #expect(server.stop() == 0)
    }

    @Test func aGroupConsumerStoppedWithSigtermCommitsWhatItPrinted() throws {
        let server = try ServerProcess(extraArguments: ClientGroupTests.noDelay)
        defer { server.cleanup() }
        #expect(try run(["topics", "create", "tasks", "--partitions", "4"], server).status == 0)
        let input = (0..<100).map { "task \($0)" }.joined(separator: "\n") + "\n"
        #expect(try run(["produce", "tasks", "--acks", "all"], server, input: input).status == 0)
        let member = Process()
        member.executableURL = URL(fileURLWithPath: strata)
        member.arguments = [
            "consume", "tasks", "--group", "stoppers", "--from-beginning", "--bootstrap", server.bootstrap,
        ]
        let output = Pipe()
        member.standardOutput = output
        member.standardError = FileHandle.nullDevice
        try member.run()
        defer { if member.isRunning { member.terminate() } }
        // Its output is block-buffered on a pipe: wait until it owns the 4 partitions, give it a
        // moment to read them, then stop it before its 5 s auto-commit.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let described = try run(["groups", "describe", "stoppers"], server).stdout
            if described.contains("Partitions: tasks-0,tasks-1,tasks-2,tasks-3") { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 1.5)
        member.terminate()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        member.waitUntilExit()
        #expect(member.terminationStatus == 0)
        // What matters is that the commit on SIGTERM covers exactly what was printed; how much that
        // is depends on the machine's speed (all 100 on a quiet one), so only "some" is required.
        let count = printed.split(separator: "\n").count
        #expect(count > 0 && count <= 100, "\(printed.suffix(200))")
        let rows = offsetRows(try run(["groups", "describe", "stoppers"], server).stdout)
        #expect(rows.compactMap { Int($0["CommittedOffset"] ?? "") }.reduce(0, +) == count, "\(rows)")
        #expect(rows.compactMap { Int($0["Lag"] ?? "") }.reduce(0, +) == 100 - count, "\(rows)")
        #expect(server.stop() == 0)
    }

    @Test func perfCommitAndPerfRebalanceReportTheirFigures() throws {
        let server = try ServerProcess(extraArguments: ClientGroupTests.noDelay)
        defer { server.cleanup() }
        let commits = try run(["perf", "commit", "--members", "3", "--seconds", "1"], server)
        #expect(commits.status == 0, "\(commits.stderr)")
        let line = commits.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(line.contains(" commits from 3 members (1 in flight each) in "), "\(line)")
        let count = Int(line.prefix { $0 != " " }) ?? 0
        #expect(count > 0, "\(line)")
        let rebalance = try run(["perf", "rebalance", "--members", "4"], server)
        #expect(rebalance.status == 0 && rebalance.stdout.hasPrefix("4 members assigned in "), "\(rebalance)")
        #expect(server.stop() == 0)
    }
}

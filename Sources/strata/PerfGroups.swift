import ArgumentParser
import Foundation
import StrataClient

/// `strata perf commit`: OffsetCommit throughput of concurrent group members, each committing its
/// own partitions' offsets in a loop: one commit in flight per member by default (a consumer
/// committing synchronously), or `--in-flight` pipelined commits (asynchronous commits).
struct CommitPerf: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commit",
        abstract: "Measure OffsetCommit throughput of --members group members committing concurrently.")

    @OptionGroup var client: ClientOptions
    @Option(help: "Topic the members subscribe to (created with one partition per member if missing).")
    var topic = "perf-commit"
    @Option(help: "Group id (default: a fresh one).") var group: String?
    @Option(help: "Concurrent group members.") var members = 10
    @Option(help: "Seconds to commit for.") var seconds: Double = 10
    @Option(help: "Commits each member keeps in flight.") var inFlight = 1

    func validate() throws {
        guard members > 0, seconds > 0, inFlight > 0 else {
            throw ValidationError("--members, --seconds and --in-flight must be positive")
        }
    }

    func run() async throws {
        let groupId = group ?? "perf-commit-\(UUID().uuidString.prefix(8))"
        try await runClient {
            try await withAdmin(client) { admin in
                if (try? await admin.describeTopics([topic])) == nil {
                    try await admin.createTopic(topic, partitions: Int32(members))
                }
            }
            let joinStart = monotonicSeconds()
            let consumers = try await startMembers(
                client, topic: topic, group: groupId, count: members, clientId: "strata-perf-commit")
            let joined = monotonicSeconds() - joinStart
            let latencies = LatencyRecorder()
            let start = monotonicSeconds()
            let cpuStart = processCPUSeconds()
            let deadline = start + seconds
            let total = try await withThrowingTaskGroup(of: Int.self) { tasks in
                for consumer in consumers {
                    for lane in 0..<inFlight {
                        tasks.addTask {
                            // A member may own several partitions or none (more members than partitions).
                            let owned = consumer.assignment
                            var offset = Int64(lane)
                            var commits = 0
                            while monotonicSeconds() < deadline {
                                offset += Int64(inFlight)
                                var offsets: [TopicPartition: Int64] = [:]
                                for partition in owned { offsets[partition] = offset }
                                guard !offsets.isEmpty else { break }
                                let sent = monotonicSeconds()
                                try await consumer.commit(offsets)
                                await latencies.record(seconds: monotonicSeconds() - sent)
                                commits += 1
                            }
                            return commits
                        }
                    }
                }
                return try await tasks.reduce(0, +)
            }
            let elapsed = monotonicSeconds() - start
            let cpu = processCPUSeconds() - cpuStart
            for consumer in consumers { await consumer.close() }
            let histogram = await latencies.histogram
            func percentile(_ value: Double) -> Double { Double(histogram.valueAtPercentile(value)) / 1000 }
            print(
                String(
                    format: "%d commits from %d members (%d in flight each) in %.1f s: %.1f commits/sec, "
                        + "%.2f ms avg latency, %.2f ms 50th, %.2f ms 99th, %.2f ms 99.9th; "
                        + "group joined in %.2f s; client CPU %.2f s",
                    total, members, inFlight, elapsed, Double(total) / elapsed, histogram.mean / 1000, percentile(50),
                    percentile(99), percentile(99.9), joined, cpu))
        }
    }
}

/// `strata perf rebalance`: how long a group of --members started together takes until every
/// member owns its share (from the first JoinGroup to the last assignment).
struct RebalancePerf: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebalance",
        abstract: "Measure how long --members consumers started together take to get their assignments.")

    @OptionGroup var client: ClientOptions
    @Option(help: "Topic (created with --partitions if missing).") var topic = "perf-rebalance"
    @Option(help: "Partitions of a created topic.") var partitions: Int32 = 4
    @Option(help: "Members.") var members = 4

    func run() async throws {
        try await runClient {
            try await withAdmin(client) { admin in
                if (try? await admin.describeTopics([topic])) == nil {
                    try await admin.createTopic(topic, partitions: partitions)
                }
            }
            let start = monotonicSeconds()
            let consumers = try await startMembers(
                client, topic: topic, group: "perf-rebalance-\(UUID().uuidString.prefix(8))",
                count: members, clientId: "strata-perf-rebalance")
            let elapsed = monotonicSeconds() - start
            for consumer in consumers { await consumer.close() }
            print(String(format: "%d members assigned in %.3f s", members, elapsed))
        }
    }
}

/// Starts `count` members of `group` subscribed to `topic` at once; returns when every partition
/// is owned by exactly one of them (one stable generation). At most 120 s.
func startMembers(
    _ client: ClientOptions, topic: String, group: String, count: Int, clientId: String
) async throws -> [StrataConsumer] {
    let bootstrap = client.addresses
    let partitions = try await withAdmin(client) { try await $0.describeTopics([topic]).first?.partitions.count ?? 0 }
    var config = ConsumerConfig()
    config.clientId = clientId
    config.enableAutoCommit = false
    config.heartbeatIntervalMilliseconds = 500
    let consumers = try await withThrowingTaskGroup(of: StrataConsumer.self) { tasks in
        for _ in 0..<count {
            tasks.addTask { [config] in
                let consumer = try await StrataConsumer(bootstrap: bootstrap, config: config)
                try consumer.subscribe(topics: [topic], group: group)
                return consumer
            }
        }
        return try await tasks.reduce(into: []) { $0.append($1) }
    }
    let deadline = monotonicSeconds() + 120
    while true {
        let owned = consumers.map(\.assignment)
        let all = owned.flatMap { $0 }
        let settled = owned.allSatisfy { !$0.isEmpty || count > partitions }
        if all.count == partitions && Set(all).count == partitions && settled { return consumers }
        guard monotonicSeconds() < deadline else {
            for consumer in consumers { await consumer.close() }
            throw ClientError.timedOut(api: "group join", milliseconds: 120_000)
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

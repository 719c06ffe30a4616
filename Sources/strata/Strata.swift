import ArgumentParser

/// `strata`: the Kafka-compatible commit log server and its tools.
@main
struct Strata: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "A Kafka-compatible partitioned commit log.",
        discussion: """
            Client subcommands take --bootstrap HOST:PORT (default localhost:9092). Exit status: 0 success,
            1 a request failed (broker error, unknown topic, bad data), 3 no broker reachable, 64 bad flags.
            """,
        subcommands: [Serve.self, Topics.self, Produce.self, Consume.self, Groups.self, Perf.self],
        defaultSubcommand: nil
    )
}

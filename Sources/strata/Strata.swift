import ArgumentParser

/// `strata`: the Kafka-compatible commit log server and its tools.
@main
struct Strata: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "A Kafka-compatible partitioned commit log.",
        subcommands: [Serve.self],
        defaultSubcommand: nil
    )
}

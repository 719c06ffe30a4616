import ArgumentParser
import Foundation
import StrataClient

/// `strata topics …`: create, list, describe, alter and delete topics.
struct Topics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, describe, alter and delete topics.",
        subcommands: [Create.self, List.self, Describe.self, Alter.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a topic.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Topic name.") var topic: String
        @Option(help: "Partitions (default: the broker's num.partitions).") var partitions: Int32 = -1
        @Option(name: .customLong("config"), help: "A topic config key=value (repeatable).")
        var configs: [String] = []

        func run() async throws {
            let configs = try keyValues(configs, option: "--config")
            try await runClient {
                try await withAdmin(client) { admin in
                    try await admin.createTopic(topic, partitions: partitions, configs: configs)
                    print("created topic \(topic)")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List topics, one per line.")
        @OptionGroup var client: ClientOptions
        @Flag(name: .customLong("internal"), help: "Include internal topics (__consumer_offsets).")
        var includeInternal = false

        func run() async throws {
            try await runClient {
                try await withAdmin(client) { admin in
                    for topic in try await admin.listTopics(includeInternal: includeInternal) { print(topic.name) }
                }
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a topic's partitions, offsets and configs (overrides marked).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Topic name.") var topic: String

        func run() async throws {
            try await runClient {
                try await withAdmin(client) { admin in
                    guard let description = try await admin.describeTopics([topic]).first else {
                        throw ClientError.unknownTopic(topic)
                    }
                    let earliest = try await admin.listOffsets(topic, .earliest)
                    let latest = try await admin.listOffsets(topic, .latest)
                    print("Topic: \(topic)\tPartitions: \(description.partitions.count)")
                    for partition in description.partitions {
                        let start = (earliest[partition.partition] ?? nil).map(String.init) ?? "-"
                        let end = (latest[partition.partition] ?? nil).map(String.init) ?? "-"
                        print(
                            "\tPartition: \(partition.partition)\tLeader: \(partition.leader)\t"
                                + "LogStartOffset: \(start)\tLogEndOffset: \(end)")
                    }
                    print("Configs:")
                    for entry in try await admin.describeTopicConfigs(topic) {
                        let marker =
                            switch entry.source {
                            case .topic: " (topic override)"
                            case .defaultValue: ""
                            case .other(let code): " (source \(code))"
                            }
                        print("\t\(entry.name)=\(entry.value ?? "null")\(marker)")
                    }
                }
            }
        }
    }

    struct Alter: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change topic configs: --set k=v overrides, --delete k returns to the default; others stay.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Topic name.") var topic: String
        @Option(name: .customLong("set"), help: "A config key=value to set (repeatable).") var settings: [String] = []
        @Option(name: .customLong("delete"), help: "A config key to reset to its default (repeatable).")
        var deletions: [String] = []

        func validate() throws {
            if settings.isEmpty && deletions.isEmpty { throw ValidationError("give at least one --set or --delete") }
        }

        func run() async throws {
            let changes = try keyValues(settings, option: "--set")
            try await runClient {
                try await withAdmin(client) { admin in
                    try await admin.alterTopicConfigs(topic, set: changes, delete: deletions)
                    print("altered topic \(topic)")
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete topics.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Topic names.") var topics: [String]

        func run() async throws {
            try await runClient {
                try await withAdmin(client) { admin in
                    try await admin.deleteTopics(topics)
                    for topic in topics { print("deleted topic \(topic)") }
                }
            }
        }
    }
}

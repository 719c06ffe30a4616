import ArgumentParser
import Foundation
import StrataClient

/// `strata groups …`: list, describe (members, assignments, committed offsets and lag) and
/// delete consumer groups.
struct Groups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, describe and delete consumer groups.",
        subcommands: [List.self, Describe.self, Delete.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List groups, one per line.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await runClient {
                try await withAdmin(client) { admin in
                    for group in try await admin.listGroups() { print(group.groupId) }
                }
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a group's state, members with their partitions, and per partition the committed "
                + "offset, log end offset and lag.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Group id.") var group: String

        func run() async throws {
            try await runClient {
                try await withAdmin(client) { admin in
                    let description = try await admin.describeGroup(group)
                    let lags = try await admin.groupLag(group, description: description)
                    if description.state == "Dead" && lags.isEmpty {
                        throw ClientError.broker(
                            api: "DescribeGroups", topic: nil, partition: nil, code: 69,
                            name: "GROUP_ID_NOT_FOUND: unknown group \(group)")
                    }
                    let assignor = description.protocolName.isEmpty ? "-" : description.protocolName
                    let type = description.protocolType.isEmpty ? "-" : description.protocolType
                    print(
                        "Group: \(group)\tState: \(description.state)\tProtocolType: \(type)\t"
                            + "Assignor: \(assignor)\tMembers: \(description.members.count)")
                    for member in description.members.sorted(by: { $0.memberId < $1.memberId }) {
                        let partitions = member.assignment.map(\.description).joined(separator: ",")
                        print(
                            "\tMember: \(member.memberId)\tClientId: \(member.clientId)\tHost: \(member.clientHost)\t"
                                + "Partitions: \(partitions.isEmpty ? "-" : partitions)")
                    }
                    print("Offsets:")
                    for lag in lags {
                        let committed = lag.committedOffset.map(String.init) ?? "-"
                        let end = lag.logEndOffset.map(String.init) ?? "-"
                        print(
                            "\tTopic: \(lag.partition.topic)\tPartition: \(lag.partition.partition)\t"
                                + "CommittedOffset: \(committed)\tLogEndOffset: \(end)\t"
                                + "Lag: \(lag.lag.map(String.init) ?? "-")\tMember: \(lag.memberId ?? "-")")
                    }
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete groups that have no members.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "Group ids.") var groups: [String]

        func run() async throws {
            try await runClient {
                try await withAdmin(client) { admin in
                    try await admin.deleteGroups(groups)
                    for group in groups { print("deleted group \(group)") }
                }
            }
        }
    }
}

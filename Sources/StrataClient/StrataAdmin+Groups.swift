import NIOCore
import StrataProtocol

/// A consumer group as ListGroups reports it.
public struct GroupListing: Sendable, Equatable {
    public var groupId: String
    /// "consumer" for Kafka consumers; empty for groups that only hold committed offsets.
    public var protocolType: String
}

/// A group as DescribeGroups reports it, with each member's assignment decoded (for groups of
/// protocol type "consumer").
public struct GroupDescription: Sendable, Equatable {
    /// One member of the group.
    public struct Member: Sendable, Equatable {
        public var memberId: String
        public var groupInstanceId: String?
        public var clientId: String
        /// The member's address as the coordinator sees it (`/IP`).
        public var clientHost: String
        public var assignment: [TopicPartition]
    }

    public var groupId: String
    /// Empty, PreparingRebalance, CompletingRebalance, Stable or Dead (unknown group).
    public var state: String
    public var protocolType: String
    /// The chosen assignor (e.g. "range").
    public var protocolName: String
    public var members: [Member]
}

/// A partition's committed offset against its log end: what `strata groups describe` shows.
public struct GroupPartitionLag: Sendable, Equatable {
    public var partition: TopicPartition
    /// nil: nothing committed.
    public var committedOffset: Int64?
    public var logEndOffset: Int64?
    /// Log end minus committed (the whole log end when nothing is committed); nil when unknown.
    public var lag: Int64?
    /// The member owning the partition now, if any.
    public var memberId: String?
}

extension StrataAdmin {
    /// The connection to `group`'s coordinator.
    private func coordinator(of group: String) async throws -> BrokerConnection {
        let response = try await cluster.anyConnection().send(FindCoordinatorRequest(key: group))
        guard response.errorCode == .noError else { throw ClientError.broker(.findCoordinator, response.errorCode) }
        return try await cluster.connection(to: response.nodeId)
    }

    /// Every group the broker coordinates, sorted by id.
    public func listGroups() async throws -> [GroupListing] {
        let response = try await cluster.anyConnection().send(ListGroupsRequest())
        guard response.errorCode == .noError else { throw ClientError.broker(.listGroups, response.errorCode) }
        return response.groups.map { GroupListing(groupId: $0.groupId, protocolType: $0.protocolType) }
            .sorted { $0.groupId < $1.groupId }
    }

    /// Describes one group; an unknown group has state "Dead" and no members.
    public func describeGroup(_ group: String) async throws -> GroupDescription {
        let response = try await coordinator(of: group).send(DescribeGroupsRequest(groups: [group]))
        guard let described = response.groups.first else {
            throw ClientError.protocolViolation(broker: "coordinator", reason: "DescribeGroups answer without group")
        }
        guard described.errorCode == .noError || described.errorCode == .groupIdNotFound else {
            throw ClientError.broker(.describeGroups, described.errorCode)
        }
        let consumer = described.protocolType == ConsumerProtocol.protocolType
        return GroupDescription(
            groupId: group, state: described.errorCode == .groupIdNotFound ? "Dead" : described.groupState,
            protocolType: described.protocolType, protocolName: described.protocolData,
            members: described.members.map { member in
                GroupDescription.Member(
                    memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId,
                    clientHost: member.clientHost,
                    assignment: consumer ? (try? ConsumerProtocol.decodeAssignment(member.memberAssignment)) ?? [] : [])
            })
    }

    /// The committed offsets of `group` (every topic it committed for).
    public func listGroupOffsets(_ group: String) async throws -> [TopicPartition: Int64] {
        let response = try await coordinator(of: group).send(OffsetFetchRequest(groupId: group, topics: nil))
        guard response.errorCode == .noError else { throw ClientError.broker(.offsetFetch, response.errorCode) }
        var result: [TopicPartition: Int64] = [:]
        for topic in response.topics {
            for partition in topic.partitions where partition.errorCode == .noError && partition.committedOffset >= 0 {
                result[TopicPartition(topic: topic.name, partition: partition.partitionIndex)] =
                    partition.committedOffset
            }
        }
        return result
    }

    /// Per partition the group committed for or owns now: committed offset, log end offset, lag
    /// and owner, sorted by topic and partition.
    public func groupLag(_ group: String, description: GroupDescription? = nil) async throws -> [GroupPartitionLag] {
        let described: GroupDescription
        if let description { described = description } else { described = try await describeGroup(group) }
        let committed = try await listGroupOffsets(group)
        var owner: [TopicPartition: String] = [:]
        for member in described.members {
            for partition in member.assignment { owner[partition] = member.memberId }
        }
        let partitions = Set(committed.keys).union(owner.keys).sorted()
        var ends: [String: [Int32: Int64?]] = [:]
        for topic in Set(partitions.map(\.topic)) { ends[topic] = (try? await listOffsets(topic, .latest)) ?? [:] }
        return partitions.map { partition in
            let end = ends[partition.topic]?[partition.partition] ?? nil
            let done = committed[partition]
            let lag = end.map { max(0, $0 - (done ?? 0)) }
            return GroupPartitionLag(
                partition: partition, committedOffset: done, logEndOffset: end, lag: lag, memberId: owner[partition])
        }
    }

    /// Deletes groups with no members (their committed offsets too).
    public func deleteGroups(_ groups: [String]) async throws {
        for group in groups {
            let response = try await coordinator(of: group).send(DeleteGroupsRequest(groupNames: [group]))
            for result in response.results where result.errorCode != .noError {
                throw ClientError.broker(.deleteGroups, result.errorCode)
            }
        }
    }
}

import NIOCore
import StrataProtocol
import StrataStorage

/// Committed offsets, descriptions and the records that persist a group.
extension ClassicGroup {
    /// Kafka's `ClassicGroup.validateOffsetCommit`: generation < 0 with no member (admin tools,
    /// consumers without group management) commits only while the group is Empty; otherwise member
    /// and generation must match, and CompletingRebalance answers REBALANCE_IN_PROGRESS.
    func validateOffsetCommit(
        generationId generation: Int32, memberId: String, groupInstanceId: String?
    )
        -> KafkaErrorCode
    {
        if state == .dead { return .coordinatorNotAvailable }
        if generation < 0 && state == .empty { return .noError }
        if generation >= 0 || !memberId.isEmpty || groupInstanceId != nil {
            if let code = validateMember(memberId, instance: groupInstanceId) { return code }
            guard generation == generationId else { return .illegalGeneration }
        } else if state != .empty {
            return .unknownMemberId
        }
        if state == .completingRebalance { return .rebalanceInProgress }
        return .noError
    }

    /// Records commits already written to `__consumer_offsets` (last write wins).
    mutating func applyCommittedOffsets(_ commits: [(TopicPartition, CommittedOffset)]) {
        for (partition, committed) in commits { offsets[partition] = committed }
    }

    /// The partitions whose offsets are expired at `now` (KIP-211): an explicit expire timestamp
    /// wins; otherwise offsets of a consumer group expire `retention` after it became Empty, offsets
    /// of a group without a protocol type (simple consumers) `retention` after their commit. Offsets
    /// of groups with members never expire.
    func expiredOffsets(now: Int64, retentionMilliseconds: Int64) -> [TopicPartition] {
        guard state == .empty else { return [] }
        return offsets.filter { _, committed in
            if let expire = committed.expireTimestamp { return now >= expire }
            let base = protocolType == nil ? committed.commitTimestamp : currentStateTimestamp
            return now - base >= retentionMilliseconds
        }.map(\.key).sorted()
    }

    /// Forgets offsets that were tombstoned.
    mutating func removeOffsets(_ partitions: [TopicPartition]) {
        for partition in partitions { offsets[partition] = nil }
    }

    /// An empty group with no committed offset left is deleted.
    var isDeletable: Bool { state == .empty && hasNoMembers && offsets.isEmpty }

    /// DescribeGroups entry. Metadata and assignments only when Stable (as Kafka).
    func describe() -> DescribeGroupsResponse.DescribedGroup {
        let stable = state == .stable
        let described = members.map { member in
            DescribeGroupsResponse.Member(
                memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId,
                clientHost: member.clientHost,
                memberMetadata: stable ? member.metadata(for: protocolName) : ByteBuffer(),
                memberAssignment: stable ? member.assignment : ByteBuffer())
        }
        return DescribeGroupsResponse.DescribedGroup(
            groupId: groupId, groupState: state.rawValue, protocolType: protocolType ?? "",
            protocolData: stable ? protocolName ?? "" : "", members: described)
    }

    /// The GroupMetadataValue (written at version 3) describing the current generation.
    func metadataValue() -> GroupMetadataValue {
        GroupMetadataValue(
            protocolType: protocolType ?? "", generation: generationId, protocolName: protocolName,
            leader: leaderId, currentStateTimestamp: currentStateTimestamp,
            members: members.map { member in
                GroupMetadataValue.Member(
                    memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId,
                    clientHost: member.clientHost, rebalanceTimeout: member.rebalanceTimeoutMilliseconds,
                    sessionTimeout: member.sessionTimeoutMilliseconds,
                    subscription: member.metadata(for: protocolName), assignment: member.assignment)
            })
    }

    /// A group rebuilt from `__consumer_offsets` at startup: Empty, or Stable with the members of the
    /// last generation (whose sessions restart at `now`, so members that do not return expire).
    init(
        groupId: String, config: GroupCoordinatorConfig, loaded metadata: GroupMetadataValue?,
        offsets: [TopicPartition: CommittedOffset], now: Int64
    ) {
        self.init(groupId: groupId, config: config, now: now)
        self.offsets = offsets
        guard let metadata else { return }
        restore(metadata, now: now)
    }
}

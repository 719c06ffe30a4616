import NIOCore
import StrataProtocol

/// Identifies a JoinGroup or SyncGroup request whose answer may be held across a rebalance. The
/// owner (`GroupCoordinator`) hands one out per request and keeps the request's continuation under it.
struct HeldRequest: Hashable, Sendable, CustomStringConvertible {
    let id: UInt64
    var description: String { "#\(id)" }
}

/// A side effect a `ClassicGroup` asks its owner to perform, in order.
enum GroupAction: Equatable, Sendable {
    /// Answer a JoinGroup (possibly one held since an earlier call).
    case respondJoin(HeldRequest, JoinGroupResponse)
    /// Answer a SyncGroup (possibly one held since an earlier call).
    case respondSync(HeldRequest, SyncGroupResponse)
    /// Append the group's metadata record to `__consumer_offsets`. Answers listed after it in the
    /// same batch must wait until the record is durable.
    case writeGroupMetadata(GroupMetadataValue)
}

/// One member of a classic group as the coordinator tracks it.
struct GroupMember: Equatable, Sendable {
    var memberId: String
    var groupInstanceId: String?
    var clientId: String
    var clientHost: String
    var sessionTimeoutMilliseconds: Int32
    var rebalanceTimeoutMilliseconds: Int32
    var protocolType: String
    /// Supported assignors in preference order, each with its subscription metadata.
    var protocols: [JoinGroupRequest.GroupProtocol]
    /// What the leader assigned this member in the current generation.
    var assignment = ByteBuffer()
    /// The member's JoinGroup held until the join phase completes.
    var heldJoin: HeldRequest?
    /// The member's SyncGroup held until the leader sends the assignments.
    var heldSync: HeldRequest?
    var lastHeartbeatMilliseconds: Int64

    /// The subscription metadata the member sent for `protocolName` (empty if it does not support it).
    func metadata(for protocolName: String?) -> ByteBuffer {
        protocols.first { $0.name == protocolName }?.metadata ?? ByteBuffer()
    }

    /// A member awaiting a join or sync answer is kept alive (it cannot heartbeat meanwhile).
    var isAwaitingAnswer: Bool { heldJoin != nil || heldSync != nil }

    /// When its session expires unless it heartbeats (nil while awaiting an answer).
    var sessionDeadline: Int64? {
        isAwaitingAnswer ? nil : lastHeartbeatMilliseconds + Int64(sessionTimeoutMilliseconds)
    }
}

/// A position committed by a group for one partition (the value of an OffsetCommit record).
struct CommittedOffset: Equatable, Sendable {
    var offset: Int64
    var leaderEpoch: Int32 = -1
    var metadata = ""
    var commitTimestamp: Int64
    /// Set only by OffsetCommit v2–v4 with an explicit retention time.
    var expireTimestamp: Int64?
}

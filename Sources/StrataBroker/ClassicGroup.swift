import NIOCore
import StrataProtocol
import StrataStorage

/// The state machine of one classic consumer group (Kafka's `ClassicGroup` plus the classic parts of
/// `GroupMetadataManager`): pure logic, no I/O, no clock. Every mutating method takes `now` (epoch
/// milliseconds) and returns the `GroupAction`s its owner must perform; after each call the owner
/// arms a timer for `nextDeadline` and calls `expire(now:)` when it fires.
///
/// Owner: `GroupCoordinator`, which keeps each group inside the lock of its `__consumer_offsets`
/// partition. Value type: tests drive it directly.
///
/// States and legal transitions:
///
/// | from | to | when |
/// |---|---|---|
/// | Empty | PreparingRebalance | a member joins (the first time, after `group.initial.rebalance.delay.ms`) |
/// | PreparingRebalance | CompletingRebalance | every known member rejoined, or the rebalance timeout |
/// | PreparingRebalance | Empty | the join phase ends with no member left |
/// | CompletingRebalance | Stable | the leader's SyncGroup brings the assignments |
/// | CompletingRebalance | PreparingRebalance | a member joins, leaves, changes protocols or expires |
/// | Stable | PreparingRebalance | a member joins, leaves, the leader rejoins, or a session expires |
/// | Empty | Dead | DeleteGroups, or its last offset expired |
///
/// Dead is terminal: the owner drops the value. Static members (`group.instance.id`, KIP-345) skip
/// MEMBER_ID_REQUIRED; one that rejoins with an empty member id takes its old place (and assignment)
/// under a new id, without a rebalance when the group is Stable and the chosen assignor stays the
/// same; the old id is then fenced (FENCED_INSTANCE_ID). Static members that miss a rebalance keep
/// their place until their session expires.
struct ClassicGroup: Equatable, Sendable {
    /// Kafka's group states; the raw values are what DescribeGroups reports.
    enum State: String, Sendable {
        case empty = "Empty"
        case preparingRebalance = "PreparingRebalance"
        case completingRebalance = "CompletingRebalance"
        case stable = "Stable"
        case dead = "Dead"
    }

    /// The initial-rebalance delay in progress: when it may stretch to at most, and when a member
    /// last joined during it.
    ///
    /// Kafka extends the delay by another `group.initial.rebalance.delay.ms` whenever any member
    /// joined during the window, so members started together wait two windows. Here a window is
    /// extended only when a member joined in its second half (members are still arriving): a burst
    /// of members started together completes after one window (the "initial delay + 1 s").
    struct InitialDelay: Equatable, Sendable {
        var cap: Int64
        var lastJoin: Int64?
    }

    let groupId: String
    var config: GroupCoordinatorConfig
    private(set) var state = State.empty
    private(set) var generationId: Int32 = 0
    /// Set by the first member; kept while the group is empty.
    private(set) var protocolType: String?
    /// The assignor chosen for the current generation.
    private(set) var protocolName: String?
    private(set) var leaderId: String?
    /// Members in join order (bounded by `membersPerGroupMax`).
    private(set) var members: [GroupMember] = []
    /// Ids handed out with MEMBER_ID_REQUIRED, with the time they expire unless used to rejoin.
    private(set) var pendingMembers: [String: Int64] = [:]
    /// Static members (KIP-345): `group.instance.id` → current member id.
    private(set) var staticMembers: [String: String] = [:]
    /// Members of the current generation that have not sent SyncGroup yet.
    private(set) var pendingSyncMembers: Set<String> = []
    /// End of the join phase (PreparingRebalance only).
    private(set) var joinDeadline: Int64?
    /// Members still in `pendingSyncMembers` at this time are removed.
    private(set) var syncDeadline: Int64?
    private(set) var initialDelay: InitialDelay?
    /// When the group last changed state (offsets of an empty group expire counted from here).
    private(set) var currentStateTimestamp: Int64
    /// Committed positions.
    var offsets: [TopicPartition: CommittedOffset] = [:]

    init(groupId: String, config: GroupCoordinatorConfig, now: Int64) {
        self.groupId = groupId
        self.config = config
        currentStateTimestamp = now
    }

    func member(_ memberId: String) -> GroupMember? { members.first { $0.memberId == memberId } }

    private func index(of memberId: String) -> Int? { members.firstIndex { $0.memberId == memberId } }

    /// Whether the group has neither members nor members confirming their id.
    var hasNoMembers: Bool { members.isEmpty && pendingMembers.isEmpty }

    /// The earliest time `expire(now:)` has something to do, if any.
    var nextDeadline: Int64? {
        var deadlines = Array(pendingMembers.values) + members.compactMap(\.sessionDeadline)
        if state == .preparingRebalance, let joinDeadline { deadlines.append(joinDeadline) }
        if !pendingSyncMembers.isEmpty, let syncDeadline { deadlines.append(syncDeadline) }
        return deadlines.min()
    }

    private var rebalanceTimeoutMilliseconds: Int64 {
        Int64(members.map(\.rebalanceTimeoutMilliseconds).max() ?? 0)
    }

    private mutating func transition(to next: State, now: Int64) {
        state = next
        currentStateTimestamp = now
    }

    // MARK: Join phase

    /// Kafka's `supportsProtocols`: an empty group takes any non-empty protocol list; otherwise the
    /// type must match and one of the member's assignors must be supported by every member.
    func supportsProtocols(type: String, _ protocols: [JoinGroupRequest.GroupProtocol]) -> Bool {
        guard !type.isEmpty, !protocols.isEmpty else { return false }
        if state == .empty { return true }
        guard protocolType == type else { return false }
        return protocols.contains { candidate in
            members.allSatisfy { member in member.protocols.contains { $0.name == candidate.name } }
        }
    }

    /// The assignor supported by every member that most members list first (ties: the leader's order).
    func selectProtocol() -> String? {
        let candidates =
            (member(leaderId ?? "") ?? members.first)?.protocols.map(\.name).filter { name in
                members.allSatisfy { member in member.protocols.contains { $0.name == name } }
            } ?? []
        var votes: [String: Int] = [:]
        for member in members {
            if let vote = member.protocols.first(where: { candidates.contains($0.name) }) {
                votes[vote.name, default: 0] += 1
            }
        }
        var best: String?
        for name in candidates where best == nil || votes[name, default: 0] > votes[best!, default: 0] {
            best = name
        }
        return best
    }

    /// Moves to PreparingRebalance: held SyncGroups are answered REBALANCE_IN_PROGRESS and the join
    /// phase gets its deadline (the initial delay when the group was empty).
    private mutating func prepareRebalance(now: Int64, _ actions: inout [GroupAction]) {
        if state == .completingRebalance || state == .stable {
            for index in members.indices {
                if let held = members[index].heldSync {
                    actions.append(
                        .respondSync(
                            held,
                            SyncGroupResponse(
                                errorCode: .rebalanceInProgress,
                                assignment: ByteBuffer())))
                    members[index].heldSync = nil
                }
                if state == .completingRebalance { members[index].assignment = ByteBuffer() }
            }
        }
        pendingSyncMembers = []
        syncDeadline = nil
        let delay = config.initialRebalanceDelayMilliseconds
        if state == .empty && delay > 0 {
            joinDeadline = now + delay
            initialDelay = InitialDelay(cap: now + max(delay, rebalanceTimeoutMilliseconds), lastJoin: nil)
        } else {
            joinDeadline = now + rebalanceTimeoutMilliseconds
            initialDelay = nil
        }
        transition(to: .preparingRebalance, now: now)
    }

    private var allMembersJoined: Bool {
        pendingMembers.isEmpty && members.allSatisfy { $0.heldJoin != nil }
    }

    /// Completes the join phase once every known member rejoined (never during the initial delay).
    private mutating func tryCompleteJoin(now: Int64, _ actions: inout [GroupAction]) {
        if state == .preparingRebalance && initialDelay == nil && allMembersJoined {
            completeJoin(now: now, &actions)
        }
    }

    /// Ends the join phase: drops members that did not rejoin, starts the next generation and answers
    /// every held JoinGroup (the leader's answer lists the members with their metadata).
    private mutating func completeJoin(now: Int64, _ actions: inout [GroupAction]) {
        // Dynamic members that did not rejoin are dropped; static ones keep their place until their
        // session expires (KIP-345).
        for member in members where member.heldJoin == nil && member.groupInstanceId == nil {
            dropMember(member.memberId)
        }
        joinDeadline = nil
        initialDelay = nil
        if let leaderId, member(leaderId) == nil { self.leaderId = nil }
        if leaderId == nil { leaderId = members.first?.memberId }
        generationId += 1
        if members.isEmpty {
            protocolName = nil
            leaderId = nil
            transition(to: .empty, now: now)
            actions.append(.writeGroupMetadata(metadataValue()))
            return
        }
        protocolName = selectProtocol()
        transition(to: .completingRebalance, now: now)
        syncDeadline = now + rebalanceTimeoutMilliseconds
        pendingSyncMembers = Set(members.map(\.memberId))
        let everyone = members.map { member in
            JoinGroupResponse.Member(
                memberId: member.memberId, groupInstanceId: member.groupInstanceId,
                metadata: member.metadata(for: protocolName))
        }
        for index in members.indices {
            guard let held = members[index].heldJoin else { continue }
            actions.append(.respondJoin(held, joinAnswer(for: members[index].memberId, all: everyone)))
            members[index].heldJoin = nil
            members[index].lastHeartbeatMilliseconds = now
        }
    }

    /// The JoinGroup answer of the current generation for `memberId` (members listed for the leader).
    private func joinAnswer(for memberId: String, all: [JoinGroupResponse.Member]? = nil) -> JoinGroupResponse {
        let list =
            all
            ?? members.map { member in
                JoinGroupResponse.Member(
                    memberId: member.memberId, groupInstanceId: member.groupInstanceId,
                    metadata: member.metadata(for: protocolName))
            }
        return JoinGroupResponse(
            generationId: generationId, protocolName: protocolName ?? "",
            leader: leaderId ?? "", memberId: memberId,
            members: memberId == leaderId ? list : [])
    }

    /// The inputs of one JoinGroup besides the request body.
    struct JoinContext: Sendable {
        var held: HeldRequest
        var version: Int16
        var clientId: String
        var clientHost: String
        /// The id to give a member joining with an empty member id.
        var newMemberId: String
        var now: Int64
    }

    /// JoinGroup. Answers at once on errors, on MEMBER_ID_REQUIRED (v4+ first joins), and when a
    /// follower rejoins unchanged; otherwise holds the answer until the join phase completes.
    mutating func join(_ request: JoinGroupRequest, _ context: JoinContext) -> [GroupAction] {
        var actions: [GroupAction] = []
        let now = context.now
        func reject(_ code: KafkaErrorCode, memberId: String = request.memberId) -> [GroupAction] {
            [
                .respondJoin(
                    context.held,
                    JoinGroupResponse(
                        errorCode: code, generationId: -1, protocolName: "",
                        leader: "", memberId: memberId))
            ]
        }
        guard !groupId.isEmpty else { return reject(.invalidGroupId) }
        guard state != .dead else { return reject(.coordinatorNotAvailable) }
        let session = request.sessionTimeoutMs
        guard session >= config.sessionTimeoutMillisecondsMin && session <= config.sessionTimeoutMillisecondsMax else {
            return reject(.invalidSessionTimeout)
        }
        guard supportsProtocols(type: request.protocolType, request.protocols) else {
            return reject(.inconsistentGroupProtocol)
        }
        var member = GroupMember(
            memberId: request.memberId, groupInstanceId: request.groupInstanceId,
            clientId: context.clientId, clientHost: context.clientHost,
            sessionTimeoutMilliseconds: session,
            rebalanceTimeoutMilliseconds: request.rebalanceTimeoutMs > 0
                ? request.rebalanceTimeoutMs : session,
            protocolType: request.protocolType, protocols: request.protocols,
            heldJoin: context.held, lastHeartbeatMilliseconds: now)
        if request.memberId.isEmpty {
            member.memberId = context.newMemberId
            if let instance = request.groupInstanceId, let previous = staticMembers[instance] {
                replaceStaticMember(previous, with: member, now: now, &actions)
                tryCompleteJoin(now: now, &actions)
                return actions
            }
            guard members.count + pendingMembers.count < config.membersPerGroupMax else {
                return reject(.groupMaxSizeReached, memberId: "")
            }
            if context.version >= 4 && request.groupInstanceId == nil {
                // KIP-394: hand out the id and expect a rejoin with it within the session timeout.
                pendingMembers[member.memberId] = now + Int64(session)
                return reject(.memberIdRequired, memberId: member.memberId)
            }
            addMember(member, now: now, &actions)
        } else if pendingMembers.removeValue(forKey: request.memberId) != nil {
            addMember(member, now: now, &actions)
        } else if let code = validateMember(request.memberId, instance: request.groupInstanceId) {
            return reject(code)
        } else if let index = index(of: request.memberId) {
            let unchanged = members[index].protocols == request.protocols
            switch state {
            case .completingRebalance where unchanged, .stable where unchanged && request.memberId != leaderId:
                // Nothing changed: answer with the current generation so the member can SyncGroup.
                members[index].lastHeartbeatMilliseconds = now
                actions.append(.respondJoin(context.held, joinAnswer(for: request.memberId)))
                return actions
            case .preparingRebalance, .completingRebalance, .stable:
                if let previous = members[index].heldJoin {
                    actions.append(
                        .respondJoin(
                            previous,
                            JoinGroupResponse(
                                errorCode: .rebalanceInProgress, generationId: -1, protocolName: "", leader: "",
                                memberId: request.memberId)))
                }
                member.assignment = members[index].assignment
                members[index] = member
                if state != .preparingRebalance { prepareRebalance(now: now, &actions) }
            case .empty, .dead:
                return reject(.unknownMemberId)
            }
        } else {
            return reject(.unknownMemberId)
        }
        tryCompleteJoin(now: now, &actions)
        return actions
    }

    private mutating func addMember(_ member: GroupMember, now: Int64, _ actions: inout [GroupAction]) {
        if members.isEmpty { protocolType = member.protocolType }
        if leaderId == nil || self.member(leaderId!) == nil { leaderId = member.memberId }
        members.append(member)
        if let instance = member.groupInstanceId { staticMembers[instance] = member.memberId }
        initialDelay?.lastJoin = now
        if state != .preparingRebalance { prepareRebalance(now: now, &actions) }
    }

    // MARK: Sync, heartbeat, leave

    /// SyncGroup. The leader's request carries every assignment: the group becomes Stable, its
    /// metadata is written, then every held SyncGroup is answered. Followers arriving before the
    /// leader are held.
    mutating func sync(_ request: SyncGroupRequest, held: HeldRequest, now: Int64) -> [GroupAction] {
        func reject(_ code: KafkaErrorCode) -> [GroupAction] {
            [.respondSync(held, SyncGroupResponse(errorCode: code, assignment: ByteBuffer()))]
        }
        guard !groupId.isEmpty else { return reject(.invalidGroupId) }
        guard state != .dead else { return reject(.coordinatorNotAvailable) }
        if let code = validateMember(request.memberId, instance: request.groupInstanceId) { return reject(code) }
        guard let index = index(of: request.memberId) else { return reject(.unknownMemberId) }
        guard request.generationId == generationId else { return reject(.illegalGeneration) }
        switch state {
        case .empty, .dead:
            return reject(.unknownMemberId)
        case .preparingRebalance:
            return reject(.rebalanceInProgress)
        case .stable:
            markSynced(request.memberId)
            members[index].lastHeartbeatMilliseconds = now
            return [.respondSync(held, SyncGroupResponse(assignment: members[index].assignment))]
        case .completingRebalance:
            var actions: [GroupAction] = []
            if let previous = members[index].heldSync {
                actions.append(
                    .respondSync(
                        previous,
                        SyncGroupResponse(
                            errorCode: .rebalanceInProgress,
                            assignment: ByteBuffer())))
            }
            members[index].heldSync = held
            markSynced(request.memberId)
            guard request.memberId == leaderId else { return actions }
            for position in members.indices {
                let id = members[position].memberId
                members[position].assignment =
                    request.assignments.last { $0.memberId == id }?.assignment
                    ?? ByteBuffer()
            }
            transition(to: .stable, now: now)
            actions.append(.writeGroupMetadata(metadataValue()))
            for position in members.indices {
                guard let waiting = members[position].heldSync else { continue }
                actions.append(.respondSync(waiting, SyncGroupResponse(assignment: members[position].assignment)))
                members[position].heldSync = nil
                members[position].lastHeartbeatMilliseconds = now
            }
            return actions
        }
    }

    private mutating func markSynced(_ memberId: String) {
        pendingSyncMembers.remove(memberId)
        if pendingSyncMembers.isEmpty { syncDeadline = nil }
    }

    /// Heartbeat: keeps the session alive; REBALANCE_IN_PROGRESS tells the member to rejoin.
    mutating func heartbeat(_ request: HeartbeatRequest, now: Int64) -> KafkaErrorCode {
        guard !groupId.isEmpty else { return .invalidGroupId }
        guard state != .dead else { return .coordinatorNotAvailable }
        if let code = validateMember(request.memberId, instance: request.groupInstanceId) { return code }
        guard let index = index(of: request.memberId) else { return .unknownMemberId }
        guard request.generationId == generationId else { return .illegalGeneration }
        switch state {
        case .empty, .dead:
            return .unknownMemberId
        case .preparingRebalance:
            members[index].lastHeartbeatMilliseconds = now
            return .rebalanceInProgress
        case .completingRebalance, .stable:
            members[index].lastHeartbeatMilliseconds = now
            return .noError
        }
    }

    /// LeaveGroup of one member: removes it (or its pending id) and rebalances the rest. A static
    /// member may leave by instance id alone (v3+, empty member id).
    mutating func leave(
        memberId: String, instance: String? = nil, now: Int64, _ actions: inout [GroupAction]
    )
        -> KafkaErrorCode
    {
        guard !groupId.isEmpty else { return .invalidGroupId }
        guard state != .dead else { return .coordinatorNotAvailable }
        if let instance {
            guard let current = staticMembers[instance] else { return .unknownMemberId }
            guard memberId.isEmpty || memberId == current else { return .fencedInstanceId }
            removeMember(current, now: now, &actions)
            return .noError
        }
        if pendingMembers.removeValue(forKey: memberId) != nil {
            tryCompleteJoin(now: now, &actions)
            return .noError
        }
        guard index(of: memberId) != nil else { return .unknownMemberId }
        removeMember(memberId, now: now, &actions)
        return .noError
    }

    /// Removes a member; its held answers get UNKNOWN_MEMBER_ID; the others rebalance.
    private mutating func removeMember(_ memberId: String, now: Int64, _ actions: inout [GroupAction]) {
        guard let removed = dropMember(memberId) else { return }
        if let held = removed.heldJoin {
            actions.append(
                .respondJoin(
                    held,
                    JoinGroupResponse(
                        errorCode: .unknownMemberId, generationId: -1,
                        protocolName: "", leader: "", memberId: memberId)))
        }
        if let held = removed.heldSync {
            actions.append(.respondSync(held, SyncGroupResponse(errorCode: .unknownMemberId, assignment: ByteBuffer())))
        }
        if leaderId == memberId { leaderId = members.first?.memberId }
        switch state {
        case .empty, .dead:
            break
        case .stable, .completingRebalance:
            prepareRebalance(now: now, &actions)
            tryCompleteJoin(now: now, &actions)
        case .preparingRebalance:
            tryCompleteJoin(now: now, &actions)
        }
    }

    /// Removes a member from the lists (members, static ids, pending syncs), nothing else.
    @discardableResult
    private mutating func dropMember(_ memberId: String) -> GroupMember? {
        guard let index = index(of: memberId) else { return nil }
        let removed = members.remove(at: index)
        if let instance = removed.groupInstanceId, staticMembers[instance] == memberId { staticMembers[instance] = nil }
        pendingSyncMembers.remove(memberId)
        return removed
    }

    /// Kafka's `validateMember`: a static instance must map to the given member id
    /// (FENCED_INSTANCE_ID otherwise); a dynamic member must exist. nil when valid.
    func validateMember(_ memberId: String, instance: String?) -> KafkaErrorCode? {
        if let instance {
            guard let current = staticMembers[instance] else { return .unknownMemberId }
            if current != memberId { return .fencedInstanceId }
        }
        return member(memberId) == nil ? .unknownMemberId : nil
    }

    /// A static member restarted (JoinGroup with its instance id and no member id): the new member id
    /// takes the old one's place and assignment; the old one's held answers get FENCED_INSTANCE_ID.
    /// A Stable group whose selected assignor would stay the same does not rebalance (as Kafka): the
    /// new id is persisted and the member gets the current generation (KIP-345).
    private mutating func replaceStaticMember(
        _ previous: String, with replacement: GroupMember, now: Int64,
        _ actions: inout [GroupAction]
    ) {
        guard let index = index(of: previous) else {
            // `staticMembers` only names current members (see `dropMember`); recover by a plain join.
            assertionFailure("static instance maps to unknown member \(previous)")
            addMember(replacement, now: now, &actions)
            return
        }
        let old = members[index]
        if let held = old.heldJoin {
            actions.append(
                .respondJoin(
                    held,
                    JoinGroupResponse(
                        errorCode: .fencedInstanceId, generationId: -1,
                        protocolName: "", leader: "", memberId: previous)))
        }
        if let held = old.heldSync {
            actions.append(
                .respondSync(
                    held,
                    SyncGroupResponse(
                        errorCode: .fencedInstanceId,
                        assignment: ByteBuffer())))
        }
        var member = replacement
        member.assignment = old.assignment
        members[index] = member
        let newId = member.memberId
        if let instance = member.groupInstanceId { staticMembers[instance] = newId }
        if leaderId == previous { leaderId = newId }
        if pendingSyncMembers.remove(previous) != nil { pendingSyncMembers.insert(newId) }
        switch state {
        case .stable where selectProtocol() == protocolName:
            members[index].heldJoin = nil
            actions.append(.writeGroupMetadata(metadataValue()))
            actions.append(.respondJoin(member.heldJoin!, joinAnswer(for: newId)))
        case .stable, .completingRebalance:
            prepareRebalance(now: now, &actions)
        case .preparingRebalance, .empty, .dead:
            break
        }
    }

    // MARK: Timers

    /// Runs whatever is due at `now`: expired member ids and sessions, the end of the join phase
    /// (or another step of the initial delay), members that never sent SyncGroup.
    mutating func expire(now: Int64) -> [GroupAction] {
        var actions: [GroupAction] = []
        for (memberId, deadline) in pendingMembers where deadline <= now {
            pendingMembers[memberId] = nil
        }
        let expired = members.filter { ($0.sessionDeadline ?? .max) <= now }.map(\.memberId)
        for memberId in expired { removeMember(memberId, now: now, &actions) }
        if state == .preparingRebalance, let deadline = joinDeadline, deadline <= now {
            let window = config.initialRebalanceDelayMilliseconds
            if let delay = initialDelay, let last = delay.lastJoin, last > deadline - window / 2, now < delay.cap {
                joinDeadline = min(now + window, delay.cap)
                initialDelay?.lastJoin = nil
            } else {
                completeJoin(now: now, &actions)
            }
        }
        if let deadline = syncDeadline, deadline <= now, !pendingSyncMembers.isEmpty,
            state == .completingRebalance || state == .stable
        {
            for memberId in members.map(\.memberId) where pendingSyncMembers.contains(memberId) {
                removeMember(memberId, now: now, &actions)
            }
        }
        tryCompleteJoin(now: now, &actions)
        return actions
    }

    // MARK: Loading and deletion

    /// Takes over the generation recorded in a GroupMetadataValue (see `init(groupId:config:loaded:…)`).
    mutating func restore(_ metadata: GroupMetadataValue, now: Int64) {
        generationId = metadata.generation
        protocolType = metadata.protocolType.isEmpty ? nil : metadata.protocolType
        currentStateTimestamp = metadata.currentStateTimestamp >= 0 ? metadata.currentStateTimestamp : now
        guard !metadata.members.isEmpty else {
            state = .empty
            return
        }
        protocolName = metadata.protocolName
        leaderId = metadata.leader
        members = metadata.members.map { stored in
            GroupMember(
                memberId: stored.memberId, groupInstanceId: stored.groupInstanceId, clientId: stored.clientId,
                clientHost: stored.clientHost, sessionTimeoutMilliseconds: stored.sessionTimeout,
                rebalanceTimeoutMilliseconds: stored.rebalanceTimeout > 0
                    ? stored.rebalanceTimeout : stored.sessionTimeout,
                protocolType: metadata.protocolType,
                protocols: [.init(name: metadata.protocolName ?? "", metadata: stored.subscription)],
                assignment: stored.assignment, lastHeartbeatMilliseconds: now)
        }
        for member in members {
            if let instance = member.groupInstanceId { staticMembers[instance] = member.memberId }
        }
        if leaderId == nil || member(leaderId!) == nil { leaderId = members.first?.memberId }
        state = .stable
    }

    /// Marks the group Dead (DeleteGroups, or every offset expired). Precondition: no members.
    mutating func markDead(now: Int64) {
        precondition(members.isEmpty, "only an empty group can be deleted")
        pendingMembers = [:]
        offsets = [:]
        transition(to: .dead, now: now)
    }
}

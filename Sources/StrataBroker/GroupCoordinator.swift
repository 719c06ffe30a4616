import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import StrataProtocol
import StrataRecords
import StrataStorage
import Synchronization

/// The owner of every consumer group: performs what the `ClassicGroup` state machines ask (answers,
/// `__consumer_offsets` appends, timers), keeps the continuations of held JoinGroup/SyncGroup
/// requests, replays the offsets topic at startup and expires old offsets.
///
/// Concurrency: a Mutex-guarded class. Groups are sharded by their `__consumer_offsets` partition;
/// each `Shard` is one `Mutex` guarding that partition's groups, held continuations and armed
/// timers. Appends to a partition happen under its shard lock, so the log order is the order in
/// which the state changed; fsyncs (`flush(through:)`) and continuation resumes happen after the
/// lock is released. Timers are `Task`s sleeping until a group's `nextDeadline` (never on an
/// event loop); a timer that fires early or late just re-runs `expire(now:)`, which is idempotent.
///
/// Lifecycle: created with the `Broker`; `startLoading()` replays the offsets topic in the
/// background (requests for a partition still loading get COORDINATOR_LOAD_IN_PROGRESS);
/// `shutDown()` answers held requests with NOT_COORDINATOR and refuses new ones.
public final class GroupCoordinator: Sendable {
    let config: GroupCoordinatorConfig
    let logs: LogManager
    let clock: StorageClock
    let logger: Logger
    /// Partitions of `__consumer_offsets`: the existing topic's count, else the configured one.
    let partitionCount: Int32
    let shards: [Shard]
    private let topicCreation = Mutex(())
    private let requestIds = Atomic<UInt64>(0)
    private let loading = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// The groups of one `__consumer_offsets` partition.
    final class Shard: Sendable {
        let partition: Int32
        let state: Mutex<ShardState>

        init(partition: Int32, loaded: Bool) {
            self.partition = partition
            state = Mutex(ShardState(isLoaded: loaded))
        }
    }

    /// What a shard's `Mutex` guards.
    struct ShardState {
        var isLoaded: Bool
        var isShutDown = false
        var groups: [String: ClassicGroup] = [:]
        var heldJoins: [HeldRequest: CheckedContinuation<JoinGroupResponse, Never>] = [:]
        var heldSyncs: [HeldRequest: CheckedContinuation<SyncGroupResponse, Never>] = [:]
        /// Group → the deadline its armed timer fires at.
        var timers: [String: Int64] = [:]

        /// The error every request gets while the partition is not serving.
        var unavailable: KafkaErrorCode? {
            if isShutDown { return .notCoordinator }
            return isLoaded ? nil : .coordinatorLoadInProgress
        }
    }

    /// A Kafka error code as a Swift error (for `Result`).
    struct CoordinatorFailure: Error, Equatable {
        var code: KafkaErrorCode
    }

    /// What to do once a shard lock is released.
    struct Completion {
        var joins: [(CheckedContinuation<JoinGroupResponse, Never>, JoinGroupResponse)] = []
        var syncs: [(CheckedContinuation<SyncGroupResponse, Never>, SyncGroupResponse)] = []
        /// Answers wait until this offset of this log is durable.
        var durable: (log: PartitionLog, through: Int64)?
        var timer: (group: String, at: Int64)?
    }

    public init(config: GroupCoordinatorConfig, logs: LogManager, logger: Logger) {
        self.config = config
        self.logs = logs
        self.clock = logs.clock
        self.logger = logger
        let existing = logs.topic(OffsetsTopic.name)
        partitionCount = existing?.partitionCount ?? config.offsetsTopicPartitions
        shards = (0..<partitionCount).map { Shard(partition: $0, loaded: existing == nil) }
        if existing == nil { loading.withLock { $0.done = true } }
    }

    func shard(for groupId: String) -> Shard {
        shards[Int(OffsetsTopic.partition(for: groupId, partitions: partitionCount))]
    }

    private func nextHeld() -> HeldRequest {
        HeldRequest(id: requestIds.wrappingAdd(1, ordering: .relaxed).newValue)
    }

    // MARK: Membership

    /// JoinGroup: answered when the join phase completes (or at once for errors and MEMBER_ID_REQUIRED).
    /// When `connectionClosed` completes first, the held request is let go: the member stays in the
    /// group as in Kafka (whose answer would simply not be delivered), but the request no longer pins
    /// its task and buffers until the rebalance ends, which a client-chosen rebalance timeout can put
    /// weeks away (found by protocol fuzzing: memory grew with every abandoned join).
    func join(
        _ request: JoinGroupRequest, version: Int16, clientId: String, clientHost: String,
        connectionClosed: EventLoopFuture<Void>? = nil
    ) async
        -> JoinGroupResponse
    {
        let shard = shard(for: request.groupId)
        let held = nextHeld()
        let prefix = clientId.isEmpty ? "member" : clientId
        let context = ClassicGroup.JoinContext(
            held: held, version: version, clientId: clientId, clientHost: clientHost,
            newMemberId: "\(prefix)-\(UUID().uuidString.lowercased())", now: 0)
        return await withCheckedContinuation { (continuation: CheckedContinuation<JoinGroupResponse, Never>) in
            let completion = shard.state.withLock { state -> Completion in
                if let code = state.unavailable {
                    var completion = Completion()
                    completion.joins.append(
                        (
                            continuation,
                            JoinGroupResponse(
                                errorCode: code, generationId: -1, protocolName: "", leader: "",
                                memberId: request.memberId)
                        ))
                    return completion
                }
                state.heldJoins[held] = continuation
                let now = clock.nowMilliseconds()
                var group =
                    state.groups[request.groupId]
                    ?? ClassicGroup(
                        groupId: request.groupId, config: config,
                        now: now)
                var joinContext = context
                joinContext.now = now
                let actions = group.join(request, joinContext)
                return commit(group, actions, shard: shard, &state)
            }
            finish(completion)
            // Only a request still held needs watching (a callback per answered join would pile up
            // on a long-lived connection's close future).
            guard let connectionClosed, shard.state.withLock({ $0.heldJoins[held] != nil }) else { return }
            connectionClosed.whenComplete { _ in
                let abandoned = shard.state.withLock { $0.heldJoins.removeValue(forKey: held) }
                abandoned?.resume(
                    returning: JoinGroupResponse(
                        errorCode: .rebalanceInProgress, generationId: -1, protocolName: "", leader: "",
                        memberId: request.memberId))
            }
        }
    }

    /// SyncGroup: followers are held until the leader's assignments arrive and are durable.
    /// `connectionClosed`: as for ``join(_:version:clientId:clientHost:connectionClosed:)``.
    func sync(_ request: SyncGroupRequest, connectionClosed: EventLoopFuture<Void>? = nil) async -> SyncGroupResponse {
        let shard = shard(for: request.groupId)
        let held = nextHeld()
        return await withCheckedContinuation { (continuation: CheckedContinuation<SyncGroupResponse, Never>) in
            let completion = shard.state.withLock { state -> Completion in
                var group = state.groups[request.groupId]
                if let code = state.unavailable ?? (group == nil ? .unknownMemberId : nil) {
                    var completion = Completion()
                    completion.syncs.append(
                        (
                            continuation,
                            SyncGroupResponse(
                                errorCode: code,
                                assignment: ByteBuffer())
                        ))
                    return completion
                }
                state.heldSyncs[held] = continuation
                let actions = group!.sync(request, held: held, now: clock.nowMilliseconds())
                return commit(group!, actions, shard: shard, &state)
            }
            finish(completion)
            guard let connectionClosed, shard.state.withLock({ $0.heldSyncs[held] != nil }) else { return }
            connectionClosed.whenComplete { _ in
                let abandoned = shard.state.withLock { $0.heldSyncs.removeValue(forKey: held) }
                abandoned?.resume(
                    returning: SyncGroupResponse(errorCode: .rebalanceInProgress, assignment: ByteBuffer()))
            }
        }
    }

    func heartbeat(_ request: HeartbeatRequest) -> KafkaErrorCode {
        shard(for: request.groupId).state.withLock { state in
            if let code = state.unavailable { return code }
            guard var group = state.groups[request.groupId] else { return .unknownMemberId }
            let code = group.heartbeat(request, now: clock.nowMilliseconds())
            state.groups[request.groupId] = group
            return code
        }
    }

    /// LeaveGroup: one result per leaving member (v3+), and the request-level error.
    func leave(
        groupId: String, members: [LeaveGroupRequest.MemberIdentity]
    )
        -> (KafkaErrorCode, [LeaveGroupResponse.MemberResponse])
    {
        let shard = shard(for: groupId)
        let (code, results, completion) = shard.state.withLock { state in
            let identities = members
            func all(_ code: KafkaErrorCode) -> (KafkaErrorCode, [LeaveGroupResponse.MemberResponse], Completion?) {
                (
                    code,
                    identities.map {
                        .init(
                            memberId: $0.memberId, groupInstanceId: $0.groupInstanceId,
                            errorCode: code)
                    }, nil
                )
            }
            if let code = state.unavailable { return all(code) }
            guard var group = state.groups[groupId] else { return all(.unknownMemberId) }
            var actions: [GroupAction] = []
            let now = clock.nowMilliseconds()
            let results = identities.map { identity in
                LeaveGroupResponse.MemberResponse(
                    memberId: identity.memberId, groupInstanceId: identity.groupInstanceId,
                    errorCode: group.leave(
                        memberId: identity.memberId, instance: identity.groupInstanceId,
                        now: now, &actions))
            }
            return (KafkaErrorCode.noError, results, commit(group, actions, shard: shard, &state))
        }
        if let completion { finish(completion) }
        return (code, results)
    }

    // MARK: Bookkeeping after each state-machine call

    /// Stores `group` (dropping Dead and never-used ones), performs `actions` under the shard lock
    /// (answers are collected, records appended) and arms the group's timer.
    func commit(
        _ group: ClassicGroup, _ actions: [GroupAction], shard: Shard, _ state: inout ShardState
    )
        -> Completion
    {
        let groupId = group.groupId
        let before = state.groups[groupId]
        if before?.state ?? .empty != group.state || before?.generationId ?? 0 != group.generationId {
            logger.info(
                "group changed",
                metadata: [
                    "group": "\(groupId)", "state": "\(group.state.rawValue)", "generation": "\(group.generationId)",
                    "members": "\(group.members.map(\.memberId))",
                ])
        }
        if group.state == .dead || (group.isDeletable && group.generationId == 0) {
            state.groups[groupId] = nil
        } else {
            state.groups[groupId] = group
        }
        var completion = Completion()
        var entries: [OffsetsTopic.Entry] = []
        for action in actions {
            switch action {
            case .respondJoin(let held, let response):
                if let continuation = state.heldJoins.removeValue(forKey: held) {
                    completion.joins.append((continuation, response))
                }
            case .respondSync(let held, let response):
                if let continuation = state.heldSyncs.removeValue(forKey: held) {
                    completion.syncs.append((continuation, response))
                }
            case .writeGroupMetadata(let value):
                entries.append(OffsetsTopic.groupMetadata(group: groupId, value))
            }
        }
        if !entries.isEmpty {
            switch append(entries, partition: shard.partition) {
            case .success(let durable):
                completion.durable = durable
            case .failure(let failure):
                for index in completion.syncs.indices where completion.syncs[index].1.errorCode == .noError {
                    completion.syncs[index].1.errorCode = failure.code
                }
            }
        }
        if let deadline = group.nextDeadline, group.state != .dead,
            state.timers[groupId].map({ $0 > deadline }) ?? true
        {
            state.timers[groupId] = deadline
            completion.timer = (groupId, deadline)
        }
        return completion
    }

    /// Resumes the collected answers (after the fsync when records were written) and arms the timer.
    func finish(_ completion: Completion) {
        if let timer = completion.timer { arm(timer.group, at: timer.at) }
        guard let durable = completion.durable else {
            resume(completion, failure: nil)
            return
        }
        Task {
            var failure: KafkaErrorCode?
            do throws(StorageError) {
                try await durable.log.flush(through: durable.through)
            } catch {
                logger.error("group metadata not durable", metadata: ["error": "\(error)"])
                failure = ErrorMapping.coordinatorCode(for: error)
            }
            resume(completion, failure: failure)
        }
    }

    private func resume(_ completion: Completion, failure: KafkaErrorCode?) {
        for (continuation, response) in completion.joins { continuation.resume(returning: response) }
        for (continuation, var response) in completion.syncs {
            if let failure, response.errorCode == .noError { response.errorCode = failure }
            continuation.resume(returning: response)
        }
    }

    /// Appends one batch to the group's offsets partition; returns what to wait on for durability.
    func append(
        _ entries: [OffsetsTopic.Entry], partition: Int32
    )
        -> Result<(log: PartitionLog, through: Int64), CoordinatorFailure>
    {
        do throws(StorageError) {
            let log = try offsetsLog(partition)
            let batch: RecordBatch
            do throws(RecordsError) {
                batch = try OffsetsTopic.batch(entries, timestamp: clock.nowMilliseconds())
            } catch {
                return .failure(CoordinatorFailure(code: .invalidCommitOffsetSize))
            }
            let info = try log.append(batch, leaderEpoch: Broker.leaderEpoch)
            return .success((log, info.lastOffset + 1))
        } catch {
            logger.error(
                "cannot append to \(OffsetsTopic.name)",
                metadata: [
                    "partition": "\(partition)",
                    "error": "\(error)",
                ])
            return .failure(CoordinatorFailure(code: ErrorMapping.coordinatorCode(for: error)))
        }
    }

    /// The log of one offsets partition, creating the topic on first use.
    func offsetsLog(_ partition: Int32) throws(StorageError) -> PartitionLog {
        let topicPartition = TopicPartition(OffsetsTopic.name, partition)
        if let log = logs.log(for: topicPartition) { return log }
        try ensureOffsetsTopic()
        guard let log = logs.log(for: topicPartition) else {
            throw .unknownTopicOrPartition(topic: OffsetsTopic.name, partition: partition)
        }
        return log
    }

    /// Creates `__consumer_offsets` (compacted, `partitionCount` partitions) unless it exists.
    func ensureOffsetsTopic() throws(StorageError) {
        try topicCreation.withLock { (_) throws(StorageError) in
            guard logs.topic(OffsetsTopic.name) == nil else { return }
            try logs.createTopic(
                OffsetsTopic.name, partitionCount: partitionCount,
                configOverrides: OffsetsTopic.configOverrides(segmentBytes: config.offsetsTopicSegmentBytes))
            logger.info(
                "created the offsets topic",
                metadata: [
                    "topic": "\(OffsetsTopic.name)",
                    "partitions": "\(partitionCount)",
                ])
        }
    }

    // MARK: Timers

    /// Arms a one-shot timer for `groupId` at `deadline` (a Task, never blocking an event loop).
    private func arm(_ groupId: String, at deadline: Int64) {
        let delay = max(1, deadline - clock.nowMilliseconds())
        Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(delay))
            self?.timerFired(groupId, deadline: deadline)
        }
    }

    private func timerFired(_ groupId: String, deadline: Int64) {
        let shard = shard(for: groupId)
        let completion = shard.state.withLock { state -> Completion? in
            if state.timers[groupId] == deadline { state.timers[groupId] = nil }
            guard state.unavailable == nil, var group = state.groups[groupId] else { return nil }
            let actions = group.expire(now: clock.nowMilliseconds())
            return commit(group, actions, shard: shard, &state)
        }
        if let completion { finish(completion) }
    }

    /// Runs every group's due timers now (tests with a `ManualClock` call this after advancing it).
    func runDueTimers() {
        for shard in shards {
            let completions = shard.state.withLock { state -> [Completion] in
                guard state.unavailable == nil else { return [] }
                return state.groups.keys.sorted().compactMap { groupId in
                    guard var group = state.groups[groupId] else { return nil }
                    let actions = group.expire(now: clock.nowMilliseconds())
                    return commit(group, actions, shard: shard, &state)
                }
            }
            for completion in completions { finish(completion) }
        }
    }

    // MARK: Lifecycle

    /// Answers every held request with NOT_COORDINATOR and refuses new ones (graceful shutdown).
    public func shutDown() {
        for shard in shards {
            let (joins, syncs) = shard.state.withLock { state in
                state.isShutDown = true
                defer {
                    state.heldJoins = [:]
                    state.heldSyncs = [:]
                }
                return (Array(state.heldJoins.values), Array(state.heldSyncs.values))
            }
            for join in joins {
                join.resume(
                    returning: JoinGroupResponse(
                        errorCode: .notCoordinator, generationId: -1,
                        protocolName: "", leader: "", memberId: ""))
            }
            for sync in syncs {
                sync.resume(
                    returning: SyncGroupResponse(
                        errorCode: .notCoordinator,
                        assignment: ByteBuffer()))
            }
        }
    }

    /// Returns once every offsets partition has been replayed.
    public func waitUntilLoaded() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = loading.withLock { state -> Bool in
                if !state.done { state.waiters.append(continuation) }
                return state.done
            }
            if done { continuation.resume() }
        }
    }

    func markAllLoaded() {
        let waiters = loading.withLock { state in
            state.done = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

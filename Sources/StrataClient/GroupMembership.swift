import Logging
import NIOCore
import StrataProtocol
import Synchronization

/// A change of a group member's partitions, in the order they happen: with Kafka's eager
/// protocol every rebalance revokes all owned partitions (after committing them when auto-commit
/// is on) and then assigns the new set.
public enum RebalanceEvent: Sendable, Equatable {
    /// These partitions are now owned; reading starts at the group's committed offsets.
    case assigned([TopicPartition])
    /// These partitions are no longer owned; none of their records is yielded any more.
    case revoked([TopicPartition])
}

/// One consumer's membership of a classic ("consumer" protocol type) group: finds the
/// coordinator, joins (answering MEMBER_ID_REQUIRED with the given id), computes the assignment
/// when it leads, syncs, fetches the committed offsets of its partitions, then heartbeats and
/// auto-commits until the coordinator asks for a rebalance (REBALANCE_IN_PROGRESS,
/// ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID) or the connection fails, and joins again.
///
/// Lifecycle: `start()` runs the loop in a task; `leave()` commits (auto-commit), sends
/// LeaveGroup (not for a static member, `group.instance.id`) and ends it. Owns the member id, generation and owned partitions (an actor); the
/// positions themselves are in `Positions`, shared with the consumer's fetch loop.
actor GroupMembership {
    /// Waits before retrying after a failed round, doubling up to the maximum.
    static let retryBackoffMillisecondsMin = 50
    static let retryBackoffMillisecondsMax = 1_000

    let groupId: String
    let topics: [String]
    let config: ConsumerConfig
    private let cluster: Cluster
    private let positions: Positions
    private let events: AsyncStream<RebalanceEvent>.Continuation
    /// Where a partition without a committed offset starts (`auto.offset.reset`).
    private let resolve: @Sendable (TopicPartition) async throws -> Int64
    private let runner = Mutex<Task<Void, Never>?>(nil)

    private var coordinator: BrokerConnection?
    private var memberId = ""
    private var generationId: Int32 = -1
    private var owned: [TopicPartition] = []
    private var joining = false
    private var leaving = false
    /// Tests only: heartbeats are skipped while set, so the coordinator evicts a live member.
    var heartbeatsPaused = false
    /// A non-retriable failure (e.g. INCONSISTENT_GROUP_PROTOCOL) that ended the membership.
    private(set) var failure: ClientError?

    init(
        groupId: String, topics: [String], config: ConsumerConfig, cluster: Cluster, positions: Positions,
        events: AsyncStream<RebalanceEvent>.Continuation,
        resolve: @escaping @Sendable (TopicPartition) async throws -> Int64
    ) {
        self.groupId = groupId
        self.topics = topics
        self.config = config
        self.cluster = cluster
        self.positions = positions
        self.events = events
        self.resolve = resolve
    }

    nonisolated func start() {
        runner.withLock { $0 = Task { await self.run() } }
    }

    /// The current member id and generation (for tests and diagnostics).
    var identity: (memberId: String, generationId: Int32) { (memberId, generationId) }

    /// The membership in one line, for test failure messages.
    var diagnostics: String {
        "\(memberId) generation \(generationId), owns [\(owned.map(\.description).joined(separator: ","))]"
            + (joining ? ", joining" : "") + (leaving ? ", leaving" : "")
            + (failure.map { ", failed: \($0)" } ?? "")
    }

    func pauseHeartbeats(_ paused: Bool) { heartbeatsPaused = paused }

    private func run() async {
        var backoff = Self.retryBackoffMillisecondsMin
        while !leaving && !Task.isCancelled {
            do {
                let connection = try await coordinatorConnection()
                try await joinAndSync(connection)
                backoff = Self.retryBackoffMillisecondsMin
                try await stayStable(connection)
            } catch let error as ClientError {
                if leaving { return }
                if case .broker(_, _, _, let code, _) = error, Self.isFatal(KafkaErrorCode(rawValue: code)) {
                    config.logger.error(
                        "group membership ended", metadata: ["group": "\(groupId)", "error": "\(error)"])
                    failure = error
                    await revokeAll()
                    return
                }
                if Self.isConnectionError(error) || Self.isCoordinatorMoved(error) { await dropCoordinator() }
                config.logger.notice(
                    "group membership interrupted, joining again",
                    metadata: ["group": "\(groupId)", "error": "\(error)", "backoff_ms": "\(backoff)"])
                try? await Task.sleep(for: .milliseconds(backoff))
                backoff = min(backoff * 2, Self.retryBackoffMillisecondsMax)
            } catch {
                if leaving || Task.isCancelled { return }
                try? await Task.sleep(for: .milliseconds(backoff))
                backoff = min(backoff * 2, Self.retryBackoffMillisecondsMax)
            }
        }
    }

    // MARK: Coordinator

    private func coordinatorConnection() async throws -> BrokerConnection {
        if let coordinator, coordinator.channel.isActive { return coordinator }
        let connection = try await connectCoordinator()
        guard !leaving else {
            await connection.close()
            throw ClientError.closed
        }
        coordinator = connection
        return connection
    }

    /// FindCoordinator, then a connection of its own to the coordinator: JoinGroup answers are held
    /// by the coordinator, and heartbeats must not queue behind the consumer's long-polling fetches.
    private func connectCoordinator() async throws -> BrokerConnection {
        let any = try await cluster.anyConnection()
        let response = try await any.send(FindCoordinatorRequest(key: groupId))
        guard response.errorCode == .noError else { throw ClientError.broker(.findCoordinator, response.errorCode) }
        let connection = try await BrokerConnection.connect(
            host: response.host, port: Int(response.port), group: cluster.group, clientId: config.clientId,
            requestTimeout: cluster.requestTimeout)
        return connection
    }

    private func dropCoordinator() async {
        let old = coordinator
        coordinator = nil
        await old?.close()
    }

    // MARK: Join and sync

    private func joinAndSync(_ connection: BrokerConnection) async throws {
        await revokeAll()  // eager protocol: everything is given up before joining
        joining = true
        defer { joining = false }
        let subscription = ConsumerProtocol.encodeSubscription(topics: topics, owned: [])
        var request = JoinGroupRequest(
            groupId: groupId, sessionTimeoutMs: config.sessionTimeoutMilliseconds,
            rebalanceTimeoutMs: config.rebalanceTimeoutMilliseconds, memberId: memberId,
            groupInstanceId: config.groupInstanceId,
            protocolType: ConsumerProtocol.protocolType,
            protocols: config.assignors.map { .init(name: $0.rawValue, metadata: subscription) })
        // The coordinator holds JoinGroup (and a follower's SyncGroup) until the rebalance
        // completes, up to the rebalance timeout: wait that long and a little more, as Kafka's
        // consumer does, before calling the answer lost.
        let joinTimeout = TimeAmount.milliseconds(
            max(Int64(config.rebalanceTimeoutMilliseconds) + 5_000, config.requestTimeoutMilliseconds))
        var joined: JoinGroupResponse?
        while joined == nil {
            request.memberId = memberId
            let response = try await connection.send(request, timeout: joinTimeout)
            if leaving { throw ClientError.closed }
            switch response.errorCode {
            case .noError: joined = response
            case .memberIdRequired: memberId = response.memberId
            case .unknownMemberId:
                memberId = ""
                generationId = -1
            case .rebalanceInProgress: continue
            default: throw ClientError.broker(.joinGroup, response.errorCode)
            }
        }
        guard let joined else { return }
        memberId = joined.memberId
        generationId = joined.generationId
        var assignments: [SyncGroupRequest.Assignment] = []
        if joined.leader == joined.memberId {
            assignments = try await lead(protocolName: joined.protocolName, members: joined.members)
        }
        let sync = try await connection.send(
            SyncGroupRequest(
                groupId: groupId, generationId: generationId, memberId: memberId,
                groupInstanceId: config.groupInstanceId, assignments: assignments),
            timeout: joinTimeout)
        if leaving { throw ClientError.closed }
        switch sync.errorCode {
        case .noError: break
        case .unknownMemberId:
            memberId = ""
            generationId = -1
            throw ClientError.broker(.syncGroup, sync.errorCode)
        default: throw ClientError.broker(.syncGroup, sync.errorCode)
        }
        let assigned = try ConsumerProtocol.decodeAssignment(sync.assignment).sorted()
        try await startPositions(assigned, connection)
        owned = assigned
        config.logger.info(
            "joined group",
            metadata: [
                "group": "\(groupId)", "generation": "\(generationId)", "member": "\(memberId)",
                "leader": "\(joined.leader == memberId)", "protocol": "\(joined.protocolName)",
                "partitions": "\(assigned.map(\.description).joined(separator: ","))",
            ])
        events.yield(.assigned(assigned))
    }

    /// The leader's work: every member's assignment under the chosen assignor.
    private func lead(
        protocolName: String, members: [JoinGroupResponse.Member]
    ) async throws
        -> [SyncGroupRequest.Assignment]
    {
        guard let assignor = PartitionAssignor(rawValue: protocolName) else {
            throw ClientError.protocolViolation(
                broker: coordinator?.address ?? "coordinator", reason: "group chose unknown assignor \(protocolName)")
        }
        var subscriptions: [PartitionAssignor.Member] = []
        for member in members {
            subscriptions.append(
                .init(memberId: member.memberId, topics: try ConsumerProtocol.decodeSubscription(member.metadata)))
        }
        var counts: [String: Int32] = [:]
        for topic in Set(subscriptions.flatMap(\.topics)) {
            await cluster.invalidate(topic)  // new partitions count from this rebalance on
            if let partitions = try? await cluster.partitions(of: topic) { counts[topic] = Int32(partitions.count) }
        }
        let plan = assignor.assign(members: subscriptions, partitionCounts: counts)
        return members.map { member in
            .init(
                memberId: member.memberId,
                assignment: ConsumerProtocol.encodeAssignment(plan[member.memberId] ?? []))
        }
    }

    /// Owns `assigned` at the group's committed offsets, else where `auto.offset.reset` says.
    private func startPositions(_ assigned: [TopicPartition], _ connection: BrokerConnection) async throws {
        guard !assigned.isEmpty else { return }
        let byTopic = Dictionary(grouping: assigned, by: \.topic)
        let request = OffsetFetchRequest(
            groupId: groupId,
            topics: byTopic.keys.sorted().map {
                TopicPartitions(name: $0, partitions: byTopic[$0, default: []].map(\.partition))
            })
        let response = try await connection.send(request)
        guard response.errorCode == .noError else { throw ClientError.broker(.offsetFetch, response.errorCode) }
        var committed: [TopicPartition: Int64] = [:]
        for topic in response.topics {
            for partition in topic.partitions {
                guard partition.errorCode == .noError else {
                    throw ClientError.broker(
                        .offsetFetch, partition.errorCode, topic: topic.name, partition: partition.partitionIndex)
                }
                if partition.committedOffset >= 0 {
                    committed[TopicPartition(topic: topic.name, partition: partition.partitionIndex)] =
                        partition.committedOffset
                }
            }
        }
        // Every start is known before any is set: a failure here leaves no position behind.
        var starts: [TopicPartition: Int64] = [:]
        for key in assigned where committed[key] == nil { starts[key] = try await resolve(key) }
        for key in assigned {
            if let offset = committed[key] {
                positions.set(key, offset, committed: offset)
            } else if let start = starts[key] {
                positions.set(key, start)
            }
        }
    }

    /// Gives up every owned partition, committing what was consumed first (auto-commit).
    private func revokeAll() async {
        guard !owned.isEmpty else { return }
        let revoked = owned
        owned = []
        let consumed = positions.remove(revoked)
        if config.enableAutoCommit, generationId >= 0, !consumed.isEmpty, let coordinator {
            try? await commit(consumed, on: coordinator)
        }
        events.yield(.revoked(revoked))
    }

    // MARK: Stable

    /// Heartbeats (and auto-commits) until the group needs this member to join again.
    private func stayStable(_ connection: BrokerConnection) async throws {
        let clock = ContinuousClock()
        let heartbeatEvery = Duration.milliseconds(config.heartbeatIntervalMilliseconds)
        let commitEvery = Duration.milliseconds(config.autoCommitIntervalMilliseconds)
        var nextHeartbeat = clock.now.advanced(by: heartbeatEvery)
        var nextCommit = clock.now.advanced(by: commitEvery)
        while !leaving {
            let wake = config.enableAutoCommit ? min(nextHeartbeat, nextCommit) : nextHeartbeat
            try await Task.sleep(until: wake, clock: clock)
            if leaving { return }
            if config.enableAutoCommit, clock.now >= nextCommit {
                nextCommit = clock.now.advanced(by: commitEvery)
                do {
                    try await commitConsumed(on: connection)
                } catch let error as ClientError {
                    if Self.needsRejoin(error) { return }
                    if Self.isConnectionError(error) || Self.isCoordinatorMoved(error) { throw error }
                    config.logger.warning(
                        "auto-commit failed", metadata: ["group": "\(groupId)", "error": "\(error)"])
                    // Otherwise (e.g. COORDINATOR_LOAD_IN_PROGRESS) the next interval tries again.
                }
            }
            if clock.now >= nextHeartbeat {
                nextHeartbeat = clock.now.advanced(by: heartbeatEvery)
                if heartbeatsPaused { continue }
                let response = try await connection.send(
                    HeartbeatRequest(
                        groupId: groupId, generationId: generationId, memberId: memberId,
                        groupInstanceId: config.groupInstanceId))
                switch response.errorCode {
                case .noError: continue
                case .rebalanceInProgress, .illegalGeneration:
                    config.logger.debug(
                        "heartbeat: rejoining", metadata: ["group": "\(groupId)", "reason": "\(response.errorCode)"])
                    return
                case .unknownMemberId:
                    config.logger.info(
                        "heartbeat: member unknown to the coordinator (evicted?), joining as a new member",
                        metadata: ["group": "\(groupId)", "member": "\(memberId)"])
                    memberId = ""
                    generationId = -1
                    return
                default: throw ClientError.broker(.heartbeat, response.errorCode)
                }
            }
        }
    }

    // MARK: Commits

    /// Commits the consumed positions that changed since their last commit.
    func commitConsumed() async throws {
        guard let coordinator, generationId >= 0, !joining else {
            throw ClientError.broker(.offsetCommit, .rebalanceInProgress)
        }
        try await commitConsumed(on: coordinator)
    }

    /// Commits explicit offsets under the current generation.
    func commit(_ offsets: [TopicPartition: Int64]) async throws {
        guard let coordinator, generationId >= 0, !joining else {
            throw ClientError.broker(.offsetCommit, .rebalanceInProgress)
        }
        try await commit(offsets, on: coordinator)
    }

    private func commitConsumed(on connection: BrokerConnection) async throws {
        let offsets = positions.uncommitted()
        guard !offsets.isEmpty else { return }
        try await commit(offsets, on: connection)
    }

    private func commit(_ offsets: [TopicPartition: Int64], on connection: BrokerConnection) async throws {
        let byTopic = Dictionary(grouping: offsets, by: \.key.topic)
        let request = OffsetCommitRequest(
            groupId: groupId, generationIdOrMemberEpoch: generationId, memberId: memberId,
            groupInstanceId: config.groupInstanceId,
            topics: byTopic.keys.sorted().map { topic in
                TopicPartitions(
                    name: topic,
                    partitions: byTopic[topic, default: []].map {
                        .init(partitionIndex: $0.key.partition, committedOffset: $0.value)
                    })
            })
        let response = try await connection.send(request)
        var done: [TopicPartition: Int64] = [:]
        var firstError: ClientError?
        for topic in response.topics {
            for partition in topic.partitions {
                let key = TopicPartition(topic: topic.name, partition: partition.partitionIndex)
                if partition.errorCode == .noError {
                    done[key] = offsets[key]
                } else if firstError == nil {
                    firstError = .broker(
                        .offsetCommit, partition.errorCode, topic: topic.name, partition: partition.partitionIndex)
                }
            }
        }
        positions.markCommitted(done)
        if let firstError { throw firstError }
    }

    // MARK: Leaving

    /// Gives up the partitions (no record of them is yielded from here on), commits what was
    /// consumed (auto-commit), leaves the group and ends the loop.
    func leave() async {
        guard !leaving else { return }
        leaving = true
        runner.withLock { $0?.cancel() }
        let revoked = owned
        owned = []
        let consumed = positions.remove(revoked)
        // The coordinator connection may be gone (the broker restarted) or busy with a JoinGroup
        // the coordinator holds: then a fresh one carries the last commit and the LeaveGroup.
        var connection: BrokerConnection?
        var fresh: BrokerConnection?
        if let coordinator, coordinator.channel.isActive, !joining {
            connection = coordinator
        } else if !memberId.isEmpty {
            fresh = try? await connectCoordinator()
            connection = fresh
        }
        if config.enableAutoCommit, let connection, generationId >= 0, !joining, !consumed.isEmpty {
            try? await commit(consumed, on: connection)
        }
        // A static member does not leave: restarted within its session timeout, it gets its
        // partitions back without a rebalance (KIP-345, as Java's consumer does).
        if !memberId.isEmpty && config.groupInstanceId == nil, let connection {
            _ = try? await connection.send(
                LeaveGroupRequest(groupId: groupId, memberId: memberId, members: [.init(memberId: memberId)]))
        }
        await fresh?.close()
        if !revoked.isEmpty { events.yield(.revoked(revoked)) }
        generationId = -1
        await dropCoordinator()
    }

    /// Stops without committing or leaving, and drops the coordinator connection, as if the
    /// process had died: the coordinator evicts the member after its session timeout.
    func abandon() async {
        leaving = true
        runner.withLock { $0?.cancel() }
        _ = positions.remove(owned)
        owned = []
        await dropCoordinator()
    }

    // MARK: Error classes

    static func isFatal(_ code: KafkaErrorCode) -> Bool {
        [
            .inconsistentGroupProtocol, .invalidSessionTimeout, .invalidGroupId, .groupAuthorizationFailed,
            .fencedInstanceId,
        ]
        .contains(code)
    }

    static func needsRejoin(_ error: ClientError) -> Bool {
        guard case .broker(_, _, _, let code, _) = error else { return false }
        return [KafkaErrorCode.rebalanceInProgress, .illegalGeneration, .unknownMemberId]
            .contains(KafkaErrorCode(rawValue: code))
    }

    static func isCoordinatorMoved(_ error: ClientError) -> Bool {
        guard case .broker(_, _, _, let code, _) = error else { return false }
        return [KafkaErrorCode.notCoordinator, .coordinatorNotAvailable].contains(KafkaErrorCode(rawValue: code))
    }

    static func isConnectionError(_ error: ClientError) -> Bool {
        switch error {
        case .connectionClosed, .connectionFailed, .noBrokerAvailable: true
        default: false
        }
    }
}

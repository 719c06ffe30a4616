import NIOCore
import StrataProtocol
import StrataRecords
import StrataStorage

/// Offsets (commit, fetch, expiry), group administration, and the startup replay.
extension GroupCoordinator {
    // MARK: OffsetCommit / OffsetFetch

    /// OffsetCommit: validated against the group, written as OffsetCommitValue records and answered
    /// only once they are durable (acks=all). A partition that does not exist gets
    /// UNKNOWN_TOPIC_OR_PARTITION and is not stored (as Kafka does): otherwise any client could make
    /// the coordinator hold offsets, with up to 4 KiB of metadata each, for unbounded made-up names
    /// (the long protocol-fuzzing run grew the server by ~50 MiB per million inputs this way).
    func commitOffsets(_ request: OffsetCommitRequest) async -> OffsetCommitResponse {
        var unknown: Set<TopicPartition> = []
        for topic in request.topics {
            for partition in topic.partitions {
                let topicPartition = TopicPartition(topic.name, partition.partitionIndex)
                if logs.log(for: topicPartition) == nil { unknown.insert(topicPartition) }
            }
        }
        func answer(_ code: (TopicPartition, String?) -> KafkaErrorCode) -> OffsetCommitResponse {
            OffsetCommitResponse(
                topics: request.topics.map { topic in
                    TopicPartitions(
                        name: topic.name,
                        partitions: topic.partitions.map { partition in
                            .init(
                                partitionIndex: partition.partitionIndex,
                                errorCode: code(
                                    TopicPartition(topic.name, partition.partitionIndex),
                                    partition.committedMetadata))
                        })
                })
        }
        guard !request.groupId.isEmpty else { return answer { _, _ in .invalidGroupId } }
        let shard = shard(for: request.groupId)
        let now = clock.nowMilliseconds()
        let outcome = shard.state.withLock { state -> Result<(PartitionLog, Int64)?, CoordinatorFailure> in
            if let code = state.unavailable { return .failure(.init(code: code)) }
            var group: ClassicGroup
            if let existing = state.groups[request.groupId] {
                group = existing
            } else if request.generationIdOrMemberEpoch < 0 {
                group = ClassicGroup(groupId: request.groupId, config: config, now: now)
            } else {
                return .failure(.init(code: .illegalGeneration))
            }
            let code = group.validateOffsetCommit(
                generationId: request.generationIdOrMemberEpoch,
                memberId: request.memberId, groupInstanceId: request.groupInstanceId)
            guard code == .noError else { return .failure(.init(code: code)) }
            // Saturating: a client-chosen retention near Int64.max must not trap (protocol fuzzing).
            let expire =
                request.retentionTimeMs >= 0
                ? now.addingReportingOverflow(request.retentionTimeMs).overflow
                    ? Int64.max : now + request.retentionTimeMs
                : nil
            var commits: [(TopicPartition, CommittedOffset)] = []
            for topic in request.topics {
                for partition in topic.partitions
                where (partition.committedMetadata?.utf8.count ?? 0) <= config.offsetMetadataBytesMax
                    && !unknown.contains(TopicPartition(topic.name, partition.partitionIndex))
                {
                    commits.append(
                        (
                            TopicPartition(topic.name, partition.partitionIndex),
                            CommittedOffset(
                                offset: partition.committedOffset, leaderEpoch: partition.committedLeaderEpoch,
                                metadata: partition.committedMetadata ?? "", commitTimestamp: now,
                                expireTimestamp: expire)
                        ))
                }
            }
            guard !commits.isEmpty else { return .success(nil) }
            let entries = commits.map { OffsetsTopic.offsetCommit(group: request.groupId, partition: $0.0, $0.1) }
            switch append(entries, partition: shard.partition) {
            case .success(let durable):
                group.applyCommittedOffsets(commits)
                state.groups[request.groupId] = group
                return .success(durable)
            case .failure(let failure):
                return .failure(failure)
            }
        }
        var failure: KafkaErrorCode?
        switch outcome {
        case .failure(let rejected):
            failure = rejected.code
        case .success(let durable?):
            do throws(StorageError) {
                try await durable.0.flush(through: durable.1)
            } catch {
                logger.error(
                    "offset commit not durable",
                    metadata: [
                        "group": "\(request.groupId)",
                        "error": "\(error)",
                    ])
                failure = ErrorMapping.coordinatorCode(for: error)
            }
        case .success(nil):
            break
        }
        return answer { topicPartition, metadata in
            if unknown.contains(topicPartition) { return .unknownTopicOrPartition }
            if let failure { return failure }
            return (metadata?.utf8.count ?? 0) > config.offsetMetadataBytesMax ? .offsetMetadataTooLarge : .noError
        }
    }

    /// OffsetFetch: committed positions (−1 where none); nil topics = every committed partition.
    func fetchOffsets(_ request: OffsetFetchRequest) -> OffsetFetchResponse {
        shard(for: request.groupId).state.withLock { state in
            let offsets = state.groups[request.groupId]?.offsets ?? [:]
            let code = state.unavailable
            let requested: [TopicPartitions<Int32>] =
                request.topics
                ?? Dictionary(
                    grouping: offsets.keys, by: \.topic
                ).map { TopicPartitions(name: $0.key, partitions: $0.value.map(\.partition).sorted()) }
                .sorted { $0.name < $1.name }
            let topics = requested.map { topic in
                TopicPartitions(
                    name: topic.name,
                    partitions: topic.partitions.map { index in
                        guard code == nil, let committed = offsets[TopicPartition(topic.name, index)] else {
                            return OffsetFetchResponse.Partition(
                                partitionIndex: index, committedOffset: -1,
                                metadata: "", errorCode: code ?? .noError)
                        }
                        return OffsetFetchResponse.Partition(
                            partitionIndex: index, committedOffset: committed.offset,
                            committedLeaderEpoch: committed.leaderEpoch,
                            metadata: committed.metadata)
                    })
            }
            return OffsetFetchResponse(
                topics: code == nil ? topics : (request.topics == nil ? [] : topics),
                errorCode: code ?? .noError)
        }
    }

    // MARK: Administration

    /// ListGroups: every group of every loaded partition.
    func listGroups() -> ListGroupsResponse {
        var groups: [ListGroupsResponse.ListedGroup] = []
        for shard in shards {
            let (code, listed) = shard.state.withLock { state in
                (
                    state.unavailable,
                    state.groups.values.map {
                        ListGroupsResponse.ListedGroup(groupId: $0.groupId, protocolType: $0.protocolType ?? "")
                    }
                )
            }
            if let code { return ListGroupsResponse(errorCode: code, groups: []) }
            groups += listed
        }
        return ListGroupsResponse(groups: groups.sorted { $0.groupId < $1.groupId })
    }

    /// DescribeGroups: unknown groups are reported Dead with no error (as Kafka's classic groups).
    func describeGroups(_ groupIds: [String]) -> DescribeGroupsResponse {
        DescribeGroupsResponse(
            groups: groupIds.map { groupId in
                shard(for: groupId).state.withLock { state in
                    if let code = state.unavailable {
                        return .init(
                            errorCode: code, groupId: groupId, groupState: "", protocolType: "",
                            protocolData: "", members: [])
                    }
                    return state.groups[groupId]?.describe()
                        ?? .init(
                            groupId: groupId, groupState: ClassicGroup.State.dead.rawValue, protocolType: "",
                            protocolData: "", members: [])
                }
            })
    }

    /// DeleteGroups: only groups without members; writes tombstones for their offsets and metadata.
    func deleteGroups(_ groupIds: [String]) async -> [NamedResult] {
        var results: [NamedResult] = []
        for groupId in groupIds {
            let shard = shard(for: groupId)
            let outcome = shard.state.withLock { state -> Result<(PartitionLog, Int64), CoordinatorFailure> in
                if let code = state.unavailable { return .failure(.init(code: code)) }
                guard !groupId.isEmpty else { return .failure(.init(code: .invalidGroupId)) }
                guard var group = state.groups[groupId] else { return .failure(.init(code: .groupIdNotFound)) }
                guard group.state == .empty && group.hasNoMembers else {
                    return .failure(.init(code: .nonEmptyGroup))
                }
                let entries =
                    group.offsets.keys.sorted().map {
                        OffsetsTopic.offsetTombstone(
                            group: groupId,
                            partition: $0)
                    }
                    + [OffsetsTopic.groupTombstone(group: groupId)]
                let appended = append(entries, partition: shard.partition)
                if case .success = appended {
                    group.markDead(now: clock.nowMilliseconds())
                    state.groups[groupId] = nil
                }
                return appended.map { ($0.log, $0.through) }
            }
            var code = KafkaErrorCode.noError
            switch outcome {
            case .failure(let failure):
                code = failure.code
            case .success((let log, let through)):
                do throws(StorageError) { try await log.flush(through: through) } catch {
                    code = ErrorMapping.coordinatorCode(for: error)
                }
            }
            results.append(NamedResult(name: groupId, errorCode: code))
        }
        return results
    }

    /// Writes tombstones for the offsets that expired (`offsets.retention.minutes`, KIP-211) and
    /// deletes empty groups left without offsets. Returns the number of offsets removed.
    @discardableResult
    public func expireOffsets() async -> Int {
        var removed = 0
        for shard in shards {
            let now = clock.nowMilliseconds()
            let durable = shard.state.withLock { state -> (PartitionLog, Int64)? in
                guard state.unavailable == nil else { return nil }
                var entries: [OffsetsTopic.Entry] = []
                for groupId in state.groups.keys.sorted() {
                    guard var group = state.groups[groupId] else { continue }
                    let expired = group.expiredOffsets(
                        now: now,
                        retentionMilliseconds: config.offsetsRetentionMilliseconds)
                    guard !expired.isEmpty || group.isDeletable else { continue }
                    entries += expired.map { OffsetsTopic.offsetTombstone(group: groupId, partition: $0) }
                    removed += expired.count
                    group.removeOffsets(expired)
                    if group.isDeletable {
                        entries.append(OffsetsTopic.groupTombstone(group: groupId))
                        group.markDead(now: now)
                        state.groups[groupId] = nil
                    } else {
                        state.groups[groupId] = group
                    }
                }
                guard !entries.isEmpty, case .success(let durable) = append(entries, partition: shard.partition)
                else { return nil }
                return durable
            }
            if let (log, through) = durable {
                do throws(StorageError) { try await log.flush(through: through) } catch {
                    logger.error("offset expiry not durable", metadata: ["error": "\(error)"])
                }
            }
        }
        if removed > 0 { logger.info("expired committed offsets", metadata: ["offsets": "\(removed)"]) }
        return removed
    }

    // MARK: Startup replay

    /// Replays `__consumer_offsets` in the background, then checks for expired offsets every
    /// `offsets.retention.check.interval.ms` until shut down (or until the coordinator is dropped).
    public func startLoading() {
        let needsLoad = shards.contains { shard in shard.state.withLock { !$0.isLoaded } }
        let interval = config.offsetsRetentionCheckIntervalMilliseconds
        Task.detached { [weak self] in
            if needsLoad, let self {
                for shard in self.shards { self.load(shard) }
                self.markAllLoaded()
            }
            while true {
                try? await Task.sleep(for: .milliseconds(interval))
                guard let self, !self.isShutDown else { return }
                await self.expireOffsets()
            }
        }
    }

    private var isShutDown: Bool { shards.first?.state.withLock { $0.isShutDown } ?? true }

    /// Replays one partition from its log start (last write wins, tombstones delete) and marks it
    /// loaded. A damaged record is skipped with an error log; the rest still loads.
    func load(_ shard: Shard) {
        let now = clock.nowMilliseconds()
        var loaded: [String: OffsetsTopic.LoadedGroup] = [:]
        var records = 0
        if let log = logs.log(for: TopicPartition(OffsetsTopic.name, shard.partition)) {
            var offset = log.logStartOffset
            do {
                while offset < log.logEndOffset {
                    guard let slice = try log.read(from: offset, maxBytes: OffsetsTopic.loadChunkBytes).slice else {
                        break
                    }
                    var bytes = try slice.makeByteBuffer()
                    while let batch = try RecordBatch.next(from: &bytes, batchBytesMax: Int(Int32.max)) {
                        let header = try batch.header()
                        offset = header.nextOffset
                        guard !header.isControl else { continue }
                        var iterator = try batch.makeRecordIterator()
                        while let record = try iterator.next() {
                            guard let key = record.key else { continue }
                            records += 1
                            do throws(ProtocolError) {
                                try OffsetsTopic.replay(key: key, value: record.value, into: &loaded)
                            } catch {
                                logger.error(
                                    "skipping undecodable offsets record",
                                    metadata: [
                                        "partition": "\(shard.partition)", "offset": "\(record.offset)",
                                        "error": "\(error)",
                                    ])
                            }
                        }
                    }
                }
            } catch {
                logger.error(
                    "offsets partition replay stopped early",
                    metadata: [
                        "partition": "\(shard.partition)", "offset": "\(offset)", "error": "\(error)",
                    ])
            }
        }
        let groups = loaded.filter { $0.value.metadata != nil || !$0.value.offsets.isEmpty }
        shard.state.withLock { state in
            for (groupId, found) in groups {
                state.groups[groupId] = ClassicGroup(
                    groupId: groupId, config: config, loaded: found.metadata,
                    offsets: found.offsets, now: now)
            }
            state.isLoaded = true
        }
        if records > 0 {
            logger.info(
                "loaded consumer groups",
                metadata: [
                    "partition": "\(shard.partition)",
                    "records": "\(records)", "groups": "\(groups.count)",
                ])
        }
        // Loaded Stable members must heartbeat within their session timeout: arm their timers.
        let completions = shard.state.withLock { state in
            state.groups.values.map { commit($0, [], shard: shard, &state) }
        }
        for completion in completions { finish(completion) }
    }
}

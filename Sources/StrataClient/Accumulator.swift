import NIOCore
import StrataProtocol
import StrataRecords

/// The producer's per-partition batches, the linger timers, the in-flight count and the memory
/// bound. An actor: it owns all of it; sending happens in child tasks that report back.
actor Accumulator {
    struct Record: Sendable {
        var topic: String
        /// nil: a null key without an explicit partition (placed on the topic's sticky partition).
        var partition: Int32?
        var partitionCount: Int32
        var key: [UInt8]?
        var value: [UInt8]?
        var headers: [RecordHeader]
        var timestamp: Int64
        var sizeEstimate: Int { (key?.count ?? 0) + (value?.count ?? 0) + 32 }
    }

    private struct Key: Hashable {
        var topic: String
        var partition: Int32
    }

    private struct OpenBatch {
        var builder: RecordBatchBuilder
        var waiters: [CheckedContinuation<RecordMetadata, Error>?] = []
        var bytes = 0
        var generation: Int
    }

    private let config: ProducerConfig
    private let cluster: Cluster
    private var open: [Key: OpenBatch] = [:]
    private var sticky: [String: Int32] = [:]
    private var generation = 0
    private var inFlight = 0
    /// Per partition: done once the latest batch sent to it has been written to its connection. The
    /// next batch writes only after it, so batches of a partition reach the broker in order while
    /// several wait for their answers.
    private var lastWrite: [Key: Task<Void, Never>] = [:]
    private var bufferedBytes = 0
    private var firstFailure: Error?
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var spaceWaiters: [CheckedContinuation<Void, Never>] = []

    init(config: ProducerConfig, cluster: Cluster) {
        self.config = config
        self.cluster = cluster
    }

    func append(_ record: Record, continuation: CheckedContinuation<RecordMetadata, Error>?) async {
        while bufferedBytes > 0 && bufferedBytes + record.sizeEstimate > config.bufferBytes {
            await withCheckedContinuation { spaceWaiters.append($0) }
        }
        let partition = record.partition ?? stickyPartition(record.topic, count: record.partitionCount)
        let key = Key(topic: record.topic, partition: partition)
        if open[key] == nil {
            generation += 1
            var builder = RecordBatchBuilder(compression: .none, capacity: min(config.batchBytes, 64 << 10))
            builder.partitionLeaderEpoch = -1
            open[key] = OpenBatch(builder: builder, generation: generation)
            let scheduled = generation
            let linger = config.lingerMilliseconds
            Task { [weak self] in
                if linger > 0 { try? await Task.sleep(for: .milliseconds(linger)) }
                await self?.lingerExpired(key, generation: scheduled)
            }
        }
        open[key]!.builder.append(
            key: record.key, value: record.value, headers: record.headers,
            timestamp: record.timestamp)
        open[key]!.waiters.append(continuation)
        open[key]!.bytes += record.sizeEstimate
        bufferedBytes += record.sizeEstimate
        if open[key]!.builder.estimatedSizeInBytes >= config.batchBytes { drain(key) }
    }

    private func stickyPartition(_ topic: String, count: Int32) -> Int32 {
        if let current = sticky[topic], current < count { return current }
        let chosen = Int32.random(in: 0..<max(1, count))
        sticky[topic] = chosen
        return chosen
    }

    private func lingerExpired(_ key: Key, generation: Int) {
        if open[key]?.generation == generation { drain(key) }
    }

    /// Closes `key`'s batch and sends it in a child task.
    private func drain(_ key: Key) {
        guard var batch = open.removeValue(forKey: key) else { return }
        if sticky[key.topic] == key.partition { sticky[key.topic] = nil }
        if batch.builder.uncompressedRecordBytes >= config.compressionThresholdBytes {
            batch.builder.compression = config.compression
        }
        inFlight += 1
        let acks = config.acks
        let cluster = cluster
        let builder = batch.builder
        let waiters = batch.waiters
        let bytes = batch.bytes
        let previous = lastWrite[key]
        let written = Task { () -> Result<Written, Error> in
            await previous?.value
            do {
                return .success(try await Self.write(builder, to: key, acks: acks, cluster: cluster))
            } catch {
                return .failure(error)
            }
        }
        lastWrite[key] = Task { _ = await written.value }
        Task {
            let outcome: Result<Int64, Error>
            do {
                outcome = .success(try await Self.answer(written.value.get(), key: key, cluster: cluster))
            } catch {
                outcome = .failure(error)
            }
            self.completed(key, waiters: waiters, bytes: bytes, outcome: outcome)
        }
    }

    /// A batch on the wire: its pending answer (nil for acks=0) and the connection's address.
    private struct Written: Sendable {
        var response: BrokerConnection.PendingResponse<ProduceResponse>?
        var address: String
    }

    /// Builds the request and writes it to the partition leader's connection.
    private static func write(
        _ builder: RecordBatchBuilder, to key: Key, acks: Int16, cluster: Cluster
    )
        async throws -> Written
    {
        let records = try builder.build()
        let request = ProduceRequest(
            acks: acks, timeoutMs: 30_000,
            topics: [
                TopicPartitions(name: key.topic, partitions: [.init(index: key.partition, records: records)])
            ])
        let connection = try await cluster.leader(key.topic, key.partition)
        if acks == 0 {
            try await connection.sendWithoutResponse(request)
            return Written(response: nil, address: connection.address)
        }
        return Written(response: try connection.submit(request), address: connection.address)
    }

    /// Waits for a written batch's answer; returns its base offset (-1 for acks=0).
    private static func answer(_ written: Written, key: Key, cluster: Cluster) async throws -> Int64 {
        guard let pending = written.response else { return -1 }
        let response = try await pending.get()
        guard let answer = response.responses.first?.partitions.first else {
            throw ClientError.protocolViolation(broker: written.address, reason: "Produce answer without partition")
        }
        guard answer.errorCode == .noError else {
            if answer.errorCode == .notLeaderOrFollower || answer.errorCode == .unknownTopicOrPartition {
                await cluster.invalidate(key.topic)
            }
            throw ClientError.broker(.produce, answer.errorCode, topic: key.topic, partition: key.partition)
        }
        return answer.baseOffset
    }

    private func completed(
        _ key: Key, waiters: [CheckedContinuation<RecordMetadata, Error>?], bytes: Int,
        outcome: Result<Int64, Error>
    ) {
        switch outcome {
        case .success(let base):
            for (index, waiter) in waiters.enumerated() {
                waiter?.resume(
                    returning: RecordMetadata(
                        topic: key.topic, partition: key.partition,
                        offset: base < 0 ? -1 : base + Int64(index)))
            }
        case .failure(let error):
            if firstFailure == nil { firstFailure = error }
            for waiter in waiters { waiter?.resume(throwing: error) }
        }
        inFlight -= 1
        bufferedBytes -= bytes
        let space = spaceWaiters
        spaceWaiters = []
        for waiter in space { waiter.resume() }
        if inFlight == 0 && open.isEmpty {
            let idle = idleWaiters
            idleWaiters = []
            for waiter in idle { waiter.resume() }
        }
    }

    /// Sends every open batch and waits until nothing is in flight.
    func flush() async throws {
        for key in Array(open.keys) { drain(key) }
        if inFlight > 0 || !open.isEmpty {
            await withCheckedContinuation { idleWaiters.append($0) }
        }
        if let failure = firstFailure {
            firstFailure = nil
            throw failure
        }
    }
}

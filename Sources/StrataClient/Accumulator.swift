import NIOCore
import StrataProtocol
import StrataRecords

/// The producer's engine: per-partition open batches and linger timers, the queue of closed
/// batches per partition, requests in flight, retries, idempotent sequence numbers, the
/// `buffer.memory` bound and delivery reports.
///
/// An actor: it owns all of that state. Requests are written synchronously from the actor (a
/// partition's batches therefore reach its connection in order); each answer comes back through a
/// small task that calls `answered`.
///
/// Retries keep order: when a batch of a partition fails retriably, the partition stops sending,
/// waits until every batch it has in flight is answered, puts the failed ones back at the front of
/// its queue in their original order and resends after a backoff. Idempotent batches keep their
/// producer id and sequence numbers across such retries, so a batch the broker had already written
/// (its answer was lost with the connection) is recognised as a duplicate and answered with its
/// original offsets. When a partition's sequence is broken (a batch failed for good, or the broker
/// lost the producer's state) the partition continues under a fresh producer id from sequence 0;
/// batches whose fate is unknown at that point fail rather than risk a duplicate.
actor Accumulator {
    /// An upper bound of a record's size in a batch, with the batch header: what
    /// `max.request.size` is checked against.
    static func encodedSizeBound(key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader]) -> Int {
        var size = RecordBatchHeader.Layout.size + 5 + 1 + 10 + 5 + 5 + 5 + 5
        size += key?.count ?? 0
        size += value?.count ?? 0
        for header in headers { size += 10 + header.key.utf8.count + (header.value?.readableBytes ?? 0) }
        return size
    }

    /// What a record counts against `buffer.memory`.
    static func bufferCharge(key: [UInt8]?, value: [UInt8]?) -> Int { (key?.count ?? 0) + (value?.count ?? 0) + 32 }

    private typealias Key = RecordAppender.Key

    private typealias Waiter = RecordAppender.Waiter

    /// A closed batch: queued, in flight, or waiting to be retried.
    private struct Batch {
        /// Creation order; within a partition also sequence order.
        let id: Int
        var builder: RecordBatchBuilder
        /// The encoded batch; built on first send, rebuilt when its sequence changes.
        var encoded: ByteBuffer?
        /// Assigned on first send when idempotent.
        var sequence: Int32?
        /// The callers of `send` waiting, with their record's index in the batch.
        var waiters: [(index: Int, waiter: Waiter)]
        var reportIds: [UInt64]
        var bytes: Int
        var deadline: ContinuousClock.Instant
        var attempts = 0
        /// Some attempt failed without an answer: the broker may hold it.
        var maybeWritten = false
        var lastError: Error?
    }

    private struct PartitionState {
        var ready: [Batch] = []
        /// In send order.
        var inFlight: [Batch] = []
        /// Batches that failed retriably while others were still in flight.
        var failed: [Batch] = []
        /// Set when the sequence is broken: a fresh producer id is needed before sending on.
        var sequenceBroken = false
        var connection: BrokerConnection?
        var connecting = false
        var retryAt: ContinuousClock.Instant?
        var retryTimerArmed = false
        var producerId: Int64 = -1
        var producerEpoch: Int16 = -1
        var nextSequence: Int32 = 0
        /// After a broken sequence the partition takes a producer id of its own.
        var needsFreshIdentity = false

        var isRecovering: Bool { sequenceBroken || !failed.isEmpty }
        var isIdle: Bool { ready.isEmpty && inFlight.isEmpty && failed.isEmpty }
    }

    private let config: ProducerConfig
    private let cluster: Cluster
    private let idempotent: Bool
    private let maxInFlight: Int
    private let reports: AsyncStream<DeliveryReport>.Continuation?
    /// The per-record path (open batches, buffer.memory); closed batches come from it in order.
    let appender: RecordAppender
    private var partitions: [Key: PartitionState] = [:]
    private var batchIds = 0
    /// Closed batches not yet answered, across partitions.
    private var unfinished = 0
    private var firstFailure: Error?
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    /// Appenders waiting for buffer space, in arrival order, with their deadlines.
    private var spaceWaiters: [(deadline: ContinuousClock.Instant, continuation: CheckedContinuation<Void, Error>)] =
        []
    private var spaceSweeperRunning = false
    private var sharedIdentity: Task<(id: Int64, epoch: Int16), Error>?

    init(config: ProducerConfig, cluster: Cluster, reports: AsyncStream<DeliveryReport>.Continuation?) {
        self.config = config
        self.cluster = cluster
        idempotent = config.isIdempotent
        maxInFlight = idempotent ? min(5, config.maxInFlightRequests) : config.maxInFlightRequests
        self.reports = reports
        appender = RecordAppender(config: config)
        // Strong (a weak reference would put every retain of the actor on the slow path); the cycle
        // is broken by `finishReports()` at close.
        appender.onClosed { Task { await self.drainClosed() } }
    }

    // MARK: Appending

    /// Returns once `buffer.memory` has room for `size` more bytes (the producer then appends with
    /// `waited`), or throws `timedOut` after `max.block.ms`.
    func waitForSpace(_ size: Int) async throws {
        while !appender.hasRoom(for: size) {
            let deadline = ContinuousClock.now + .milliseconds(config.maxBlockMilliseconds)
            try await withCheckedThrowingContinuation { continuation in
                spaceWaiters.append((deadline, continuation))
                startSpaceSweeper()
            }
        }
    }

    /// One task per burst of waiting: fails waiters whose `max.block.ms` passed. Waiters are in
    /// deadline order (all wait the same time), so it sleeps until the first one's.
    private func startSpaceSweeper() {
        guard !spaceSweeperRunning else { return }
        spaceSweeperRunning = true
        Task {  // strong captures throughout: a weak one would put the actor's refcounting on the slow path
            while let next = self.expireSpaceWaiters() {
                try? await Task.sleep(until: next, clock: .continuous)
            }
        }
    }

    private func expireSpaceWaiters() -> ContinuousClock.Instant? {
        let now = ContinuousClock.now
        while let first = spaceWaiters.first, first.deadline <= now {
            spaceWaiters.removeFirst()
            first.continuation.resume(
                throwing: ClientError.timedOut(
                    api: "waiting for buffer.memory", milliseconds: config.maxBlockMilliseconds))
        }
        guard let first = spaceWaiters.first else {
            spaceSweeperRunning = false
            return nil
        }
        return first.deadline
    }

    /// Takes the batches the appender closed, in order, queues them and sends what may be sent.
    func drainClosed() {
        var keys: [Key] = []
        do {
            // The taken array is gone before sending: a batch's buffer must be referenced once when
            // it is finished in place.
            let closed = appender.takeClosed()
            for (key, batch) in closed {
                var builder = batch.builder
                if builder.uncompressedRecordBytes >= config.compressionThresholdBytes {
                    builder.compression = config.compression
                }
                batchIds += 1
                unfinished += 1
                partitions[key, default: PartitionState()].ready.append(
                    Batch(
                        id: batchIds, builder: builder, waiters: batch.waiters, reportIds: batch.reportIds,
                        bytes: batch.bytes, deadline: batch.created + .milliseconds(config.deliveryTimeoutMilliseconds)
                    ))
                if keys.last != key { keys.append(key) }
            }
        }
        for key in keys { pump(key) }
    }

    // MARK: Sending

    /// Sends queued batches of `key` while it may: not recovering, under the in-flight limit, past
    /// any backoff, with a live connection (else one is fetched first).
    private func pump(_ key: Key) {
        // Only fields are read here: a copy of the whole state would hold the queued batches' buffers
        // and make `finish()` copy each batch instead of writing its header in place.
        guard let ready = partitions[key]?.ready.isEmpty, !ready, !partitions[key]!.connecting,
            !partitions[key]!.isRecovering, partitions[key]!.inFlight.count < maxInFlight
        else { return }
        if let retryAt = partitions[key]!.retryAt {
            if retryAt > .now {
                armRetryTimer(key, at: retryAt)
                return
            }
            partitions[key]!.retryAt = nil
        }
        if let connection = partitions[key]!.connection, connection.isActive,
            !idempotent || partitions[key]!.producerId >= 0
        {
            sendQueued(key, on: connection)
        } else {
            partitions[key]!.connecting = true
            Task { await self.prepareConnection(key) }
        }
    }

    private func armRetryTimer(_ key: Key, at instant: ContinuousClock.Instant) {
        guard !partitions[key]!.retryTimerArmed else { return }
        partitions[key]!.retryTimerArmed = true
        Task {
            try? await Task.sleep(until: instant, clock: .continuous)
            self.retryTimerFired(key)
        }
    }

    private func retryTimerFired(_ key: Key) {
        partitions[key]!.retryTimerArmed = false
        pump(key)
    }

    /// Gets a producer id (idempotent, when the partition has none) and the leader's connection.
    private func prepareConnection(_ key: Key) async {
        do {
            if idempotent && partitions[key]!.producerId < 0 {
                let identity =
                    partitions[key]!.needsFreshIdentity
                    ? try await cluster.newProducerId() : try await sharedProducerId()
                partitions[key]!.needsFreshIdentity = false
                partitions[key]!.producerId = identity.id
                partitions[key]!.producerEpoch = identity.epoch
                partitions[key]!.nextSequence = 0
            }
            partitions[key]!.connection = try await cluster.leader(key.topic, key.partition)
            partitions[key]!.connecting = false
            pump(key)
        } catch {
            partitions[key]!.connecting = false
            partitions[key]!.connection = nil
            await cluster.invalidate(key.topic)
            let retriable = (error as? ClientError)?.isRetriable ?? false
            // Queued batches wait (until their delivery deadline) if the trouble may pass.
            var state = partitions[key]!
            let now = ContinuousClock.now
            var kept: [Batch] = []
            for var batch in state.ready {
                if retriable && batch.deadline > now && batch.attempts < config.retries {
                    kept.append(batch)
                } else {
                    batch.lastError = error
                    if batch.sequence != nil { state.sequenceBroken = true }
                    finish(batch, key: key, outcome: .failure(retriable ? deliveryTimeout(batch) : error))
                }
            }
            state.ready = kept
            if !kept.isEmpty { state.retryAt = now + backoff(attempts: kept[0].attempts + 1) }
            partitions[key] = state
            if state.sequenceBroken && state.inFlight.isEmpty { finishRecovery(key) }
            pump(key)
        }
    }

    /// The producer id every partition starts with (one InitProducerId per producer).
    private func sharedProducerId() async throws -> (id: Int64, epoch: Int16) {
        if let identity = sharedIdentity { return try await identity.value }
        let cluster = cluster
        let identity = Task { try await cluster.newProducerId() }
        sharedIdentity = identity
        do {
            return try await identity.value
        } catch {
            sharedIdentity = nil
            throw error
        }
    }

    /// Writes queued batches to `connection`, synchronously and in order.
    private func sendQueued(_ key: Key, on connection: BrokerConnection) {
        while partitions[key]!.inFlight.count < maxInFlight, !partitions[key]!.ready.isEmpty {
            var batch = partitions[key]!.ready.removeFirst()
            do {
                if idempotent && batch.sequence == nil {
                    let (producerId, producerEpoch, nextSequence) = (
                        partitions[key]!.producerId, partitions[key]!.producerEpoch, partitions[key]!.nextSequence
                    )
                    batch.sequence = nextSequence
                    batch.builder.producerId = producerId
                    batch.builder.producerEpoch = producerEpoch
                    batch.builder.baseSequence = nextSequence
                    batch.encoded = nil
                    let count = Int32(batch.builder.recordCount)
                    partitions[key]!.nextSequence =
                        nextSequence > Int32.max - count ? 0 : nextSequence + count
                }
                if batch.encoded == nil { batch.encoded = try batch.builder.finish() }
            } catch {
                finish(batch, key: key, outcome: .failure(error))
                continue
            }
            batch.attempts += 1
            let request = ProduceRequest(
                acks: config.acks, timeoutMs: Int32(clamping: config.requestTimeoutMilliseconds),
                topics: [
                    TopicPartitions(name: key.topic, partitions: [.init(index: key.partition, records: batch.encoded)])
                ])
            if config.acks == 0 {
                do {
                    try connection.submitWithoutResponse(request)
                    finish(batch, key: key, outcome: .success(-1))
                } catch {
                    finish(batch, key: key, outcome: .failure(error))
                }
                continue
            }
            let pending: BrokerConnection.PendingResponse<ProduceResponse>
            do {
                // The broker waits up to timeoutMs itself; the connection gives it some slack more.
                pending = try connection.submit(
                    request, timeout: .milliseconds(config.requestTimeoutMilliseconds + 5_000))
            } catch {
                finish(batch, key: key, outcome: .failure(error))
                continue
            }
            let id = batch.id
            partitions[key]!.inFlight.append(batch)
            Task {
                let result: Result<ProduceResponse, Error>
                do {
                    result = .success(try await pending.get())
                } catch {
                    result = .failure(error)
                }
                self.answered(key, batchId: id, result)
            }
        }
    }

    // MARK: Answers

    private enum Outcome {
        case delivered(baseOffset: Int64)
        /// Worth another attempt. `written`: the broker may have written it (no answer came).
        case retry(Error, maybeWritten: Bool, refreshMetadata: Bool, breaksSequence: Bool)
        case failed(Error)
    }

    private func classify(_ result: Result<ProduceResponse, Error>, key: Key, isFirstFailure: Bool) -> Outcome {
        switch result {
        case .failure(let error):
            if let clientError = error as? ClientError, clientError.isRetriable {
                return .retry(error, maybeWritten: true, refreshMetadata: true, breaksSequence: false)
            }
            return .failed(error)
        case .success(let response):
            guard let answer = response.responses.first?.partitions.first else {
                return .failed(
                    ClientError.protocolViolation(
                        broker: "produce \(key.topic)-\(key.partition)", reason: "answer without partition"))
            }
            let error = ClientError.broker(.produce, answer.errorCode, topic: key.topic, partition: key.partition)
            switch answer.errorCode {
            case .noError:
                return .delivered(baseOffset: answer.baseOffset)
            case .duplicateSequenceNumber:
                // Written before; the broker no longer knows where.
                return .delivered(baseOffset: -1)
            case .notLeaderOrFollower, .unknownTopicOrPartition, .leaderNotAvailable:
                return .retry(error, maybeWritten: false, refreshMetadata: true, breaksSequence: false)
            case .outOfOrderSequenceNumber where idempotent:
                // Behind an earlier failure it is expected (that one is resent first); alone it means
                // the broker lost this producer's state: start over under a fresh id.
                return .retry(error, maybeWritten: false, refreshMetadata: false, breaksSequence: isFirstFailure)
            case .unknownProducerId where idempotent, .invalidProducerEpoch where idempotent:
                return .retry(error, maybeWritten: false, refreshMetadata: false, breaksSequence: true)
            default:
                return answer.errorCode.isRetriable
                    ? .retry(error, maybeWritten: false, refreshMetadata: false, breaksSequence: false)
                    : .failed(error)
            }
        }
    }

    private func answered(_ key: Key, batchId: Int, _ result: Result<ProduceResponse, Error>) {
        guard let index = partitions[key]!.inFlight.firstIndex(where: { $0.id == batchId }) else { return }
        let firstFailure = !partitions[key]!.isRecovering
        let outcome = classify(result, key: key, isFirstFailure: firstFailure)
        if case .delivered(let base) = outcome {
            // Handed over without a local copy: `finish` then holds the batch's only reference and
            // its buffer is reused rather than reallocated.
            finish(partitions[key]!.inFlight.remove(at: index), key: key, outcome: .success(base))
            if partitions[key]!.isRecovering && partitions[key]!.inFlight.isEmpty { finishRecovery(key) }
            pump(key)
            return
        }
        var batch = partitions[key]!.inFlight.remove(at: index)
        switch outcome {
        case .delivered:
            preconditionFailure("handled above")
        case .retry(let error, let maybeWritten, let refreshMetadata, let breaksSequence):
            batch.lastError = error
            batch.maybeWritten = batch.maybeWritten || maybeWritten
            if refreshMetadata {
                partitions[key]!.connection = nil
                let cluster = cluster
                Task { await cluster.invalidate(key.topic) }
            }
            if breaksSequence { partitions[key]!.sequenceBroken = true }
            if ContinuousClock.now >= batch.deadline || batch.attempts > config.retries {
                if idempotent { partitions[key]!.sequenceBroken = true }
                finish(batch, key: key, outcome: .failure(deliveryTimeout(batch)))
            } else {
                partitions[key]!.failed.append(batch)
            }
        case .failed(let error):
            if idempotent { partitions[key]!.sequenceBroken = true }
            finish(batch, key: key, outcome: .failure(error))
        }
        if partitions[key]!.isRecovering && partitions[key]!.inFlight.isEmpty { finishRecovery(key) }
        pump(key)
    }

    private func deliveryTimeout(_ batch: Batch) -> Error {
        if batch.attempts > config.retries, let last = batch.lastError { return last }
        return ClientError.timedOut(
            api: "Produce (delivery.timeout.ms; last error: \(batch.lastError.map { "\($0)" } ?? "none"))",
            milliseconds: config.deliveryTimeoutMilliseconds)
    }

    /// Every batch the partition had in flight is answered: put the failed ones back in front, in
    /// order, and resend after a backoff. With a broken sequence, continue under a fresh producer
    /// id; a batch the broker may already hold under the old one fails instead of risking a copy.
    private func finishRecovery(_ key: Key) {
        var state = partitions[key]!
        var retry = state.failed.sorted { $0.id < $1.id }
        state.failed = []
        if state.sequenceBroken {
            state.sequenceBroken = false
            state.producerId = -1
            state.producerEpoch = -1
            state.nextSequence = 0
            state.needsFreshIdentity = true
            var kept: [Batch] = []
            for var batch in retry {
                if batch.maybeWritten {
                    let error = ClientError.timedOut(
                        api: "Produce (outcome unknown after \(batch.lastError.map { "\($0)" } ?? "a lost answer"))",
                        milliseconds: 0)
                    finish(batch, key: key, outcome: .failure(error))
                } else {
                    batch.sequence = nil
                    batch.encoded = nil
                    kept.append(batch)
                }
            }
            retry = kept
            for index in state.ready.indices {
                state.ready[index].sequence = nil
                state.ready[index].encoded = nil
            }
        }
        if let first = retry.first { state.retryAt = .now + backoff(attempts: first.attempts) }
        state.ready = retry + state.ready
        partitions[key] = state
    }

    private func backoff(attempts: Int) -> Duration {
        let base = Double(config.retryBackoffMilliseconds) * pow2(max(0, attempts - 1))
        let capped = min(base, Double(config.retryBackoffMaxMilliseconds))
        return .milliseconds(Int64(capped * Double.random(in: 0.8...1.2)))
    }

    private func pow2(_ exponent: Int) -> Double { exponent >= 30 ? Double(1 << 30) : Double(1 << exponent) }

    // MARK: Completion

    private func finish(_ batch: consuming Batch, key: Key, outcome: Result<Int64, Error>) {
        switch outcome {
        case .success(let base):
            for (index, waiter) in batch.waiters {
                waiter.resume(
                    returning: RecordMetadata(
                        topic: key.topic, partition: key.partition, offset: base < 0 ? -1 : base + Int64(index)))
            }
        case .failure(let error):
            if firstFailure == nil { firstFailure = error }
            for (_, waiter) in batch.waiters { waiter.resume(throwing: error) }
        }
        if let reports, !batch.reportIds.isEmpty {
            let error: Error?
            let base: Int64
            switch outcome {
            case .success(let offset): (base, error) = (offset, nil)
            case .failure(let failure): (base, error) = (-1, failure)
            }
            reports.yield(
                DeliveryReport(
                    topic: key.topic, partition: key.partition, recordIds: batch.reportIds, baseOffset: base,
                    error: error))
        }
        unfinished -= 1
        appender.release(batch.bytes)
        // The batch's buffer goes back for a later batch: a fresh megabyte would cost page faults and
        // zeroing of every page. The batch is consumed first, so the builder holds the only
        // reference (else emptying it would allocate anew).
        let builder = batch.builder
        _ = consume batch
        appender.recycle(consume builder)
        if !spaceWaiters.isEmpty {
            let waiting = spaceWaiters
            spaceWaiters = []
            for waiter in waiting { waiter.continuation.resume() }
        }
        if unfinished == 0 && appender.isEmpty {
            let idle = idleWaiters
            idleWaiters = []
            for waiter in idle { waiter.resume() }
        }
    }

    /// Sends every open batch and waits until nothing is queued or in flight.
    func flush() async throws {
        appender.closeAll()
        drainClosed()
        if unfinished > 0 || !appender.isEmpty {
            await withCheckedContinuation { idleWaiters.append($0) }
        }
        if let failure = firstFailure {
            firstFailure = nil
            throw failure
        }
    }

    /// Ends `deliveryReports` (after the last flush of `close`).
    func finishReports() {
        appender.onClosed(nil)
        reports?.finish()
    }
}

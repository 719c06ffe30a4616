import NIOCore
import StrataProtocol
import StrataStorage

extension Broker {
    /// Fetch without sessions (session id 0 keeps clients in full-fetch mode): every requested
    /// partition is answered, in request order, with whole batches only (KIP-74: until the first
    /// non-empty partition one whole batch may exceed the limits, afterwards each partition gets
    /// min(partition max, bytes left)). Long-polls until `min_bytes` are available or `max_wait_ms`
    /// passes; appends wake it.
    ///
    /// Returns the response and the slices sent from their segment files (zero-copy), in encoding
    /// order: partitions with at least ``zeroCopyBytesMin`` bytes carry `externalRecordsLength`
    /// instead of `records`; smaller ones are copied into the response.
    func fetch(_ request: FetchRequest, eventLoop: EventLoop) async -> (FetchResponse, [LogSlice]) {
        if request.sessionId != 0 {
            var response = FetchResponse()
            response.errorCode = .fetchSessionIdNotFound
            response.sessionId = 0
            return (response, [])
        }
        var read = readFetch(request)
        let minBytes = max(1, Int(request.minBytes))
        let waitMilliseconds = Int64(min(max(0, request.maxWaitMs), config.fetchWaitMillisecondsMax))
        if read.bytes >= minBytes || waitMilliseconds == 0 || hasError(read.response) {
            return (read.response, read.slices)
        }
        let partitions = request.topics.flatMap { topic in
            topic.partitions.map { TopicPartition(topic.name, $0.partition) }
        }
        // A fetch of no partitions can never gain bytes: answer at once rather than park it where no
        // append (nor the shutdown drain, which wakes waiters by partition) would ever reach it.
        guard !partitions.isEmpty, let waiter = waiters.register(partitions) else {
            return (read.response, read.slices)
        }
        defer { waiters.unregister(waiter) }
        let deadline = NIODeadline.now() + .milliseconds(waitMilliseconds)
        // Re-read after registering: an append between the first read and the registration is seen.
        read = readFetch(request)
        while read.bytes < minBytes && !hasError(read.response) && !waiters.isShutDown {
            let remaining = (deadline - .now()).nanoseconds / 1_000_000
            if remaining <= 0 { break }
            await waiter.wait(milliseconds: remaining, eventLoop: eventLoop)
            read = readFetch(request)
        }
        return (read.response, read.slices)
    }

    /// Partitions with at least this many record bytes are sent from the segment file (sendfile);
    /// below it, a copy costs less than the descriptor duplication and the extra write.
    static let zeroCopyBytesMin = 16 * 1024

    private func hasError(_ response: FetchResponse) -> Bool {
        response.responses.contains { $0.partitions.contains { $0.errorCode != .noError } }
    }

    /// One pass over the requested partitions: the response, the record bytes in it, and the slices
    /// left for zero-copy sending (see ``fetch(_:eventLoop:)``).
    func readFetch(_ request: FetchRequest) -> (response: FetchResponse, bytes: Int, slices: [LogSlice]) {
        var slices: [LogSlice] = []
        var budget = request.maxBytes > 0 ? Int(request.maxBytes) : Int(Int32.max)
        var total = 0
        var topics: [TopicPartitions<FetchResponse.PartitionData>] = []
        for topic in request.topics {
            var partitions: [FetchResponse.PartitionData] = []
            for requested in topic.partitions {
                var data = FetchResponse.PartitionData()
                data.partitionIndex = requested.partition
                data.abortedTransactions = nil
                // Never null: librdkafka rejects a MessageSetSize of -1 even on error partitions.
                data.records = ByteBuffer()
                guard let log = logs.log(for: TopicPartition(topic.name, requested.partition)) else {
                    data.errorCode = .unknownTopicOrPartition
                    data.highWatermark = -1
                    partitions.append(data)
                    continue
                }
                let limit = min(max(0, Int(requested.partitionMaxBytes)), budget)
                do throws(StorageError) {
                    let info = try log.read(from: requested.fetchOffset, maxBytes: limit, minOneBatch: total == 0)
                    data.highWatermark = info.highWatermark
                    data.lastStableOffset = info.highWatermark
                    data.logStartOffset = info.logStartOffset
                    if let slice = info.slice {
                        if slice.length >= Self.zeroCopyBytesMin {
                            try slice.checkLastPageReadable()
                            data.records = nil
                            data.externalRecordsLength = slice.length
                            slices.append(slice)
                        } else {
                            var records = ByteBufferAllocator().buffer(capacity: slice.length)
                            try slice.copyBytes(into: &records)
                            data.records = records
                        }
                        total += slice.length
                        budget = max(0, budget - slice.length)
                    }
                } catch {
                    data.errorCode = ErrorMapping.code(for: error)
                    data.highWatermark = log.highWatermark
                    data.lastStableOffset = log.highWatermark
                    data.logStartOffset = log.logStartOffset
                    if data.errorCode != .offsetOutOfRange {
                        logger.warning(
                            "fetch failed", metadata: ["partition": "\(log.topicPartition)", "error": "\(error)"])
                    }
                }
                partitions.append(data)
            }
            topics.append(TopicPartitions(name: topic.name, partitions: partitions))
        }
        var response = FetchResponse()
        response.sessionId = 0
        response.responses = topics
        return (response, total, slices)
    }
}

import NIOCore
import StrataProtocol
import StrataRecords
import StrataStorage

extension Broker {
    typealias PartitionResponse = ProduceResponse.PartitionResponse

    /// Produce: one batch per partition, validated and appended as sent (no recompression), offsets
    /// stamped in the written header; acks=-1 answers only after fdatasync (group commit);
    /// acks=0 gets no answer at all.
    func produce(_ request: ProduceRequest) async -> ProduceResponse? {
        await completeProduce(appendProduce(request))
    }

    /// A produce whose batches are appended and whose answer may still wait for durability.
    struct AppendedProduce: Sendable {
        var acks: Int16
        var responses: [TopicPartitions<PartitionResponse>]
        var durable: [(topic: Int, partition: Int, log: PartitionLog, through: Int64)]
    }

    /// The in-order part of a produce: validates and appends every partition's batch now.
    func appendProduce(_ request: ProduceRequest) -> AppendedProduce {
        var responses: [TopicPartitions<PartitionResponse>] = []
        var durable: [(topic: Int, partition: Int, log: PartitionLog, through: Int64)] = []
        let acksValid = request.acks == 0 || request.acks == 1 || request.acks == -1
        for topic in request.topics {
            var partitions: [PartitionResponse] = []
            for partition in topic.partitions {
                var result = PartitionResponse(index: partition.index, baseOffset: -1)
                if !acksValid {
                    result.errorCode = .invalidRequiredAcks
                } else if request.transactionalId != nil {
                    result.errorCode = .transactionalIdAuthorizationFailed
                    result.errorMessage = "transactions are not supported"
                } else {
                    let topicPartition = TopicPartition(topic.name, partition.index)
                    switch append(partition.records, to: topicPartition) {
                    case .success((let log, let info)):
                        result.baseOffset = info.firstOffset
                        result.logStartOffset = info.logStartOffset
                        if request.acks == -1 {
                            durable.append((responses.count, partitions.count, log, info.lastOffset + 1))
                        }
                    case .failure(let failure):
                        result.errorCode = failure.code
                        result.errorMessage = failure.message
                    }
                }
                partitions.append(result)
            }
            responses.append(TopicPartitions(name: topic.name, partitions: partitions))
        }
        return AppendedProduce(acks: request.acks, responses: responses, durable: durable)
    }

    /// The waiting part: returns once every appended batch that needs it is durable (nil for acks=0).
    func completeProduce(_ appended: AppendedProduce) async -> ProduceResponse? {
        var responses = appended.responses
        for wait in appended.durable {
            do throws(StorageError) {
                try await wait.log.flush(through: wait.through)
            } catch {
                logger.error(
                    "produce not durable",
                    metadata: [
                        "partition": "\(wait.log.topicPartition)",
                        "error": "\(error)",
                    ])
                responses[wait.topic].partitions[wait.partition].errorCode = ErrorMapping.code(for: error)
                responses[wait.topic].partitions[wait.partition].errorMessage = "\(error)"
            }
        }
        if appended.acks == 0 { return nil }
        return ProduceResponse(responses: responses)
    }

    struct ProduceFailure: Error {
        var code: KafkaErrorCode
        var message: String
    }

    /// Validates the single batch of one partition and appends it (idempotence-checked).
    private func append(
        _ records: ByteBuffer?, to partition: TopicPartition
    )
        -> Result<(PartitionLog, AppendInfo), ProduceFailure>
    {
        if partition.topic == OffsetsTopic.name {
            // Only the group coordinator writes the internal offsets topic (Kafka refuses it too).
            return .failure(
                .init(code: .invalidTopicException, message: "cannot produce to internal topic \(partition.topic)"))
        }
        guard let log = logs.log(for: partition) else {
            return .failure(.init(code: .unknownTopicOrPartition, message: "unknown partition \(partition)"))
        }
        guard var bytes = records, bytes.readableBytes > 0 else {
            return .failure(.init(code: .invalidRecord, message: "no records"))
        }
        let batch: RecordBatch
        let header: RecordBatchHeader
        do throws(RecordsError) {
            guard let first = try RecordBatch.next(from: &bytes, batchBytesMax: Int(Int32.max)) else {
                return .failure(.init(code: .invalidRecord, message: "no records"))
            }
            batch = first
            header = try first.header()
        } catch {
            return .failure(.init(code: ErrorMapping.code(for: error), message: "\(error)"))
        }
        guard bytes.readableBytes == 0 else {
            return .failure(.init(code: .invalidRecord, message: "exactly one record batch per partition is allowed"))
        }
        if header.isControl {
            return .failure(.init(code: .invalidRecord, message: "producers may not write control batches"))
        }
        if header.baseOffset != 0 {
            return .failure(.init(code: .invalidRecord, message: "baseOffset must be 0, got \(header.baseOffset)"))
        }
        if log.config.isCompacted, let problem = keylessRecordProblem(batch) {
            return .failure(.init(code: .invalidRecord, message: problem))
        }
        let result: Result<AppendInfo, ProduceFailure>
        if header.producerId >= 0 {
            guard header.baseSequence >= 0 else {
                return .failure(.init(code: .invalidRecord, message: "idempotent batch without sequence"))
            }
            result = appendLock(for: partition).withLock { () -> Result<AppendInfo, ProduceFailure> in
                switch producers.check(
                    partition: partition, producerId: header.producerId,
                    epoch: header.producerEpoch, firstSequence: header.baseSequence,
                    lastSequence: header.lastSequence)
                {
                case .duplicate(let firstOffset):
                    return .success(
                        AppendInfo(
                            firstOffset: firstOffset,
                            lastOffset: firstOffset + Int64(header.lastOffsetDelta),
                            maxTimestamp: header.maxTimestamp, logAppendTime: -1,
                            sizeInBytes: 0, logStartOffset: log.logStartOffset))
                case .outOfOrder(let expected, let got):
                    return .failure(
                        .init(
                            code: .outOfOrderSequenceNumber,
                            message: "expected sequence \(expected), got \(got)"))
                case .fencedEpoch(let current, let got):
                    return .failure(
                        .init(
                            code: .invalidProducerEpoch,
                            message: "producer epoch \(got) is older than \(current)"))
                case .append:
                    let appended = appendToLog(batch, log: log)
                    if case .success(let info) = appended {
                        producers.record(
                            partition: partition, producerId: header.producerId,
                            epoch: header.producerEpoch,
                            batch: .init(
                                firstSequence: header.baseSequence,
                                lastSequence: header.lastSequence,
                                firstOffset: info.firstOffset, lastOffset: info.lastOffset))
                    }
                    return appended
                }
            }
        } else {
            result = appendToLog(batch, log: log)
        }
        return result.map { (log, $0) }
    }

    /// Compacted topics need a key on every record (decodes the batch; compacted topics only).
    private func keylessRecordProblem(_ batch: RecordBatch) -> String? {
        do throws(RecordsError) {
            var records = try batch.makeRecordIterator()
            while let record = try records.next() {
                if record.key == nil { return "compacted topic: record at offset delta \(record.offset) has no key" }
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    private func appendToLog(_ batch: RecordBatch, log: PartitionLog) -> Result<AppendInfo, ProduceFailure> {
        do throws(StorageError) {
            let info = try log.append(batch, leaderEpoch: Self.leaderEpoch)
            waiters.notify(log.topicPartition)
            return .success(info)
        } catch {
            if case .invalidBatch = error {
            } else {
                logger.warning("append failed", metadata: ["partition": "\(log.topicPartition)", "error": "\(error)"])
            }
            return .failure(.init(code: ErrorMapping.code(for: error), message: "\(error)"))
        }
    }
}

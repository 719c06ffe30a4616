/// InitProducerId (key 22) request, v0–v1.
public struct InitProducerIdRequest: KafkaRequest {
    public typealias Response = InitProducerIdResponse
    public static var apiKey: ApiKey { .initProducerId }

    /// Null for an idempotent (non-transactional) producer.
    public var transactionalId: String?
    public var transactionTimeoutMs: Int32 = 0

    public init() {}

    public init(transactionalId: String?, transactionTimeoutMs: Int32) {
        self.transactionalId = transactionalId
        self.transactionTimeoutMs = transactionTimeoutMs
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.nullableString(&transactionalId, "transactional_id")
        try coder.int32(&transactionTimeoutMs, "transaction_timeout_ms")
    }
}

/// InitProducerId (key 22) response, v0–v1. Throttle time is the first field.
public struct InitProducerIdResponse: KafkaResponse {
    public static var apiKey: ApiKey { .initProducerId }

    public var throttleTimeMs: Int32 = 0
    public var errorCode = KafkaErrorCode.noError
    public var producerId: Int64 = -1
    public var producerEpoch: Int16 = 0

    public init() {}

    public init(
        throttleTimeMs: Int32 = 0, errorCode: KafkaErrorCode = .noError, producerId: Int64,
        producerEpoch: Int16
    ) {
        self.throttleTimeMs = throttleTimeMs
        self.errorCode = errorCode
        self.producerId = producerId
        self.producerEpoch = producerEpoch
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.int32(&throttleTimeMs, "throttle_time_ms")
        try coder.errorCode(&errorCode, "error_code")
        try coder.int64(&producerId, "producer_id")
        try coder.int16(&producerEpoch, "producer_epoch")
    }
}

import StrataProtocol

/// Everything the client can fail with, naming the broker, topic, partition or API involved.
public enum ClientError: Error, Sendable, CustomStringConvertible, Equatable {
    /// No bootstrap address answered.
    case noBrokerAvailable(tried: [String])
    case connectionFailed(broker: String, reason: String)
    /// The connection closed (or failed) with requests outstanding.
    case connectionClosed(broker: String)
    /// The broker does not support a version of `api` this client can speak.
    case unsupportedApi(broker: String, api: String)
    /// A response could not be decoded, or did not match its request.
    case protocolViolation(broker: String, reason: String)
    /// The broker answered with an error code.
    case broker(api: String, topic: String?, partition: Int32?, code: Int16, name: String)
    case unknownTopic(String)
    /// No answer within the request timeout.
    case timedOut(api: String, milliseconds: Int64)
    case closed
    case invalidArgument(String)
    /// A record whose encoded size exceeds `max.request.size` or `buffer.memory`; never sent.
    case recordTooLarge(topic: String, bytes: Int, limit: Int)
    /// A batch from the broker failed validation (CRC, lengths).
    case corruptBatch(topic: String, partition: Int32, offset: Int64, reason: String)

    public var description: String {
        switch self {
        case .noBrokerAvailable(let tried): return "no broker available (tried \(tried.joined(separator: ", ")))"
        case .connectionFailed(let broker, let reason): return "cannot connect to \(broker): \(reason)"
        case .connectionClosed(let broker): return "connection to \(broker) closed with requests outstanding"
        case .unsupportedApi(let broker, let api): return "\(broker) supports no version of \(api) this client speaks"
        case .protocolViolation(let broker, let reason): return "protocol violation from \(broker): \(reason)"
        case .broker(let api, let topic, let partition, let code, let name):
            let place = topic.map { " for \($0)" + (partition.map { "-\($0)" } ?? "") } ?? ""
            return "\(api)\(place) failed: \(name) (\(code))"
        case .unknownTopic(let topic): return "unknown topic \(topic)"
        case .timedOut(let api, let milliseconds): return "\(api) timed out after \(milliseconds) ms"
        case .closed: return "the client is closed"
        case .invalidArgument(let reason): return "invalid argument: \(reason)"
        case .recordTooLarge(let topic, let bytes, let limit):
            return
                "record for \(topic) is \(bytes) bytes, more than the \(limit) allowed (max.request.size / buffer.memory)"
        case .corruptBatch(let topic, let partition, let offset, let reason):
            return "corrupt batch from \(topic)-\(partition) at offset \(offset): \(reason)"
        }
    }

    /// Whether retrying may succeed: connection trouble, timeouts, and retriable broker codes.
    public var isRetriable: Bool {
        switch self {
        case .noBrokerAvailable, .connectionFailed, .connectionClosed, .timedOut: return true
        case .broker(_, _, _, let code, _): return KafkaErrorCode(rawValue: code).isRetriable
        default: return false
        }
    }

    static func broker(
        _ api: ApiKey, _ code: KafkaErrorCode, topic: String? = nil, partition: Int32? = nil
    )
        -> ClientError
    {
        .broker(api: "\(api)", topic: topic, partition: partition, code: code.rawValue, name: code.name)
    }
}

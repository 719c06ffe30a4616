import Metrics
import StrataProtocol
import Synchronization

/// The broker's metrics, emitted through swift-metrics (the executable bootstraps Prometheus):
///
/// | name | kind | dimensions |
/// |---|---|---|
/// | `strata_requests_total` | counter | `api` |
/// | `strata_request_errors_total` | counter | `api`, `error` (Kafka error code) |
/// | `strata_bytes_in_total`, `strata_bytes_out_total` | counter | — |
/// | `strata_produce_latency_seconds`, `strata_fetch_latency_seconds` | timer (histogram) | — |
/// | `strata_connections` | gauge | — |
/// | `strata_log_end_offset` | gauge | `topic`, `partition` (set by the owner, see `recordLogEndOffsets`) |
///
/// Metric handles are created once and cached (creation goes through the factory's lock);
/// error counters, rare by nature, are created on demand.
public final class BrokerMetrics: Sendable {
    private let requests: [Int16: Counter]
    let bytesIn = Counter(label: "strata_bytes_in_total")
    let bytesOut = Counter(label: "strata_bytes_out_total")
    let produceLatency = Metrics.Timer(label: "strata_produce_latency_seconds")
    let fetchLatency = Metrics.Timer(label: "strata_fetch_latency_seconds")
    private let connectionsGauge = Gauge(label: "strata_connections")
    private let connectionCount = Atomic<Int>(0)

    public init() {
        var requests: [Int16: Counter] = [:]
        for api in ApiKey.allCases {
            requests[api.rawValue] = Counter(label: "strata_requests_total", dimensions: [("api", "\(api)")])
        }
        self.requests = requests
    }

    func request(_ api: ApiKey) { requests[api.rawValue]?.increment() }

    func error(_ api: ApiKey, _ code: KafkaErrorCode) {
        Counter(label: "strata_request_errors_total", dimensions: [("api", "\(api)"), ("error", "\(code.rawValue)")])
            .increment()
    }

    func connectionOpened() {
        connectionsGauge.record(connectionCount.wrappingAdd(1, ordering: .relaxed).newValue)
    }

    func connectionClosed() {
        connectionsGauge.record(connectionCount.wrappingSubtract(1, ordering: .relaxed).newValue)
    }

    /// Publishes every partition's log end offset (call periodically).
    public static func recordLogEndOffsets(_ offsets: [(topic: String, partition: Int32, logEndOffset: Int64)]) {
        for entry in offsets {
            Gauge(
                label: "strata_log_end_offset",
                dimensions: [("topic", entry.topic), ("partition", "\(entry.partition)")]
            )
            .record(entry.logEndOffset)
        }
    }
}

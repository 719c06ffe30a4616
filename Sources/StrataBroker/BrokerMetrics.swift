import Metrics
import StrataProtocol
import StrataStorage
import Synchronization

/// The broker's metrics, emitted through swift-metrics (the executable bootstraps Prometheus):
///
/// | name | kind | dimensions |
/// |---|---|---|
/// | `strata_requests_total` | counter | `api` |
/// | `strata_request_errors_total` | counter | `api`, `error` (Kafka error code) |
/// | `strata_bytes_in_total`, `strata_bytes_out_total` | counter | — |
/// | `strata_fetch_sendfile_bytes_total` | counter | — (record bytes sent from segment files, zero-copy) |
/// | `strata_produce_latency_seconds`, `strata_fetch_latency_seconds` | timer (histogram) | — |
/// | `strata_connections` | gauge | — |
/// | `strata_bad_requests_total` | counter | `kind` (`frame`: bad size prefix or truncated; `request`: undecodable) |
/// | `strata_log_end_offset` | gauge | `topic`, `partition` (set by the owner, see `recordLogEndOffsets`) |
/// | `strata_cleaner_runs_total` | counter | `kind` (`pass`, `compaction`, `retention`) |
/// | `strata_cleaner_bytes_removed_total`, `strata_cleaner_records_removed_total` | counter | `kind` |
/// | `strata_cleaner_run_seconds` | timer | `kind` (`pass`, `compaction`) |
/// | `strata_cleaner_dirty_ratio` | gauge | `topic`, `partition` (compacted logs, before each pass) |
/// | `strata_cleaner_max_compaction_delay_seconds` | gauge | — |
///
/// Metric handles are created once and cached (creation goes through the factory's lock);
/// error counters, rare by nature, are created on demand.
public final class BrokerMetrics: Sendable {
    private let requests: [Int16: Counter]
    let bytesIn = Counter(label: "strata_bytes_in_total")
    let bytesOut = Counter(label: "strata_bytes_out_total")
    let sendfileBytes = Counter(label: "strata_fetch_sendfile_bytes_total")
    let produceLatency = Metrics.Timer(label: "strata_produce_latency_seconds")
    let fetchLatency = Metrics.Timer(label: "strata_fetch_latency_seconds")
    private let connectionsGauge = Gauge(label: "strata_connections")
    private let connectionCount = Atomic<Int>(0)
    private let badRequests = [BadInput.frame, .request].map {
        Counter(label: "strata_bad_requests_total", dimensions: [("kind", $0.rawValue)])
    }

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

    /// Why a connection was closed for bad input.
    enum BadInput: String { case frame, request }

    func badRequest(_ kind: BadInput) {
        badRequests[kind == .frame ? 0 : 1].increment()
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

    /// An observer for ``LogCleaner`` that publishes its events as the `strata_cleaner_*` metrics.
    public static func cleanerObserver() -> @Sendable (CleanerEvent) -> Void {
        let passes = Counter(label: "strata_cleaner_runs_total", dimensions: [("kind", "pass")])
        let compactions = Counter(label: "strata_cleaner_runs_total", dimensions: [("kind", "compaction")])
        let retentions = Counter(label: "strata_cleaner_runs_total", dimensions: [("kind", "retention")])
        let compactedBytes = Counter(label: "strata_cleaner_bytes_removed_total", dimensions: [("kind", "compaction")])
        let retainedBytes = Counter(label: "strata_cleaner_bytes_removed_total", dimensions: [("kind", "retention")])
        let compactedRecords = Counter(
            label: "strata_cleaner_records_removed_total", dimensions: [("kind", "compaction")])
        let passTime = Metrics.Timer(label: "strata_cleaner_run_seconds", dimensions: [("kind", "pass")])
        let compactionTime = Metrics.Timer(label: "strata_cleaner_run_seconds", dimensions: [("kind", "compaction")])
        let maxDelay = Gauge(label: "strata_cleaner_max_compaction_delay_seconds")
        return { event in
            switch event {
            case .retention(_, _, let bytes):
                retentions.increment()
                retainedBytes.increment(by: bytes)
            case .compaction(_, let result, let seconds, _):
                compactions.increment()
                compactedBytes.increment(by: max(0, result.bytesIn - result.bytesOut))
                compactedRecords.increment(by: result.recordsRemoved)
                compactionTime.recordNanoseconds(Int64(seconds * 1e9))
            case .pass(_, let seconds, let ratios, let delay):
                passes.increment()
                passTime.recordNanoseconds(Int64(seconds * 1e9))
                maxDelay.record(Double(delay) / 1000)
                for (partition, ratio) in ratios {
                    Gauge(
                        label: "strata_cleaner_dirty_ratio",
                        dimensions: [("topic", partition.topic), ("partition", "\(partition.partition)")]
                    )
                    .record(ratio)
                }
            }
        }
    }
}

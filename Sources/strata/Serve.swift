import ArgumentParser
import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import StrataBroker
import StrataStorage

/// `strata serve`: runs the broker until SIGTERM/SIGINT, then drains and shuts down cleanly.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the log server (Kafka protocol).",
        discussion: """
            Settings use Kafka's names, e.g. --set num.partitions=3 --set log.segment.bytes=104857600.
            A --config file holds the same key=value lines (# comments allowed); --set wins over it.
            """)

    @Option(help: "Data directory.")
    var dataDir = "./data"

    @Option(help: "Address to listen on, HOST:PORT (port 0 picks a free port).")
    var listen = "0.0.0.0:9092"

    @Option(help: "Address advertised to clients, HOST:PORT (default: the listen address, 0.0.0.0 → localhost).")
    var advertise: String?

    @Option(help: "Prometheus /metrics address, HOST:PORT, or 'off'.")
    var metrics = "0.0.0.0:9644"

    @Option(help: "Properties file with Kafka-named settings.")
    var config: String?

    @Option(name: .customLong("set"), help: "A Kafka-named setting key=value (repeatable).")
    var settings: [String] = []

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "strata")
        Self.raiseOpenFilesLimit(logger: logger)
        var brokerConfig = BrokerConfig()
        (brokerConfig.listenHost, brokerConfig.listenPort) = try Self.hostPort(listen, option: "--listen")
        if let advertise {
            let (host, port) = try Self.hostPort(advertise, option: "--advertise")
            brokerConfig.advertisedHost = host
            brokerConfig.advertisedPort = port
        }
        for (key, value) in try loadSettings() {
            do { try brokerConfig.set(key, value) } catch {
                throw ValidationError("\(error)")
            }
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let logs = try LogManager.open(
            dataDirectory: dataDir, defaultConfig: brokerConfig.logDefaults,
            logger: Logger(label: "strata.storage"))
        let broker = Broker(config: brokerConfig, logs: logs, logger: Logger(label: "strata.broker"))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let listenHost = brokerConfig.listenHost
        let server = KafkaServer(broker: broker, group: group, logger: Logger(label: "strata.server")) { port in
            // One line on stdout with the bound address, for scripts and tests (port 0).
            FileHandle.standardOutput.write(Data("strata listening on \(listenHost):\(port)\n".utf8))
        }
        let maintenance = StorageMaintenance(logs: logs)
        let cleaner = LogCleaner(
            manager: logs, config: brokerConfig.cleaner, logger: Logger(label: "strata.cleaner"),
            observer: BrokerMetrics.cleanerObserver())
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: server), .init(service: maintenance), .init(service: CleanerService(cleaner: cleaner)),
        ]
        if metrics != "off" {
            let (host, port) = try Self.hostPort(metrics, option: "--metrics")
            services.append(
                .init(
                    service: MetricsServer(
                        host: host, port: port, registry: registry, group: group,
                        logger: Logger(label: "strata.metrics"))))
        }
        let serviceGroup = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        var failure: Error?
        do {
            try await serviceGroup.run()
        } catch {
            logger.error("server stopped with an error", metadata: ["error": "\(error)"])
            failure = error
        }
        try logs.close()
        try await group.shutdownGracefully()
        if let failure {
            // E.g. the listen address is taken: say so and exit non-zero.
            FileHandle.standardError.write(Data("strata serve: \(failure)\n".utf8))
            throw ExitCode.failure
        }
        logger.info("clean shutdown complete")
    }

    private func loadSettings() throws -> [(String, String)] {
        var pairs: [(String, String)] = []
        if let config {
            guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
                throw ValidationError("cannot read --config file \(config)")
            }
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                guard let equals = trimmed.firstIndex(of: "=") else {
                    throw ValidationError("\(config):\(number + 1): expected key=value")
                }
                pairs.append(
                    (
                        String(trimmed[..<equals]).trimmingCharacters(in: .whitespaces),
                        String(trimmed[trimmed.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
                    ))
            }
        }
        for setting in settings {
            guard let equals = setting.firstIndex(of: "=") else {
                throw ValidationError("--set \(setting): expected key=value")
            }
            pairs.append((String(setting[..<equals]), String(setting[setting.index(after: equals)...])))
        }
        return pairs
    }

    /// Raises the soft RLIMIT_NOFILE to the hard limit: every connection and every partition's
    /// segment files take descriptors, and distributions default the soft limit to 1024.
    static func raiseOpenFilesLimit(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let before = limit.rlim_cur
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
                logger.warning(
                    "could not raise the open files limit",
                    metadata: ["soft": "\(before)", "hard": "\(limit.rlim_max)", "errno": "\(errno)"])
                return
            }
        }
        logger.info("open files limit", metadata: ["soft": "\(limit.rlim_cur)", "was": "\(before)"])
    }

    static func hostPort(_ text: String, option: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ValidationError("\(option) \(text): expected HOST:PORT")
        }
        return (String(text[..<colon]), port)
    }
}

/// Runs the cleaner thread for the life of the service group.
struct CleanerService: Service {
    let cleaner: LogCleaner

    func run() async throws {
        cleaner.start()
        try? await gracefulShutdown()
        cleaner.stop()
    }
}

/// Periodic storage work: the `flush.ms` policy and recovery-point checkpoints.
struct StorageMaintenance: Service {
    let logs: LogManager
    static let tickMilliseconds: Int64 = 100
    static let checkpointEveryTicks = 600
    static let metricsEveryTicks = 10

    func run() async throws {
        var ticks = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(Self.tickMilliseconds))
            logs.flushDueLogs()
            ticks += 1
            if ticks % Self.metricsEveryTicks == 0 {
                BrokerMetrics.recordLogEndOffsets(
                    logs.allLogs().map {
                        ($0.topicPartition.topic, $0.topicPartition.partition, $0.logEndOffset)
                    })
            }
            if ticks % Self.checkpointEveryTicks == 0 { try? logs.checkpoint() }
        }
    }
}

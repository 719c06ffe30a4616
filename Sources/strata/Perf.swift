import ArgumentParser
import Foundation
import Histogram
import NIOCore
import StrataClient

#if canImport(Glibc)
import Glibc
#endif

/// `strata perf produce|consume`: throughput and latency of StrataClient against any broker, printed
/// like Kafka's `kafka-producer-perf-test` / `kafka-consumer-perf-test`.
struct Perf: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure produce or consume throughput and latency with StrataClient.",
        subcommands: [ProducePerf.self, ConsumePerf.self, CommitPerf.self, RebalancePerf.self])
}

/// CPU time (user + system) of this process, in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

let stdoutIsTerminal = isatty(STDOUT_FILENO) == 1

struct ProducePerf: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Produce --num-records records of --record-size bytes and report throughput and latency.",
        discussion: """
            Latency is sampled: every --sample-every-th record is sent with send() and timed from the call
            to its acknowledgement (the others are enqueued); percentiles come from an HdrHistogram.
            """)

    @OptionGroup var client: ClientOptions
    @Argument(help: "Topic name.") var topic: String
    @Option(help: "Records to send.") var numRecords: Int
    @Option(help: "Bytes per record value.") var recordSize: Int
    @Option(help: "Acknowledgements: 0, 1 or all.") var acks = "1"
    @Option(help: "Records per second at most (-1: as fast as possible).") var throughput: Double = -1
    @Option(help: "Compression: lz4 or none.") var compression = "none"
    @Option(help: "Producer batch.size in bytes (default: librdkafka's 1 000 000).") var batchSize = 1_000_000
    @Option(help: "Producer linger.ms.") var lingerMs: Int64 = 5
    @Option(help: "Producer max.in.flight.requests.per.connection (per partition; at most 5 when idempotent).")
    var maxInFlight = 5
    @Option(help: "Time one record in this many.") var sampleEvery = 100
    @Flag(help: "Turn idempotence off (it is on by default with --acks all), as rdkafka_performance does.")
    var noIdempotence = false

    func validate() throws {
        guard numRecords > 0, recordSize >= 0, sampleEvery > 0, maxInFlight > 0 else {
            throw ValidationError(
                "--num-records, --sample-every and --max-in-flight must be positive, --record-size non-negative")
        }
    }

    func run() async throws {
        var config = ProducerConfig()
        config.acks = try parseAcks(acks)
        config.compression = try parseCompression(compression)
        config.maxBlockMilliseconds = client.maxBlockMs
        config.batchBytes = batchSize
        config.lingerMilliseconds = lingerMs
        config.maxInFlightRequests = maxInFlight
        config.bufferBytes = max(config.bufferBytes, 4 * batchSize)
        if noIdempotence { config.enableIdempotence = false }
        config.clientId = "strata-perf-producer"
        let value = [UInt8](repeating: UInt8(ascii: "x"), count: recordSize)
        let numRecords = numRecords
        let sampleEvery = sampleEvery
        let throughput = throughput
        let topic = topic
        try await runClient {
            let producer = try await StrataProducer(bootstrap: client.addresses, config: config)
            // Metadata first, so the clock measures sending only.
            try await producer.send(topic: topic, key: nil, value: Array("warm-up".utf8))
            let latencies = LatencyRecorder()
            let cpuStart = processCPUSeconds()
            let start = monotonicSeconds()
            var nextProgress = start + 5
            var samples: [Task<Void, Error>] = []
            for index in 0..<numRecords {
                if index % sampleEvery == 0 {
                    let sent = monotonicSeconds()
                    samples.append(
                        Task {
                            try await producer.send(topic: topic, key: nil, value: value)
                            await latencies.record(seconds: monotonicSeconds() - sent)
                        })
                } else {
                    try await producer.enqueue(topic: topic, key: nil, value: value)
                }
                if throughput > 0 && index % 1000 == 999 {
                    let due = start + Double(index + 1) / throughput
                    let now = monotonicSeconds()
                    if due > now { try await Task.sleep(for: .seconds(due - now)) }
                }
                if stdoutIsTerminal && index % 10_000 == 0 && monotonicSeconds() >= nextProgress {
                    let elapsed = monotonicSeconds() - start
                    print(String(format: "%d records sent, %.1f records/sec", index, Double(index) / elapsed))
                    nextProgress += 5
                }
            }
            try await producer.flush()
            for sample in samples { try await sample.value }
            let elapsed = monotonicSeconds() - start
            let cpu = processCPUSeconds() - cpuStart
            try await producer.close()
            let histogram = await latencies.histogram
            let perSecond = Double(numRecords) / elapsed
            func ms(_ microseconds: UInt64) -> String { String(format: "%.2f", Double(microseconds) / 1000) }
            print(
                String(
                    format: "%d records sent, %.1f records/sec (%.2f MB/sec), %@ ms avg latency, %@ ms max latency, "
                        + "%@ ms 50th, %@ ms 99th, %@ ms 99.9th.",
                    numRecords, perSecond, perSecond * Double(recordSize) / 1e6,
                    String(format: "%.2f", histogram.mean / 1000), ms(histogram.max),
                    ms(histogram.valueAtPercentile(50)), ms(histogram.valueAtPercentile(99)),
                    ms(histogram.valueAtPercentile(99.9))))
            print(
                String(
                    format: "client CPU: %.2f s, %.3f µs per record (%.0f %% of one core)", cpu,
                    cpu / Double(numRecords) * 1e6, cpu / elapsed * 100))
        }
    }
}

/// Latency samples in microseconds. An actor: samples arrive from many tasks.
actor LatencyRecorder {
    private(set) var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000)

    func record(seconds: Double) {
        _ = histogram.record(UInt64(max(0, seconds * 1e6)))
    }
}

struct ConsumePerf: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Consume --num-records records from the beginning of a topic and report throughput.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "Topic name.") var topic: String
    @Option(help: "Records to read.") var numRecords: Int
    @Option(help: "Bytes per fetch per partition.") var fetchSize: Int32 = 1 << 20
    @Flag(help: "Skip the CRC-32C check of fetched batches (check.crcs=false, librdkafka's default).")
    var noCheckCrcs = false

    func run() async throws {
        var config = ConsumerConfig()
        config.connectTimeoutMilliseconds = client.maxBlockMs
        config.partitionFetchMaxBytes = fetchSize
        config.checkCRCs = !noCheckCrcs
        config.clientId = "strata-perf-consumer"
        try await runClient {
            let consumer = try await StrataConsumer(bootstrap: client.addresses, config: config)
            try await consumer.assign(topic: topic, from: .earliest)
            let cpuStart = processCPUSeconds()
            let asked = monotonicSeconds()
            // Throughput is timed from the first record received, as rdkafka_performance times its
            // consumer; the wait for the first fetch is reported on its own.
            var start = asked
            var startDate = Date()
            var count = 0
            var bytes = 0
            let numRecords = numRecords  // a property wrapper read per record costs more than the record
            if numRecords > 0 {
                for try await record in consumer.records {
                    if count == 0 {
                        start = monotonicSeconds()
                        startDate = Date()
                    }
                    count += 1
                    bytes += record.value?.readableBytes ?? 0
                    if count >= numRecords { break }
                }
            }
            let firstRecordMilliseconds = (start - asked) * 1000
            let elapsed = max(monotonicSeconds() - start, 1e-9)
            let cpu = processCPUSeconds() - cpuStart
            await consumer.close()
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyy-MM-dd HH:mm:ss:SSS"
            let megabytes = Double(bytes) / 1_048_576
            print("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec")
            print(
                String(
                    format: "%@, %@, %.4f, %.4f, %d, %.4f", formatter.string(from: startDate),
                    formatter.string(from: startDate.addingTimeInterval(elapsed)), megabytes, megabytes / elapsed,
                    count, Double(count) / elapsed))
            print(
                String(
                    format: "%d records consumed, %.1f records/sec (%.2f MB/sec); client CPU: %.2f s, "
                        + "%.3f µs per record; first record after %.1f ms", count, Double(count) / elapsed,
                    Double(bytes) / elapsed / 1e6, cpu, cpu / Double(max(count, 1)) * 1e6, firstRecordMilliseconds))
        }
    }
}

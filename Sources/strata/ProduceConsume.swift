import ArgumentParser
import Foundation
import NIOCore
import StrataClient
import StrataRecords
import Synchronization

/// Parses `--acks`: 0, 1, all (or -1).
func parseAcks(_ text: String) throws -> Int16 {
    switch text {
    case "0": 0
    case "1": 1
    case "all", "-1": -1
    default: throw ValidationError("--acks \(text): expected 0, 1 or all")
    }
}

/// Parses `--compression`: lz4 or none.
func parseCompression(_ text: String) throws -> CompressionCodec {
    switch text {
    case "lz4": .lz4
    case "none": .none
    default: throw ValidationError("--compression \(text): expected lz4 or none")
    }
}

/// `strata produce TOPIC`: one record per input line.
struct Produce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Produce one record per line of standard input (or --file).",
        discussion: "With --key-separator S, the text before the first S of a line is the key.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "Topic name.") var topic: String
    @Option(help: "Read lines from this file instead of standard input.") var file: String?
    @Option(help: "Split each line into key and value at the first occurrence of this string.")
    var keySeparator: String?
    @Option(help: "Acknowledgements: 0, 1 or all.") var acks = "all"
    @Option(help: "Compression: lz4 or none.") var compression = "lz4"
    @Option(help: "Send every record to this partition (default: by key, murmur2 as Kafka).")
    var partition: Int32?
    @Flag(
        help: ArgumentHelp(
            "Print each acknowledged record to standard output as PARTITION<tab>OFFSET<tab>LINE, when the "
                + "broker acknowledges it; records that failed go to standard error as FAILED<tab>LINE<tab>REASON."))
    var printOffsets = false

    func validate() throws {
        if printOffsets && acks == "0" { throw ValidationError("--print-offsets needs --acks 1 or all") }
    }

    func run() async throws {
        var config = ProducerConfig()
        config.acks = try parseAcks(acks)
        config.compression = try parseCompression(compression)
        config.maxBlockMilliseconds = client.maxBlockMs
        config.deliveryReports = printOffsets
        config.clientId = "strata-cli-producer"
        let input: FileHandle
        if let file {
            guard let handle = FileHandle(forReadingAtPath: file) else {
                throw ValidationError("--file \(file): cannot open")
            }
            input = handle
        } else {
            input = FileHandle.standardInput
        }
        try await runClient {
            let producer = try await StrataProducer(bootstrap: client.addresses, config: config)
            let printer = printOffsets ? DeliveryPrinter() : nil
            let printing = Task { [reports = producer.deliveryReports] in
                for await report in reports { printer?.print(report) }
            }
            var count = 0
            do {
                var lines = LineReader(input)
                while let line = lines.next() {
                    var key: [UInt8]?
                    var value = Array(line.utf8)
                    if let keySeparator, let range = line.range(of: keySeparator) {
                        key = Array(line[..<range.lowerBound].utf8)
                        value = Array(line[range.upperBound...].utf8)
                    }
                    let id = try await producer.enqueue(topic: topic, key: key, value: value, partition: partition)
                    printer?.sent(id: id, line: line)
                    count += 1
                }
                try await producer.close()
            } catch {
                try? await producer.close()
                await printing.value
                throw error
            }
            await printing.value
            FileHandle.standardError.write(Data("strata: produced \(count) records to \(topic)\n".utf8))
        }
    }
}

/// Turns delivery reports into `strata produce --print-offsets` lines. A report can arrive before
/// `enqueue` has returned its id to the reading loop, so lines and outcomes meet in whichever order
/// they come. State guarded by one `Mutex`.
final class DeliveryPrinter: Sendable {
    private struct State {
        var lines: [UInt64: String] = [:]
        /// Outcomes whose line was not known yet: id → (partition, offset) or the failure.
        var early: [UInt64: Result<(Int32, Int64), ClientFailure>] = [:]
    }

    /// A failure's description, so outcomes stay `Sendable`.
    struct ClientFailure: Error { var reason: String }

    private let state = Mutex(State())

    /// Records the input line of record `id`; prints it at once if its outcome already came.
    func sent(id: UInt64, line: String) {
        let outcome: Result<(Int32, Int64), ClientFailure>? = state.withLock { state in
            if let outcome = state.early.removeValue(forKey: id) { return outcome }
            state.lines[id] = line
            return nil
        }
        if let outcome { emit([(line, outcome)]) }
    }

    /// Prints the records of one report whose lines are known; keeps the rest for `sent`.
    func print(_ report: DeliveryReport) {
        let reason = report.error.map { "\($0)" }
        let ready: [(String, Result<(Int32, Int64), ClientFailure>)] = state.withLock { state in
            var ready: [(String, Result<(Int32, Int64), ClientFailure>)] = []
            for (index, id) in report.recordIds.enumerated() {
                let outcome: Result<(Int32, Int64), ClientFailure> =
                    if let offset = report.offset(at: index) {
                        .success((report.partition, offset))
                    } else {
                        .failure(ClientFailure(reason: reason ?? "no offset"))
                    }
                if let line = state.lines.removeValue(forKey: id) {
                    ready.append((line, outcome))
                } else {
                    state.early[id] = outcome
                }
            }
            return ready
        }
        emit(ready)
    }

    private func emit(_ outcomes: [(String, Result<(Int32, Int64), ClientFailure>)]) {
        var delivered = ""
        var failed = ""
        for (line, outcome) in outcomes {
            switch outcome {
            case .success(let (partition, offset)): delivered += "\(partition)\t\(offset)\t\(line)\n"
            case .failure(let failure): failed += "FAILED\t\(line)\t\(failure.reason)\n"
            }
        }
        if !delivered.isEmpty { FileHandle.standardOutput.write(Data(delivered.utf8)) }
        if !failed.isEmpty { FileHandle.standardError.write(Data(failed.utf8)) }
    }
}

/// `strata consume TOPIC`: prints records, one per line (or per --format).
struct Consume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a topic's records.",
        discussion: """
            --format takes placeholders %t topic, %p partition, %o offset, %T timestamp (ms), %k key, %v value,
            %h headers (k=v,…) and escapes \\n \\t; or 'json' for one JSON object per record. Default: %v.
            """)

    @OptionGroup var client: ClientOptions
    @Argument(help: "Topic name.") var topic: String
    @Flag(help: "Start at the earliest offset (the default is the end, like kafka-console-consumer).")
    var fromBeginning = false
    @Option(help: "Start at this offset.") var offset: Int64?
    @Option(help: "Start at the first record with a timestamp ≥ this (ms since the epoch).") var timestamp: Int64?
    @Option(help: "Only this partition.") var partition: Int32?
    @Option(help: "Stop after this many records.") var maxMessages: Int?
    @Flag(help: "Stop once the end offsets seen at start are reached (like kcat -e).") var exitAtEnd = false
    @Option(help: "Output format (see below).") var format = "%v"
    @Option(
        help: ArgumentHelp(
            "Consume as a member of this group: partitions come from the group, reading starts at its "
                + "committed offsets (else the end, or the beginning with --from-beginning), and progress "
                + "is committed every 5 s and on exit."))
    var group: String?

    func validate() throws {
        if [fromBeginning, offset != nil, timestamp != nil].filter({ $0 }).count > 1 {
            throw ValidationError("give at most one of --from-beginning, --offset, --timestamp")
        }
        if group != nil && (offset != nil || timestamp != nil || partition != nil || exitAtEnd) {
            throw ValidationError("--group takes no --offset, --timestamp, --partition or --exit-at-end")
        }
    }

    func run() async throws {
        let start: StartPosition =
            if fromBeginning { .earliest } else if let offset { .offset(offset) } else if let timestamp {
                .timestamp(timestamp)
            } else { .latest }
        let formatter = RecordFormatter(format)
        if let group {
            try await runClient { try await consumeInGroup(group, formatter) }
            return
        }
        try await runClient {
            // Consuming never creates a topic; an unknown one is an error (exit status 1).
            let ends: [Int32: Int64?] = try await withAdmin(client) { admin in
                _ = try await admin.describeTopics([topic])
                return exitAtEnd ? try await admin.listOffsets(topic, .latest, partitions: partition.map { [$0] }) : [:]
            }
            let consumer = try await StrataConsumer(bootstrap: client.addresses)
            do {
                try await consumer.assign(topic: topic, partitions: partition.map { [$0] }, from: start)
                var remaining: Set<Int32> = []
                for (partition, end) in ends {
                    let position = await consumer.position(topic: topic, partition: partition) ?? 0
                    if let end, position < end { remaining.insert(partition) }
                }
                var printed = 0
                if !(exitAtEnd && remaining.isEmpty) && maxMessages != 0 {
                    for try await record in consumer.records {
                        print(formatter.render(record))
                        printed += 1
                        if let maxMessages, printed >= maxMessages { break }
                        if exitAtEnd, let end = ends[record.partition] ?? nil, record.offset + 1 >= end {
                            remaining.remove(record.partition)
                            if remaining.isEmpty { break }
                        }
                    }
                }
                await consumer.close()
            } catch {
                await consumer.close()
                throw error
            }
        }
    }
}

extension Consume {
    /// `--group`: a group member that commits what it printed (every 5 s, and when it stops after
    /// --max-messages or on SIGINT/SIGTERM, like kafka-console-consumer).
    func consumeInGroup(_ group: String, _ formatter: RecordFormatter) async throws {
        _ = try await withAdmin(client) { admin in try await admin.describeTopics([topic]) }
        var config = ConsumerConfig()
        config.connectTimeoutMilliseconds = client.maxBlockMs
        config.groupId = group
        config.resetToEarliest = fromBeginning
        config.clientId = "strata-consume"
        let consumer = try await StrataConsumer(bootstrap: client.addresses, config: config)
        let maxMessages = maxMessages
        let reading = Task {
            try consumer.subscribe(topics: [topic])
            var printed = 0
            guard maxMessages != 0 else { return }
            for try await record in consumer.records {
                print(formatter.render(record))
                printed += 1
                if let maxMessages, printed >= maxMessages { return }
                if Task.isCancelled { return }
            }
        }
        // A signal stops the reading; what was printed is then committed and the group left.
        let signals = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { reading.cancel() }
            source.resume()
            return source
        }
        defer { for source in signals { source.cancel() } }
        do {
            try await reading.value
        } catch is CancellationError {
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
    }
}

/// Lines of a file or pipe, read in 64 KiB chunks (a trailing line without newline counts).
struct LineReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    init(_ handle: FileHandle) { self.handle = handle }

    mutating func next() -> String? {
        while true {
            if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[start..<newline], as: UTF8.self)
                start = newline + 1
                return line
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = String(decoding: buffer[start...], as: UTF8.self)
                start = buffer.count
                return line
            }
            buffer.removeFirst(start)
            start = 0
            let chunk = handle.readData(ofLength: 64 << 10)
            if chunk.isEmpty { atEnd = true } else { buffer.append(contentsOf: chunk) }
        }
    }
}

/// Renders records for `strata consume --format`.
struct RecordFormatter {
    enum Piece {
        case text(String)
        case topic, partition, offset, timestamp, key, value, headers
    }

    let json: Bool
    let pieces: [Piece]

    init(_ format: String) {
        json = format == "json"
        var pieces: [Piece] = []
        var text = ""
        var characters = format.makeIterator()
        while let character = characters.next() {
            switch character {
            case "%":
                guard let code = characters.next() else {
                    text.append("%")
                    continue
                }
                let piece: Piece? =
                    switch code {
                    case "t": .topic
                    case "p": .partition
                    case "o": .offset
                    case "T": .timestamp
                    case "k": .key
                    case "v": .value
                    case "h": .headers
                    default: nil
                    }
                if let piece {
                    if !text.isEmpty { pieces.append(.text(text)) }
                    text = ""
                    pieces.append(piece)
                } else {
                    text.append("%")
                    text.append(code)
                }
            case "\\":
                switch characters.next() {
                case "n": text.append("\n")
                case "t": text.append("\t")
                case "\\": text.append("\\")
                case let other?:
                    text.append("\\")
                    text.append(other)
                case nil: text.append("\\")
                }
            default:
                text.append(character)
            }
        }
        if !text.isEmpty { pieces.append(.text(text)) }
        self.pieces = pieces
    }

    static func string(_ buffer: ByteBuffer?) -> String? {
        buffer.map { String(decoding: $0.readableBytesView, as: UTF8.self) }
    }

    func render(_ record: ConsumerRecord) -> String {
        if json {
            var object: [String: Any] = [
                "topic": record.topic, "partition": record.partition, "offset": record.offset,
                "timestamp": record.timestamp,
            ]
            object["key"] = Self.string(record.key) ?? NSNull()
            object["value"] = Self.string(record.value) ?? NSNull()
            object["headers"] = record.headers.map { header -> [String: Any] in
                ["key": header.key, "value": Self.string(header.value).map { $0 as Any } ?? NSNull()]
            }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
        var line = ""
        for piece in pieces {
            switch piece {
            case .text(let text): line += text
            case .topic: line += record.topic
            case .partition: line += String(record.partition)
            case .offset: line += String(record.offset)
            case .timestamp: line += String(record.timestamp)
            case .key: line += Self.string(record.key) ?? ""
            case .value: line += Self.string(record.value) ?? ""
            case .headers:
                line += record.headers.map { "\($0.key)=\(Self.string($0.value) ?? "")" }.joined(separator: ",")
            }
        }
        return line
    }
}

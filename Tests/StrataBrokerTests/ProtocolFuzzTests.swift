import Foundation
import NIOCore
import StrataProtocol
import StrataRecords
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Seeded protocol fuzzing against the real binary (issue #10): `ProtocolFuzzer` inputs, each on its
/// own connection, while a well-behaved client on one long-lived connection keeps producing (acks=all)
/// and fetching. The server must not crash, its RSS must stay bounded, and every well-behaved
/// request must succeed. STRATA_FUZZ_INPUTS (default 20 000), STRATA_FUZZ_SEED and
/// STRATA_FUZZ_CONNECTIONS (inputs delivered at once, default 1) set the run;
/// `tools/fuzz-protocol --inputs N` runs the long version.
@Suite(.serialized) struct ProtocolFuzzTests {
    static let inputsDefault = 20_000
    /// Growth of the server's resident set over its size after warm-up that fails the run.
    static let rssGrowthBytesMax = 256 << 20
    static let wellBehavedEveryInputs = 250
    static let progressEveryInputs = 100_000

    @Test func fuzzedFramesNeitherCrashNorDisturbOthers() async throws {
        // Issues are recorded here, in the test's task; the run reports what failed.
        for problem in try await offThePool({ try Self.fuzz() }) { Issue.record(Comment(rawValue: problem)) }
    }

    /// The run itself: blocking sockets throughout, so it runs on a thread of its own. Returns what
    /// failed (empty: everything held).
    static func fuzz() throws -> [String] {
        let environment = ProcessInfo.processInfo.environment
        let inputs = environment["STRATA_FUZZ_INPUTS"].flatMap { Int($0) } ?? Self.inputsDefault
        let seed = environment["STRATA_FUZZ_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64(UInt32.max))
        print("protocol fuzz: seed \(seed), \(inputs) inputs (STRATA_FUZZ_SEED=\(seed) replays)")
        // STRATA_FUZZ_SERVER_SET=k=v,k=v adds server settings (e.g. a shorter
        // group.max.session.timeout.ms, which bounds how long fuzzed group members are held).
        let settings = (environment["STRATA_FUZZ_SERVER_SET"] ?? "").split(separator: ",").flatMap {
            ["--set", String($0)]
        }
        let server = try ServerProcess(extraArguments: ["--set", "num.partitions=1"] + settings)
        defer { server.cleanup() }
        let fuzzer = ProtocolFuzzer(seed: seed)
        let good = try WellBehavedClient(port: server.port)
        try good.exchange()
        let baseline = Self.residentBytes(pid: server.process.processIdentifier)
        var peak = baseline
        var counts: [ProtocolFuzzer.Kind: Int] = [:]
        let started = Date()
        // STRATA_FUZZ_FIRST replays a window of inputs (first ..< first + inputs), e.g. to bisect.
        let first = environment["STRATA_FUZZ_FIRST"].flatMap { Int($0) } ?? 0
        let dump = environment["STRATA_FUZZ_DUMP"] == "1"
        // STRATA_FUZZ_CONNECTIONS delivers each block of inputs over that many connections at once
        // (threads of their own, not the test's thread pool); 1 keeps the inputs in order.
        let connections = max(1, environment["STRATA_FUZZ_CONNECTIONS"].flatMap { Int($0) } ?? 1)
        var blockStart = first
        while blockStart < first + inputs {
            let blockEnd = min(first + inputs, blockStart + Self.wellBehavedEveryInputs)
            guard server.process.isRunning else {
                return [
                    "server died before input \(blockStart) (seed \(seed)); stderr:\n\(server.stderrTail())"
                ]
            }
            let blockCounts = Self.deliverBlock(
                blockStart..<blockEnd, fuzzer: fuzzer, connections: connections, port: server.port, dump: dump)
            counts.merge(blockCounts, uniquingKeysWith: +)
            let index = blockEnd - 1
            do { try good.exchange() } catch {
                let kept = NSTemporaryDirectory() + "strata-fuzz-failure-\(seed)-\(index).log"
                try? FileManager.default.copyItem(atPath: server.stderrPath, toPath: kept)
                let state = server.process.isRunning ? "running" : "exited \(server.process.terminationStatus)"
                let descriptors = Self.openDescriptors(pid: server.process.processIdentifier)
                let tail = server.stderrTail()
                let message =
                    "well-behaved client failed after inputs \(blockStart)..<\(blockEnd) (seed \(seed)): \(error); "
                    + "server \(state), open fds \(descriptors), log kept in \(kept); stderr tail:\n\(tail)"
                return [message]
            }
            peak = max(peak, Self.residentBytes(pid: server.process.processIdentifier))
            if (blockEnd - first) / Self.progressEveryInputs != (blockStart - first) / Self.progressEveryInputs {
                print(
                    "protocol fuzz: \(blockEnd - first) inputs, \(Int(Date().timeIntervalSince(started))) s, "
                        + "\(good.exchanges) well-behaved exchanges ok, RSS peak \(peak >> 20) MiB, "
                        + "open fds \(Self.openDescriptors(pid: server.process.processIdentifier))")
            }
            blockStart = blockEnd
        }
        try good.exchange()
        var problems: [String] = []
        if !server.process.isRunning { problems.append("server died after \(inputs) fuzzed inputs (seed \(seed))") }
        if peak - baseline >= Self.rssGrowthBytesMax { problems.append("RSS grew from \(baseline) to \(peak) bytes") }
        let seconds = Date().timeIntervalSince(started)
        print(
            "protocol fuzz: \(inputs) inputs in \(Int(seconds)) s, \(good.exchanges) well-behaved exchanges ok, "
                + "RSS \(baseline >> 20) → peak \(peak >> 20) MiB, kinds \(counts.map { "\($0.key)=\($0.value)" }.sorted())"
        )
        if server.stderrContains("Fatal error") { problems.append("trap: \(server.stderrTail(2000))") }
        let stopping = Date()
        let status = server.stop()
        if status != 0 { problems.append("shutdown after fuzzing exited \(status)") }
        print("protocol fuzz: SIGTERM to exit \(String(format: "%.1f", Date().timeIntervalSince(stopping))) s")
        return problems
    }

    /// Delivers inputs `range`, input i on connection i % `connections`, each connection on a thread
    /// of its own; returns how many inputs of each kind were sent.
    static func deliverBlock(
        _ range: Range<Int>, fuzzer: ProtocolFuzzer, connections: Int, port: Int, dump: Bool
    ) -> [ProtocolFuzzer.Kind: Int] {
        @Sendable func run(_ lane: Int) -> [ProtocolFuzzer.Kind: Int] {
            var counts: [ProtocolFuzzer.Kind: Int] = [:]
            for index in stride(from: range.lowerBound + lane, to: range.upperBound, by: connections) {
                let (kind, bytes) = fuzzer.input(index)
                if dump {
                    print("input \(index) \(kind): \(bytes.map { String($0, radix: 16) }.joined(separator: " "))")
                }
                counts[kind, default: 0] += 1
                deliver(bytes, port: port)
            }
            return counts
        }
        guard connections > 1 else { return run(0) }
        let results = Mutex<[ProtocolFuzzer.Kind: Int]>([:])
        let done = DispatchSemaphore(value: 0)
        for lane in 0..<connections {
            Thread.detachNewThread {
                let counts = run(lane)
                results.withLock { $0.merge(counts, uniquingKeysWith: +) }
                done.signal()
            }
        }
        for _ in 0..<connections { done.wait() }
        return results.withLock { $0 }
    }

    /// Sends one input on a fresh connection, half-closes, and reads until the server closes or a
    /// short quiet period passes; then resets the connection (no TIME_WAIT pile-up over millions).
    static func deliver(_ bytes: [UInt8], port: Int) {
        guard let connection = try? RawConnection(port: port) else { return }
        var timeout = timeval(tv_sec: 0, tv_usec: 20_000)
        setsockopt(connection.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        connection.send(bytes)
        shutdown(connection.fd, Int32(SHUT_WR))
        var scratch = [UInt8](repeating: 0, count: 65_536)
        while scratch.withUnsafeMutableBytes({ recv(connection.fd, $0.baseAddress, $0.count, 0) }) > 0 {}
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(connection.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
    }

    /// Open descriptors of a process (-1 when unreadable).
    static func openDescriptors(pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// VmRSS of a process from /proc, in bytes (0 when unreadable).
    static func residentBytes(pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }
}

/// A client that does everything right on one connection: ApiVersions, Metadata, an acks=all Produce
/// whose offset it checks, and a Fetch of what it wrote.
final class WellBehavedClient {
    let connection: RawConnection
    private(set) var exchanges = 0
    private var correlationId: Int32 = 0
    static let topic = "well-behaved"

    init(port: Int) throws { connection = try RawConnection(port: port) }

    private func call<R: KafkaRequest>(_ request: R, version: Int16) throws -> ByteBuffer {
        correlationId += 1
        var buffer = ByteBuffer()
        request.encodeFrame(into: &buffer, version: version, correlationId: correlationId, clientId: "good")
        connection.send(buffer)
        guard var frame = connection.receiveFrame() else {
            throw InteropError("no answer to \(R.self) (connection closed or 10 s timeout)")
        }
        let header = try ResponseHeader(from: &frame, version: R.apiKey.responseHeaderVersion(version))
        guard header.correlationId == correlationId else {
            throw InteropError("correlation id \(header.correlationId), expected \(correlationId)")
        }
        return frame
    }

    func exchange() throws {
        var versions = try call(ApiVersionsRequest(), version: 2)
        guard try ApiVersionsResponse(from: &versions, version: 2).errorCode == .noError else {
            throw InteropError("ApiVersions failed")
        }
        var metadata = try call(MetadataRequest(topics: [Self.topic]), version: 4)
        _ = try MetadataResponse(from: &metadata, version: 4)
        var builder = RecordBatchBuilder()
        builder.append(key: nil, value: Array("good-\(exchanges)".utf8), timestamp: 1)
        let produce = ProduceRequest(
            acks: -1, timeoutMs: 5000,
            topics: [TopicPartitions(name: Self.topic, partitions: [.init(index: 0, records: try builder.build())])])
        var produced = try call(produce, version: 7)
        let answer = try ProduceResponse(from: &produced, version: 7).responses.first?.partitions.first
        guard answer?.errorCode == .noError, answer?.baseOffset == Int64(exchanges) else {
            throw InteropError("produce answered \(String(describing: answer)), expected offset \(exchanges)")
        }
        let fetch = FetchRequest(
            replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0,
            sessionEpoch: -1,
            topics: [
                TopicPartitions(
                    name: Self.topic,
                    partitions: [
                        .init(
                            partition: 0, currentLeaderEpoch: -1, fetchOffset: Int64(exchanges), logStartOffset: -1,
                            partitionMaxBytes: 1 << 20)
                    ])
            ], forgottenTopicsData: [], rackId: "")
        var fetched = try call(fetch, version: 11)
        let partition = try FetchResponse(from: &fetched, version: 11).responses.first?.partitions.first
        guard partition?.errorCode == .noError, (partition?.records?.readableBytes ?? 0) > 0 else {
            throw InteropError("fetch answered \(String(describing: partition))")
        }
        exchanges += 1
    }
}

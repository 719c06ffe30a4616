import Foundation
import NIOCore
import StrataProtocol
import StrataRecords
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A blocking loopback TCP client with receive timeouts, for sending raw bytes.
final class RawConnection {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw InteropError("connect failed: errno \(errno)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    func send(_ buffer: ByteBuffer) { send(Array(buffer.readableBytesView)) }

    /// Reads exactly `count` bytes; nil on close, reset or timeout.
    func receive(_ count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + done, count - done, 0) }
            if n <= 0 { return nil }
            done += n
        }
        return bytes
    }

    /// One response frame body (after the size prefix).
    func receiveFrame() -> ByteBuffer? {
        guard let size = receive(4) else { return nil }
        let length = Int(UInt32(size[0]) << 24 | UInt32(size[1]) << 16 | UInt32(size[2]) << 8 | UInt32(size[3]))
        guard let body = receive(length) else { return nil }
        return ByteBuffer(bytes: body)
    }

    /// True when the server closed the connection (read returns 0 or reset) within the timeout.
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, 0)
        return n == 0 || (n < 0 && errno == ECONNRESET)
    }
}

/// Malformed and hostile frames close only the offending connection; everyone else is served.
@Suite(.serialized) struct HostileInputTests {
    func apiVersionsWorks(_ server: ServerProcess) throws -> Bool {
        let connection = try RawConnection(port: server.port)
        var request = ByteBuffer()
        ApiVersionsRequest().encodeFrame(into: &request, version: 2, correlationId: 77, clientId: "probe")
        connection.send(request)
        guard var frame = connection.receiveFrame() else { return false }
        let header = try ResponseHeader(from: &frame, version: 0)
        let response = try ApiVersionsResponse(from: &frame, version: 2)
        return header.correlationId == 77 && response.errorCode == .noError && !response.apiKeys.isEmpty
    }

    @Test func hostileFramesCloseOnlyTheirConnection() throws {
        let server = try ServerProcess(extraArguments: ["--set", "socket.request.max.bytes=1048576"])
        defer { server.cleanup() }
        let bystander = try RawConnection(port: server.port)
        let cases: [(String, [UInt8])] = [
            ("oversize frame", [0x7f, 0xff, 0xff, 0xff]),
            ("negative size", [0xff, 0xff, 0xff, 0xf0]),
            ("unknown api key", [0, 0, 0, 10, 0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0, 0]),
            ("truncated header", [0, 0, 0, 3, 0, 18, 0]),
            ("Produce v2 (below the decodable range)", [0, 0, 0, 12, 0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff, 0, 0]),
        ]
        for (name, bytes) in cases {
            let connection = try RawConnection(port: server.port)
            connection.send(bytes)
            #expect(connection.isClosedByPeer(), "\(name): the server closes the connection")
            #expect(try apiVersionsWorks(server), "\(name): other clients are still served")
        }
        // The connection opened before the attacks is still usable.
        var request = ByteBuffer()
        ApiVersionsRequest().encodeFrame(into: &request, version: 0, correlationId: 5, clientId: nil)
        bystander.send(request)
        #expect(bystander.receiveFrame() != nil)
        #expect(server.stderrText.contains("closing connection"), "a log line names what was wrong")
        #expect(server.stop() == 0)
    }

    /// A peer sending garbage on connection after connection gets each one closed and counted, but
    /// cannot flood the log: at most 10 warnings per 10 s window.
    @Test func badInputWarningsAreRateLimitedButEveryOneIsCounted() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        let attempts = 100
        let started = ContinuousClock.now
        for _ in 0..<attempts {
            let connection = try RawConnection(port: server.port)
            connection.send([0xff, 0xff, 0xff, 0xf0])
            #expect(connection.isClosedByPeer())
        }
        let windows = Int((ContinuousClock.now - started) / .seconds(10)) + 1
        #expect(try apiVersionsWorks(server))
        let metricsPort = try #require(server.metricsAddress(), "metrics port line")
        let metrics = try runCommand(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:\(metricsPort)/metrics').read().decode())",
            ])
        let counted = metrics.stdout.split(separator: "\n").first {
            $0.hasPrefix("strata_bad_requests_total{kind=\"frame\"} ")
        }
        #expect(
            counted.flatMap { Double($0.split(separator: " ").last ?? "") } == Double(attempts),
            "\(metrics.stdout.suffix(2000))")
        #expect(server.stop() == 0)
        let warnings = server.stderrText.split(separator: "\n").filter { $0.contains("closing connection: bad frame") }
        #expect(
            warnings.count >= 1 && warnings.count <= 10 * windows, "\(warnings.count) warnings in \(windows) window(s)")
    }

    @Test func tooNewApiVersionsGetsTheV0ErrorAnswer() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        let connection = try RawConnection(port: server.port)
        var request = ByteBuffer()
        // ApiVersions v9: header v2 (flexible) but the broker must not parse the body.
        request.writeInteger(Int32(0))
        request.writeInteger(Int16(18))
        request.writeInteger(Int16(9))
        request.writeInteger(Int32(42))
        request.writeInteger(Int16(-1))
        request.writeBytes([0, 0xde, 0xad])
        request.setInteger(Int32(request.readableBytes - 4), at: 0)
        connection.send(request)
        var frame = try #require(connection.receiveFrame())
        #expect(try ResponseHeader(from: &frame, version: 0).correlationId == 42)
        let response = try ApiVersionsResponse(from: &frame, version: 0)
        #expect(response.errorCode == .unsupportedVersion)
        #expect(response.apiKeys.contains { $0.apiKey == 18 && $0.maxVersion == 4 })
        #expect(server.stop() == 0)
    }

    @Test func corruptBatchIsRefusedWithCorruptMessageAndNothingIsStored() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        let connection = try RawConnection(port: server.port)
        func send<R: KafkaRequest>(_ request: R, version: Int16, correlationId: Int32) {
            var buffer = ByteBuffer()
            request.encodeFrame(into: &buffer, version: version, correlationId: correlationId, clientId: "t")
            connection.send(buffer)
        }
        var metadata = MetadataRequest()
        metadata.topics = ["victim"]
        send(metadata, version: 4, correlationId: 1)
        _ = try #require(connection.receiveFrame())
        var builder = RecordBatchBuilder()
        builder.append(key: nil, value: Array("x".utf8), timestamp: 1)
        var batch = try builder.build()
        batch.setInteger(UInt8(0x55), at: batch.writerIndex - 1)  // flip a byte inside the CRC range
        let produce = ProduceRequest(
            acks: -1, timeoutMs: 1000,
            topics: [
                TopicPartitions(name: "victim", partitions: [.init(index: 0, records: batch)])
            ])
        send(produce, version: 7, correlationId: 2)
        var frame = try #require(connection.receiveFrame())
        _ = try ResponseHeader(from: &frame, version: 0)
        let response = try ProduceResponse(from: &frame, version: 7)
        #expect(response.responses.first?.partitions.first?.errorCode == .corruptMessage)
        var listOffsets = ListOffsetsRequest()
        listOffsets.topics = [TopicPartitions(name: "victim", partitions: [.init(partitionIndex: 0, timestamp: -1)])]
        send(listOffsets, version: 1, correlationId: 3)
        var offsetsFrame = try #require(connection.receiveFrame())
        _ = try ResponseHeader(from: &offsetsFrame, version: 0)
        let offsets = try ListOffsetsResponse(from: &offsetsFrame, version: 1)
        #expect(offsets.topics.first?.partitions.first?.offset == 0, "nothing was stored")
        #expect(server.stop() == 0)
    }

    @Test func pipelinedDurableProducesAreAnsweredInOrder() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        let connection = try RawConnection(port: server.port)
        var metadata = ByteBuffer()
        MetadataRequest(topics: ["piped"]).encodeFrame(into: &metadata, version: 4, correlationId: 1, clientId: "t")
        connection.send(metadata)
        _ = try #require(connection.receiveFrame())
        // 40 acks=all produces sent back to back, before reading any answer.
        var burst = ByteBuffer()
        for index in 0..<40 {
            var builder = RecordBatchBuilder()
            builder.append(key: nil, value: Array("m\(index)".utf8), timestamp: 1)
            let produce = ProduceRequest(
                acks: -1, timeoutMs: 5000,
                topics: [
                    TopicPartitions(name: "piped", partitions: [.init(index: 0, records: try builder.build())])
                ])
            produce.encodeFrame(into: &burst, version: 7, correlationId: Int32(100 + index), clientId: "t")
        }
        connection.send(burst)
        for index in 0..<40 {
            var frame = try #require(connection.receiveFrame(), "answer \(index)")
            #expect(try ResponseHeader(from: &frame, version: 0).correlationId == Int32(100 + index), "in order")
            let answer = try ProduceResponse(from: &frame, version: 7).responses.first?.partitions.first
            #expect(answer?.errorCode == .noError && answer?.baseOffset == Int64(index))
        }
        #expect(server.stop() == 0)
    }

    /// Regression (protocol fuzzing, issue #10): SIGTERM waited out every parked Fetch's max_wait_ms
    /// (24 s after a fuzz run); parked fetches are now answered at once when the drain starts.
    @Test func parkedFetchDoesNotHoldUpShutdown() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        let connection = try RawConnection(port: server.port)
        var metadata = ByteBuffer()
        MetadataRequest(topics: ["parked"]).encodeFrame(into: &metadata, version: 4, correlationId: 1, clientId: "t")
        connection.send(metadata)
        _ = try #require(connection.receiveFrame())
        let fetch = FetchRequest(
            maxWaitMs: 30_000, minBytes: 1,
            topics: [
                TopicPartitions(
                    name: "parked", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)])
            ])
        var frame = ByteBuffer()
        fetch.encodeFrame(into: &frame, version: 11, correlationId: 2, clientId: "t")
        connection.send(frame)
        var timeout = timeval(tv_sec: 0, tv_usec: 300_000)
        setsockopt(connection.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        #expect(connection.receive(1) == nil, "the fetch is parked: no data yet")
        var longer = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(connection.fd, SOL_SOCKET, SO_RCVTIMEO, &longer, socklen_t(MemoryLayout<timeval>.size))
        let started = Date()
        #expect(server.stop() == 0)
        #expect(Date().timeIntervalSince(started) < 5, "drain took \(Date().timeIntervalSince(started)) s")
    }

    /// `connections.max.idle.ms`: a silent connection is closed by the server; a talking one is not.
    /// Also: `strata serve` raises its soft open-files limit to the hard limit (started here with a
    /// soft limit of 1024). The limit is set for the server alone: lowering the test process's own
    /// limit while it started made tests running beside it fail (EMFILE on their sockets, EBADF
    /// from `Process.run`).
    @Test func idleConnectionsAreReapedAndTheOpenFilesLimitIsRaised() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let server = try ServerProcess(
            extraArguments: ["--set", "connections.max.idle.ms=400"],
            openFilesSoftLimit: Int(min(1024, limit.rlim_max)))
        defer { server.cleanup() }
        let limits = try String(contentsOfFile: "/proc/\(server.process.processIdentifier)/limits", encoding: .utf8)
        let openFiles = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") }
        let fields = openFiles?.split(separator: " ", omittingEmptySubsequences: true) ?? []
        #expect(fields.count >= 5 && fields[3] == fields[4], "soft = hard: \(openFiles ?? "none")")
        let silent = try RawConnection(port: server.port)
        let talking = try RawConnection(port: server.port)
        for index in 0..<12 {
            var request = ByteBuffer()
            ApiVersionsRequest().encodeFrame(into: &request, version: 0, correlationId: Int32(index), clientId: "t")
            talking.send(request)
            #expect(talking.receiveFrame() != nil, "talking connection answered (\(index))")
            var pause = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            nanosleep(&pause, nil)  // the traffic pattern under test, not a wait for a condition
        }
        #expect(silent.isClosedByPeer(), "silent connection closed after connections.max.idle.ms")
        #expect(server.stderrText.contains("closing idle connection"))
        #expect(server.stop() == 0)
    }

    /// Regression (found investigating the long fuzzing run): CreateTopics of thousands of partitions
    /// ran on the cooperative thread pool every connection's requests run on; two of them on 2 cores
    /// stalled every other client for 12 s. Admin file work now runs on its own threads.
    @Test func bigCreateTopicsDoesNotStallOtherClients() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        let creators = try (0..<2).map { index in
            let connection = try RawConnection(port: server.port)
            var request = CreateTopicsRequest()
            request.topics = [.init(name: "big\(index)", numPartitions: 500, replicationFactor: 1)]
            request.timeoutMs = 60_000
            var frame = ByteBuffer()
            request.encodeFrame(into: &frame, version: 0, correlationId: 1, clientId: "creator")
            connection.send(frame)
            return connection
        }
        // Metadata requests that auto-create topics wait for the creations (topic changes are
        // serialized); they must wait off the shared pool too (long fuzzing run, input 206 000).
        let autoCreators = try (0..<2).map { index in
            let connection = try RawConnection(port: server.port)
            var frame = ByteBuffer()
            MetadataRequest(topics: ["auto\(index)"]).encodeFrame(
                into: &frame, version: 4, correlationId: 3, clientId: "auto")
            connection.send(frame)
            return connection
        }
        // While both creations run, a fresh client is answered.
        let probe = try RawConnection(port: server.port)
        var versions = ByteBuffer()
        ApiVersionsRequest().encodeFrame(into: &versions, version: 0, correlationId: 2, clientId: "probe")
        probe.send(versions)
        #expect(probe.receiveFrame() != nil)
        // Ordering, not timing: when the probe has its answer, a creation is still under way.
        var pending = creators.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        let answered = poll(&pending, nfds_t(pending.count), 0)
        #expect(
            answered < creators.count, "both 500-partition creations finished before a 1-request probe was answered")
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        for creator in creators {
            setsockopt(creator.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            #expect(creator.receiveFrame() != nil)
        }
        for connection in autoCreators {
            setsockopt(connection.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            #expect(connection.receiveFrame() != nil)
        }
        #expect(server.stop() == 0)
    }

    /// Regression (protocol fuzzing input 5639 of seed 2634021797): a Fetch of no partitions with
    /// max_wait_ms 30 s parked where nothing could wake it, holding SIGTERM's drain for 30 s.
    @Test func fetchOfNoPartitionsIsAnsweredAtOnce() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        let connection = try RawConnection(port: server.port)
        var frame = ByteBuffer()
        FetchRequest(maxWaitMs: 30_000, minBytes: 1, topics: []).encodeFrame(
            into: &frame, version: 5, correlationId: 3, clientId: "t")
        connection.send(frame)
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(connection.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var answer = try #require(connection.receiveFrame(), "answered well before max_wait_ms")
        #expect(try ResponseHeader(from: &answer, version: 0).correlationId == 3)
        #expect(try FetchResponse(from: &answer, version: 5).responses.isEmpty)
        #expect(server.stop() == 0)
    }

    /// Regression (protocol fuzzing, issue #10): a client that pipelined more than
    /// `pipelinedRequestsMax` requests and vanished without reading left its connection task waiting
    /// forever for a free slot, so SIGTERM never finished.
    @Test func vanishedPipeliningClientDoesNotHangTheDrain() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        for count in [10, 200, 5000] {
            let connection = try RawConnection(port: server.port)
            var burst = ByteBuffer()
            for index in 0..<count {
                ApiVersionsRequest().encodeFrame(into: &burst, version: 0, correlationId: Int32(index), clientId: "p")
            }
            connection.send(burst)
            #expect(connection.receiveFrame() != nil, "first answer")
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)  // close with a reset, answers unread
            setsockopt(connection.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }
        #expect(try apiVersionsWorks(server))
        let started = Date()
        #expect(server.stop() == 0)
        #expect(Date().timeIntervalSince(started) < 10, "drain took \(Date().timeIntervalSince(started)) s")
    }

    @Test func silentAndHalfFinishedClientsDoNotDisturbOthers() throws {
        let server = try ServerProcess()
        defer { server.cleanup() }
        let silent = try RawConnection(port: server.port)  // connects and never sends a byte
        // A produce cut off mid-frame, then the client disappears.
        var builder = RecordBatchBuilder()
        builder.append(key: nil, value: Array("half".utf8), timestamp: 1)
        var frame = ByteBuffer()
        ProduceRequest(
            acks: -1, timeoutMs: 1000,
            topics: [
                TopicPartitions(name: "halfway", partitions: [.init(index: 0, records: try builder.build())])
            ]
        ).encodeFrame(into: &frame, version: 7, correlationId: 9, clientId: "t")
        do {
            let quitter = try RawConnection(port: server.port)
            quitter.send(Array(frame.readableBytesView.prefix(frame.readableBytes / 2)))
        }  // closed here, mid-request
        #expect(try apiVersionsWorks(server), "everyone else is still served")
        #expect(
            !FileManager.default.fileExists(atPath: server.dataDirectory + "/halfway-0"),
            "the unfinished request changed nothing")
        _ = silent
        #expect(server.stop() == 0, "shutdown does not wait forever on an idle connection")
    }
}

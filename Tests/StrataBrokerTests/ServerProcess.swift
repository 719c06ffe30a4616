import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real `strata` binary, started on a loopback port with a temporary data directory.
final class ServerProcess {
    let process = Process()
    let dataDirectory: String
    let port: Int
    let stderrPath: String
    private var stdoutHandle: FileHandle?
    private var metricsPort: Int?
    var bootstrap: String { "127.0.0.1:\(port)" }

    /// Directory holding the built products (the test bundle sits next to them), or
    /// STRATA_BINARY_DIR when set (the long campaigns run a release `strata` under debug tests).
    static var productsDirectory: URL {
        if let directory = ProcessInfo.processInfo.environment["STRATA_BINARY_DIR"], !directory.isEmpty {
            return URL(fileURLWithPath: directory)
        }
        let bundle = Bundle.main.bundleURL
        for candidate in [bundle, bundle.deletingLastPathComponent()]
        where FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent("strata").path) {
            return candidate
        }
        return bundle
    }

    /// Starts `strata serve` and waits (bounded) for its "listening" line. With `openFilesSoftLimit`
    /// the server starts with that soft `RLIMIT_NOFILE` (through `sh -c 'ulimit -Sn N; exec …'`, so
    /// the test process's own limit, shared by every test running beside it, stays as it is).
    init(extraArguments: [String] = [], dataDirectory: String? = nil, openFilesSoftLimit: Int? = nil) throws {
        let data = dataDirectory ?? NSTemporaryDirectory() + "strata-interop-\(UUID().uuidString)"
        self.dataDirectory = data
        stderrPath = data + ".stderr.log"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let binary = Self.productsDirectory.appendingPathComponent("strata")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw InteropError("strata binary not found at \(binary.path); run `swift build` first")
        }
        let arguments =
            [
                "serve", "--data-dir", data, "--listen", "127.0.0.1:0", "--log-level", "info",
                "--metrics", "127.0.0.1:0",
            ]
            + extraArguments
        if let openFilesSoftLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments =
                ["-c", "ulimit -Sn \(openFilesSoftLimit) && exec \"$0\" \"$@\"", binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
        stdoutHandle = stdout.fileHandleForReading
        var kafkaPort: Int?
        while kafkaPort == nil, let line = Self.readLine(stdout.fileHandleForReading, timeoutMilliseconds: 30_000) {
            let port = line.split(separator: ":").last.flatMap { Int($0) }
            if line.hasPrefix("strata listening on") { kafkaPort = port }
            if line.hasPrefix("strata metrics on") { metricsPort = port }
        }
        guard let port = kafkaPort else {
            process.terminate()
            throw InteropError(
                "server did not report its port; stderr: \((try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")"
            )
        }
        self.port = port
    }

    /// The bound /metrics port (waits for its line if it has not been read yet).
    func metricsAddress() -> Int? {
        while metricsPort == nil, let handle = stdoutHandle,
            let line = Self.readLine(handle, timeoutMilliseconds: 10_000)
        {
            if line.hasPrefix("strata metrics on") { metricsPort = line.split(separator: ":").last.flatMap { Int($0) } }
        }
        return metricsPort
    }

    /// Reads one line, waiting at most `timeoutMilliseconds` for data (poll(2), no sleeping).
    static func readLine(_ handle: FileHandle, timeoutMilliseconds: Int32) -> String? {
        var bytes: [UInt8] = []
        let deadline = Date().addingTimeInterval(Double(timeoutMilliseconds) / 1000)
        while Date() < deadline {
            var descriptor = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            let remaining = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard poll(&descriptor, 1, remaining) > 0 else { continue }
            var byte: UInt8 = 0
            guard read(handle.fileDescriptor, &byte, 1) == 1 else { return nil }
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return nil
    }

    /// SIGTERM, then wait (bounded) for exit; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        process.terminate()
        let exited = DispatchSemaphore(value: 0)
        let process = self.process
        DispatchQueue.global().async {
            process.waitUntilExit()
            exited.signal()
        }
        if exited.wait(timeout: .now() + 30) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    /// SIGKILL (crash), waiting for the process to be gone.
    func kill9() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    var stderrText: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// The last `count` bytes of the server's stderr (the file may be large after a long campaign).
    func stderrTail(_ count: Int = 3000) -> String {
        guard let handle = FileHandle(forReadingAtPath: stderrPath) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > UInt64(count) ? size - UInt64(count) : 0)
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    }

    /// Whether stderr contains `text`, read in 1 MiB chunks (overlapping by the text's length).
    func stderrContains(_ text: String) -> Bool { Self.file(stderrPath, contains: text) }

    static func file(_ path: String, contains text: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let needle = Data(text.utf8)
        var carry = Data()
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            let window = carry + chunk
            if window.range(of: needle) != nil { return true }
            carry = window.suffix(needle.count)
        }
        return false
    }

    func cleanup() {
        if process.isRunning { kill9() }
        try? FileManager.default.removeItem(atPath: dataDirectory)
        try? FileManager.default.removeItem(atPath: stderrPath)
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

struct InteropError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Result of running an external client.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `executable` with `arguments` (and `environment` added to this process's), feeding `input`,
/// killing it after `timeoutSeconds`.
func runCommand(
    _ executable: String, _ arguments: [String], input: String? = nil,
    environment: [String: String] = [:], timeoutSeconds: Double = 120
)
    throws -> CommandResult
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let output = Pipe()
    let errors = Pipe()
    let stdin = Pipe()
    process.standardOutput = output
    process.standardError = errors
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    // Drain both pipes concurrently so a chatty client cannot block on a full pipe.
    let collected = DispatchGroup()
    nonisolated(unsafe) var outData = Data()
    nonisolated(unsafe) var errData = Data()
    // Threads of their own: Dispatch's global queues and the test's cooperative pool share two
    // workers here, and a blocked reader there stalls every async test in the process.
    collected.enter()
    Thread.detachNewThread {
        outData = output.fileHandleForReading.readDataToEndOfFile()
        collected.leave()
    }
    collected.enter()
    Thread.detachNewThread {
        errData = errors.fileHandleForReading.readDataToEndOfFile()
        collected.leave()
    }
    if collected.wait(timeout: .now() + timeoutSeconds) == .timedOut {
        kill(process.processIdentifier, SIGKILL)
        _ = collected.wait(timeout: .now() + 10)
    }
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// Runs blocking `body` (waiting on a child process, a socket) on a thread of its own and awaits it,
/// so a long campaign test does not hold one of the cooperative pool's two threads (2 cores) and
/// starve the timing-sensitive async tests that run beside it.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// Locates an interop client; missing ones fail the test under tools/test (STRATA_REQUIRE_INTEROP=1)
/// and skip it otherwise.
enum InteropTools {
    static var requireAll: Bool { ProcessInfo.processInfo.environment["STRATA_REQUIRE_INTEROP"] == "1" }

    static var kcat: String? {
        ["/usr/bin/kcat", "/usr/local/bin/kcat", "/usr/bin/kafkacat"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    static var python: String? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let candidates = [ProcessInfo.processInfo.environment["STRATA_PYTHON"], root.path + "/.venv/bin/python"]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var clientsScript: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/tools/interop/clients.py"
    }

    static var kcatAvailable: Bool { kcat != nil || requireAll }
    static var pythonAvailable: Bool { python != nil || requireAll }
}

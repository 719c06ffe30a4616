import ArgumentParser
import Foundation
import StrataClient

/// Options every client subcommand takes.
struct ClientOptions: ParsableArguments {
    @Option(help: "Broker address(es), HOST:PORT[,HOST:PORT…].")
    var bootstrap = "localhost:9092"

    @Option(
        help:
            "How long producers and consumers wait for a broker (and producers for metadata or buffer space: max.block.ms)."
    )
    var maxBlockMs: Int64 = 10_000

    var addresses: [String] { bootstrap.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
}

/// Exit statuses of the client subcommands (also in `strata --help` and the README).
enum ExitStatus {
    /// A request failed (broker error, unknown topic, bad data).
    static let failure: Int32 = 1
    /// No broker could be reached.
    static let unreachable: Int32 = 3
    // 64: bad flags or arguments (ArgumentParser's usage error).
}

/// Runs a client subcommand body; turns a failure into one line on stderr and its exit status.
func runClient(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ClientError {
        FileHandle.standardError.write(Data("strata: \(error)\n".utf8))
        switch error {
        case .noBrokerAvailable, .connectionFailed: throw ExitCode(ExitStatus.unreachable)
        default: throw ExitCode(ExitStatus.failure)
        }
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        FileHandle.standardError.write(Data("strata: \(error)\n".utf8))
        throw ExitCode(ExitStatus.failure)
    }
}

/// Parses `key=value` settings given with `--set`/`--config`.
func keyValues(_ pairs: [String], option: String) throws -> [String: String] {
    var result: [String: String] = [:]
    for pair in pairs {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
            throw ValidationError("\(option) \(pair): expected key=value")
        }
        result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    return result
}

/// Runs `body` with an admin client that is closed afterwards, whatever happens.
func withAdmin<T>(_ client: ClientOptions, _ body: (StrataAdmin) async throws -> T) async throws -> T {
    let admin = try await StrataAdmin(bootstrap: client.addresses)
    do {
        let result = try await body(admin)
        try? await admin.close()
        return result
    } catch {
        try? await admin.close()
        throw error
    }
}

import Foundation
import Testing

/// The short connection-abuse campaign (issue #10): `tools/reliability/conn_abuse.py` holds 1 000
/// idle connections, 50 slowloris connections trickling partial frames and 10 clients that pipeline
/// fetches and never read, while 6 acks=all producers and consumers work; the server must stay up,
/// keep the idle connections, answer a probe quickly and keep its RSS bounded. The long version is
/// `tools/conn-abuse` (10 000 idle, 100 active).
@Suite(.serialized) struct ConnectionAbuseTests {
    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/tools/reliability/conn_abuse.py"
    }

    @Test(.enabled(if: InteropTools.pythonAvailable))
    func idleSlowAndNonReadingClientsDoNotStarveActiveOnes() async throws {
        let python = try #require(InteropTools.python, "python venv missing: run tools/setup")
        let strata = ServerProcess.productsDirectory.appendingPathComponent("strata").path
        let result = try await offThePool {
            try runCommand(
                python,
                [
                    Self.script, "--strata", strata, "--idle", "1000", "--active", "6", "--slowloris", "50",
                    "--non-readers", "10", "--seconds", "6",
                ], timeoutSeconds: 240)
        }
        let summary = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        print("connection abuse: \(summary)")
        #expect(
            result.status == 0, "connection abuse failed:\n\(result.stdout.suffix(3000))\n\(result.stderr.suffix(2000))"
        )
        #expect(summary.contains("\"ok\": true"))
    }
}

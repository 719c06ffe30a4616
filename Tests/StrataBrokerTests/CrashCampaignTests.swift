import Foundation
import Testing

/// The short crash campaign (issue #10): `tools/reliability/crash_campaign.py` SIGKILLs the real
/// `strata serve` under acks=all librdkafka producers (idempotent and not, 4 partitions), a
/// StrataClient producer (`strata produce --print-offsets`) that lives across every kill, and a
/// committing consumer, restarts it, and checks after each cycle that every acknowledged record is
/// present exactly once at its offset, offsets are contiguous, nothing unsent appears,
/// `segment-dump --verify` is clean and committed offsets never go back. The long version is
/// `tools/crash-campaign --cycles 1000`. A compacted topic is cleaned throughout, so kills also land
/// mid-cleaning; its latest acknowledged value per key must survive.
@Suite(.serialized) struct CrashCampaignTests {
    static let cycles = 8

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path + "/tools/reliability/crash_campaign.py"
    }

    @Test(.enabled(if: InteropTools.pythonAvailable))
    func acknowledgedRecordsSurviveRepeatedKill9() async throws {
        let python = try #require(InteropTools.python, "python venv missing: run tools/setup")
        let products = ServerProcess.productsDirectory
        let seed = ProcessInfo.processInfo.environment["STRATA_CRASH_SEED"] ?? String(UInt32.random(in: 0...UInt32.max))
        let result = try await offThePool {
            try runCommand(
                python,
                [
                    Self.script, "--strata", products.appendingPathComponent("strata").path,
                    "--segment-dump", products.appendingPathComponent("segment-dump").path,
                    "--cycles", String(Self.cycles), "--seed", seed, "--max-run", "0.8", "--full-every", "4",
                ], timeoutSeconds: 300)
        }
        let summary = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        print("crash campaign (STRATA_CRASH_SEED=\(seed) replays): \(summary)")
        #expect(
            result.status == 0, "crash campaign failed:\n\(result.stdout.suffix(3000))\n\(result.stderr.suffix(2000))")
        let fields = try #require(
            try JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Any], "no summary: \(summary)")
        #expect(fields["ok"] as? Bool == true)
        #expect(fields["cycles"] as? Int == Self.cycles)
        // Both kinds of client had acknowledged records checked.
        #expect((fields["acked_by_strata_client"] as? Int ?? 0) > 0)
        #expect((fields["acked"] as? Int ?? 0) > (fields["acked_by_strata_client"] as? Int ?? 0))
    }
}

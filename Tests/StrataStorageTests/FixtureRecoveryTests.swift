import Foundation
import NIOCore
import StrataRecords
import Testing
@testable import StrataStorage

/// Recovery over the committed damaged fixtures: a copy of each is opened as after a crash
/// (`cleanShutdown: false`) and must serve exactly the batches before the damage.
@Suite struct FixtureRecoveryTests {
    /// Copies `data-fixtures/segments/<name>/<partition dir>` into a temporary directory.
    func copyFixture(_ fixture: FixtureGenerator.Fixture, into scratch: TemporaryDirectory) throws -> String {
        let source = FixtureGoldenTests.committedRoot
            .appendingPathComponent(fixture.name)
            .appendingPathComponent(fixture.partition.directoryName)
        let target = scratch.path + "/" + fixture.partition.directoryName
        try FileManager.default.copyItem(atPath: source.path, toPath: target)
        return target
    }

    /// (offset, value) of every record of `batches` laid end to end from offset 0.
    func expectedRecords(_ batches: ArraySlice<RecordBatch>) throws -> [(offset: Int64, value: String)] {
        var result: [(Int64, String)] = []
        var next: Int64 = 0
        for batch in batches {
            for record in try batch.records() {
                result.append((next + record.offset, record.value.map { String(buffer: $0) } ?? "<null>"))
            }
            next += Int64(try batch.header().recordCount)
        }
        return result
    }

    func open(_ directory: String, _ fixture: FixtureGenerator.Fixture, clean: Bool) throws -> PartitionLog {
        try PartitionLog.open(directory: directory, topicPartition: fixture.partition, config: fixture.config,
                              options: .init(cleanShutdown: clean), clock: ManualClock(), executor: sharedExecutor,
                              logger: quietLogger)
    }

    @Test(arguments: ["torn-tail", "corrupt-crc", "bad-index"])
    func recoveryServesExactlyTheIntactPrefix(name: String) throws {
        let fixture = try #require(FixtureGenerator.all.first { $0.name == name })
        let scratch = TemporaryDirectory("strata-fixture-recovery")
        defer { scratch.cleanup() }
        let directory = try copyFixture(fixture, into: scratch)
        let intact = fixture.batches.prefix(fixture.intactBatches ?? fixture.batches.count)
        let expected = try expectedRecords(intact)
        let intactBytes = intact.reduce(0) { $0 + $1.sizeInBytes }

        let log = try open(directory, fixture, clean: false)
        #expect(log.logEndOffset == Int64(expected.count))
        #expect(log.sizeInBytes == intactBytes)
        let served = try readAll(log)
        #expect(served.map(\.offset) == expected.map(\.offset))
        #expect(served.map(\.value) == expected.map(\.value))
        // The rebuilt index finds every offset: reads starting mid-log begin at the right batch.
        for target in stride(from: Int64(0), to: log.logEndOffset, by: 3) {
            let slice = try #require(try log.read(from: target, maxBytes: 1).slice)
            #expect(slice.firstOffset <= target && slice.lastOffset >= target)
        }
        // The log keeps working after the cut.
        var builder = RecordBatchBuilder()
        builder.append(key: nil, value: Array("after recovery".utf8), timestamp: FixtureGenerator.baseTimestamp)
        let info = try log.append(try RecordBatch(buffer: try builder.build()))
        #expect(info.firstOffset == Int64(expected.count))
        try log.close()
    }

    /// An index whose middle entries are wrong is rebuilt even when the shutdown was clean.
    ///
    /// A clean open checks only the last index entry (as Kafka's `sanityCheck` does); reads verify
    /// each entry they use against the batch header at its position and fall back to a scan, so the
    /// `bad-index` fixture's bad middle entries never produce a wrong or failed read.
    @Test func badIndexIsRebuiltAfterACleanShutdown() throws {
        let fixture = FixtureGenerator.badIndex
        let scratch = TemporaryDirectory("strata-fixture-recovery")
        defer { scratch.cleanup() }
        let directory = try copyFixture(fixture, into: scratch)
        let log = try open(directory, fixture, clean: true)
        defer { try? log.close() }
        let expected = try expectedRecords(fixture.batches[...])
        #expect(log.logEndOffset == Int64(expected.count))
        let served = try readAll(log, maxBytes: 1)
        #expect(served.map(\.offset) == expected.map(\.offset))
    }
}

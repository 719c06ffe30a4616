import Foundation
import StrataBroker
import StrataProtocol
import StrataStorage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Storage faults seen through the Kafka protocol (issue #10): the broker on a
/// `FaultInjectingFileSystem`. A full disk or a failed fsync must never be acknowledged; reads of
/// what was acknowledged keep working; other partitions are unaffected.
@Suite struct ServerFaultInjectionTests {
    @Test func enospcOnAppendIsAStorageErrorReadsContinueAndWritesResume() async throws {
        let fileSystem = FaultInjectingFileSystem()
        let harness = try BrokerHarness(fileSystem: fileSystem)
        defer { harness.cleanup() }
        try harness.createTopic("full", partitions: 2)
        #expect(try await harness.produce("full", batch: batch(["a", "b"]))?.errorCode == .noError)
        fileSystem.arm(.write, .error(ENOSPC), times: Int.max, pathContains: "full-0/")
        let refused = try #require(try await harness.produce("full", batch: batch(["lost"])))
        #expect(refused.errorCode == .kafkaStorageError, "full disk: \(refused.errorCode)")
        #expect(
            try await harness.produce("full", partition: 1, batch: batch(["other"]))?.errorCode == .noError,
            "another partition's disk writes are unaffected by the armed path")
        let fetched = try #require(try await harness.fetch("full", offset: 0).responses.first?.partitions.first)
        #expect(fetched.errorCode == .noError && fetched.highWatermark == 2)
        #expect(try values(of: fetched.records) == ["a", "b"], "acknowledged records still served, nothing else")
        fileSystem.disarmAll()
        let resumed = try #require(try await harness.produce("full", batch: batch(["c"])))
        #expect(resumed.errorCode == .noError && resumed.baseOffset == 2, "writes resume once space returns")
        let after = try #require(try await harness.fetch("full", offset: 0).responses.first?.partitions.first)
        #expect(try values(of: after.records) == ["a", "b", "c"])
    }

    @Test func failedFsyncIsNeverAcknowledged() async throws {
        let fileSystem = FaultInjectingFileSystem()
        let harness = try BrokerHarness(fileSystem: fileSystem)
        defer { harness.cleanup() }
        try harness.createTopic("sync")
        #expect(try await harness.produce("sync", batch: batch(["durable"]))?.errorCode == .noError)
        fileSystem.arm(.sync, .error(EIO), pathContains: "sync-0/")
        let failed = try #require(try await harness.produce("sync", batch: batch(["undurable"])))
        #expect(failed.errorCode != .noError, "a batch whose fsync failed is not acknowledged")
        // The partition then goes read-only: nothing more is acknowledged on top of a log whose
        // durability is unknown, and nothing past the durable point is served (the failed batch was
        // never acknowledged and the kernel may have dropped its pages).
        let next = try #require(try await harness.produce("sync", batch: batch(["later"])))
        #expect(next.errorCode == .kafkaStorageError, "read-only after a failed fsync: \(next.errorCode)")
        let fetched = try #require(try await harness.fetch("sync", offset: 0).responses.first?.partitions.first)
        #expect(try values(of: fetched.records) == ["durable"])
        #expect(fetched.highWatermark == 1, "the high watermark is the durable point")
        let past = try #require(try await harness.fetch("sync", offset: 2).responses.first?.partitions.first)
        #expect(past.errorCode == .offsetOutOfRange, "the unacknowledged batch's offsets are not served")
        // A restart (the way out of a failed log) keeps what was acknowledged.
        fileSystem.disarmAll()
        try harness.restart(clean: false)
        let recovered = try #require(try await harness.fetch("sync", offset: 0).responses.first?.partitions.first)
        #expect(try values(of: recovered.records).first == "durable")
    }

    /// EIO on read: a segment page the kernel cannot produce (here: the file shrank under the map,
    /// which raises the same SIGBUS a failed disk read does) fails that partition's fetch with
    /// KAFKA_STORAGE_ERROR; the other partition and the broker carry on.
    @Test func unreadableSegmentFailsThatFetchAndOthersProceed() async throws {
        let harness = try BrokerHarness()
        defer { harness.cleanup() }
        try harness.createTopic("eio", partitions: 2)
        for partition: Int32 in [0, 1] {
            #expect(
                try await harness.produce("eio", partition: partition, batch: batch(["a", "b"]))?.errorCode == .noError)
        }
        #expect(truncate(harness.directory + "/eio-0/00000000000000000000.log", 0) == 0)
        let failed = try #require(try await harness.fetch("eio", offset: 0).responses.first?.partitions.first)
        #expect(failed.errorCode == .kafkaStorageError, "unreadable segment: \(failed.errorCode)")
        let other = try #require(
            try await harness.fetch("eio", partition: 1, offset: 0).responses.first?.partitions.first)
        #expect(other.errorCode == .noError)
        #expect(try values(of: other.records) == ["a", "b"])
        #expect(try await harness.produce("eio", partition: 1, batch: batch(["c"]))?.errorCode == .noError)
    }

    @Test func tornWriteIsRefusedAndTheNextBatchLandsIntact() async throws {
        let fileSystem = FaultInjectingFileSystem()
        let harness = try BrokerHarness(fileSystem: fileSystem)
        defer { harness.cleanup() }
        try harness.createTopic("torn")
        #expect(try await harness.produce("torn", batch: batch(["a"]))?.errorCode == .noError)
        fileSystem.arm(.write, .shortWrite(bytes: 20), pathContains: "torn-0/")
        #expect(try await harness.produce("torn", batch: batch(["half"]))?.errorCode == .kafkaStorageError)
        let next = try #require(try await harness.produce("torn", batch: batch(["b"])))
        let fetched = try #require(try await harness.fetch("torn", offset: 0).responses.first?.partitions.first)
        #expect(try values(of: fetched.records) == (next.errorCode == .noError ? ["a", "b"] : ["a"]))
        try harness.restart(clean: false)
        let recovered = try #require(try await harness.fetch("torn", offset: 0).responses.first?.partitions.first)
        #expect(try values(of: recovered.records) == (next.errorCode == .noError ? ["a", "b"] : ["a"]))
    }
}

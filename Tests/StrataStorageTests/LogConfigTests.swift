import StrataStorage
import Testing

@Suite struct LogConfigTests {
    @Test func overridesApplyOnTopOfDefaults() throws {
        var defaults = LogConfig()
        defaults.retentionMilliseconds = 5_000
        let config = try LogConfig(
            overrides: ["segment.bytes": "1048576", "cleanup.policy": "compact, delete", "min.cleanable.dirty.ratio": "0.25"],
            defaults: defaults)
        #expect(config.segmentBytes == 1_048_576)
        #expect(config.cleanupPolicy == ["compact", "delete"] && config.isCompacted)
        #expect(config.minCleanableDirtyRatio == 0.25)
        #expect(config.retentionMilliseconds == 5_000, "untouched keys keep the default")
    }

    @Test(arguments: [
        ("retention.ms", "soon", "integer"), ("segment.bytes", "10", "integer ≥ 14"),
        ("segment.bytes", "4294967296", "32-bit"), ("min.cleanable.dirty.ratio", "1.5", "[0, 1]"),
        ("cleanup.policy", "archive", "delete, compact"), ("message.timestamp.type", "Now", "CreateTime"),
        ("compression.type", "gzip", "producer"), ("no.such.key", "1", "unknown topic config"),
    ])
    func badValuesAreRefusedNamingTheKey(key: String, value: String, reason: String) {
        #expect {
            _ = try LogConfig(overrides: [key: value])
        } throws: { error in
            guard case .invalidConfig(let badKey, let badValue, let message) = error as? StorageError else { return false }
            return badKey == key && badValue == value && message.contains(reason)
        }
    }

    @Test func compressionTypeProducerIsAccepted() throws {
        #expect(try LogConfig(overrides: ["compression.type": "producer"]).compressionType == "producer")
    }
}

import StrataRecords
import StrataStorage

#if canImport(Glibc)
import Glibc
#endif

/// Opening a partition (recovery after a crash, reopen after a clean shutdown) and the file-system
/// work it is compared with (target 6). Only the open is timed; the close after it is not.
public enum OpenWorkloads {
    /// Opens `directory` as after a crash with the recovery point at `recoveryPoint`, re-validating
    /// every batch from that segment on. Returns seconds.
    public static func strataRecover(directory: String, recoveryPoint: Int64, config: LogConfig,
                                     executor: BlockingExecutor) throws -> Double {
        var log: PartitionLog?
        let options = PartitionLog.OpenOptions(cleanShutdown: false, recoveryPoint: recoveryPoint)
        let seconds = try secondsTaken {
            log = try LogFixture.open(directory: directory, config: config, options: options, executor: executor)
        }
        try log?.close()
        return seconds
    }

    /// Opens `directory` after a clean shutdown. Returns seconds and the segment count.
    public static func strataReopen(directory: String, config: LogConfig,
                                    executor: BlockingExecutor) throws -> (seconds: Double, segments: Int) {
        var log: PartitionLog?
        let seconds = try secondsTaken {
            log = try LogFixture.open(directory: directory, config: config, options: .init(cleanShutdown: true),
                                      executor: executor)
        }
        let segments = log?.segmentCount ?? 0
        try log?.close()
        return (seconds, segments)
    }

    /// Baseline for recovery: map the segment file afresh and CRC-32C all of it (the checksum
    /// work recovery cannot avoid). Returns seconds.
    public static func crcBaseline(path: String) throws -> Double {
        try secondsTaken {
            let mapping = try ReadOnlyMapping(path: path)
            Sink.consume(UInt64(CRC32C.checksum(mapping.bytes)))
        }
    }

    /// Baseline for reopen: list the directory and `stat` every file in it. Returns seconds.
    public static func statBaseline(directory: String) throws -> Double {
        try secondsTaken {
            for name in try PlainFile.list(directory) { Sink.consume(try PlainFile.size(directory + "/" + name)) }
        }
    }
}

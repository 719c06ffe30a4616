import Foundation
import NIOCore
import StrataRecords
import StrataStorage
import Testing

/// The README's "Embedded use" example, compiled and run so the README cannot rot.
@Suite struct EmbeddedUsageTests {
    @Test func readmeEmbeddedExampleWorks() async throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var printed: [String] = []
        func print(_ offset: Int64, _ value: String) { printed.append("\(offset) \(value)") }

        let logs = try LogManager.open(dataDirectory: dir.path + "/data")
        let partitions = try logs.createTopic("events", partitionCount: 1)
        let log = partitions[0]

        var builder = RecordBatchBuilder(compression: .lz4)
        builder.append(key: Array("user-1".utf8), value: Array("signed up".utf8), timestamp: 1_700_000_000_000)
        let appended = try log.append(try RecordBatch(buffer: try builder.build()))
        try await log.flush(through: appended.lastOffset + 1)

        if let slice = try log.read(from: 0, maxBytes: 1 << 20).slice {
            var bytes = try slice.makeByteBuffer()
            while let batch = try RecordBatch.next(from: &bytes) {
                for record in try batch.records() {
                    print(record.offset, record.value.map { String(buffer: $0) } ?? "null")
                }
            }
        }
        try logs.close()
        #expect(printed == ["0 signed up"])
        #expect(log.recoveryPoint == 1)
    }
}

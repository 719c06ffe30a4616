import Foundation
import Testing

/// The test harness's own helpers that a campaign's verdict depends on.
@Suite struct ServerProcessTests {
    /// The chunked search the fuzz campaign uses on a server log too big to read whole finds text
    /// that straddles its 1 MiB chunks.
    @Test func chunkedLogSearchFindsTextAcrossChunkBoundaries() throws {
        let path = NSTemporaryDirectory() + "strata-chunked-search-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var contents = Data(repeating: UInt8(ascii: "x"), count: (1 << 20) - 5)
        contents.append(Data("Fatal error: boom".utf8))
        contents.append(Data(repeating: UInt8(ascii: "y"), count: 3 << 20))
        try contents.write(to: URL(fileURLWithPath: path))
        #expect(ServerProcess.file(path, contains: "Fatal error"))
        #expect(!ServerProcess.file(path, contains: "Fatal errors"))
        #expect(ServerProcess.file(path, contains: "yyy"))
    }
}

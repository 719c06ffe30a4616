/// Kafka's log-directory checkpoint file (text): a version line `0`, a count line, then one
/// `topic partition offset` line per partition. Written atomically (temp file, fsync, rename,
/// fsync directory) — `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`.
public enum OffsetCheckpoint {
    public static let version = 0

    /// Encodes entries in a stable (sorted) order.
    public static func encode(_ entries: [TopicPartition: Int64]) -> String {
        var text = "\(version)\n\(entries.count)\n"
        for (partition, offset) in entries.sorted(by: { $0.key < $1.key }) {
            text += "\(partition.topic) \(partition.partition) \(offset)\n"
        }
        return text
    }

    /// Decodes a checkpoint; throws `corruptMetadata` naming the line that is wrong.
    public static func decode(_ text: String, path: String) throws(StorageError) -> [TopicPartition: Int64] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 2, Int(lines[0]) == version, let count = Int(lines[1]), count >= 0 else {
            throw .corruptMetadata(path: path, reason: "bad header (expected version \(version) and a count)")
        }
        var entries: [TopicPartition: Int64] = [:]
        for lineNumber in 2..<(2 + count) {
            guard lineNumber < lines.count else {
                throw .corruptMetadata(
                    path: path, reason: "expected \(count) entries, file ends at line \(lineNumber + 1)")
            }
            let fields = lines[lineNumber].split(separator: " ")
            guard fields.count == 3, Topic.validationError(String(fields[0])) == nil,
                let partition = Int32(fields[1]), let offset = Int64(fields[2])
            else {
                throw .corruptMetadata(
                    path: path, reason: "bad entry on line \(lineNumber + 1): '\(lines[lineNumber])'")
            }
            entries[TopicPartition(String(fields[0]), partition)] = offset
        }
        return entries
    }

    static func read(_ path: String, fileSystem: FileSystem) throws(StorageError) -> [TopicPartition: Int64]? {
        guard let bytes = try fileSystem.readFile(path) else { return nil }
        return try decode(String(decoding: bytes, as: UTF8.self), path: path)
    }

    static func write(_ entries: [TopicPartition: Int64], to path: String, fileSystem: FileSystem) throws(StorageError)
    {
        try fileSystem.writeFileAtomically(path, contents: Array(encode(entries).utf8))
    }
}

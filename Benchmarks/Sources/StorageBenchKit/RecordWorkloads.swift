import Foundation
import NIOCore
import StrataRecords

/// Decoding records from fetched batches and the baselines they are compared with (target 4).
public enum RecordWorkloads {
    /// Splits `fetched` (whole batches back to back) into batches and iterates every record,
    /// touching its offset and value length. Returns the record count.
    public static func iterateRecords(_ fetched: ByteBuffer) throws -> Int {
        var buffer = fetched
        var records = 0
        var checksum: UInt64 = 0
        while let batch = try RecordBatch.next(from: &buffer) {
            var iterator = try batch.makeRecordIterator()
            while let record = try iterator.next() {
                records += 1
                checksum &+= UInt64(bitPattern: record.offset) &+ UInt64(record.value?.readableBytes ?? 0)
            }
        }
        Sink.consume(checksum)
        return records
    }

    /// Baseline: sum every byte of the same buffer (one pass over the same memory).
    public static func byteSum(_ fetched: ByteBuffer) -> UInt64 {
        fetched.withUnsafeReadableBytes { bytes in
            var sum: UInt64 = 0
            for byte in bytes { sum &+= UInt64(byte) }
            Sink.consume(sum)
            return sum
        }
    }

    /// `LZ4Frame.decompress` of every batch's records section. Returns the decompressed bytes.
    public static func decompressLZ4(_ batches: [RecordBatch]) throws -> Int {
        var produced = 0
        for batch in batches {
            let section = batch.buffer.getSlice(at: batch.buffer.readerIndex + RecordBatchHeader.Layout.size,
                                                length: batch.sizeInBytes - RecordBatchHeader.Layout.size)!
            produced += try LZ4Frame.decompress(section, decompressedBytesMax: 64 << 20).readableBytes
        }
        Sink.consume(produced)
        return produced
    }

    /// `LZ4Frame.withDecompressed` of every batch's records section (the reused buffer
    /// `forEachRecord` decodes from), touching nothing. Returns the decompressed bytes.
    public static func decompressLZ4Reused(_ batches: [RecordBatch]) throws -> Int {
        var produced = 0
        for batch in batches {
            try batch.buffer.withUnsafeReadableBytes { bytes in
                let section = UnsafeRawBufferPointer(rebasing: bytes[RecordBatchHeader.Layout.size...])
                produced += try LZ4Frame.withDecompressed(section, decompressedBytesMax: 64 << 20) { $0.count }
            }
        }
        Sink.consume(produced)
        return produced
    }

    /// Floor of any record-by-record API: decompresses into the reused buffer, then only follows the
    /// record length prefixes (one- and two-byte varints inline, no field decoding, no validation).
    /// Returns the record count.
    public static func skipLZ4Records(_ batches: [RecordBatch]) throws -> Int {
        var records = 0
        for batch in batches {
            try batch.buffer.withUnsafeReadableBytes { bytes in
                let section = UnsafeRawBufferPointer(rebasing: bytes[RecordBatchHeader.Layout.size...])
                records += try LZ4Frame.withDecompressed(section, decompressedBytesMax: 64 << 20) { records in
                    var position = 0
                    var count = 0
                    while position < records.count {
                        let first = records[position]
                        var length = Int(first)
                        position += 1
                        if first >= 0x80 {
                            length = Int(first & 0x7f) | Int(records[position]) << 7
                            position += 1
                        }
                        position += (length >> 1) ^ -(length & 1)
                        count += 1
                    }
                    return count
                }
            }
        }
        Sink.consume(records)
        return records
    }

    /// Decompresses every LZ4 batch and visits every record with `forEachRecord` (the consumer's API
    /// for touching each record once), reading each value's length and first byte. Returns the record
    /// count.
    public static func iterateLZ4(_ batches: [RecordBatch]) throws -> Int {
        var records = 0
        var checksum: UInt64 = 0
        for batch in batches {
            try batch.forEachRecord { record in
                records += 1
                if let value = record.value {
                    checksum &+= UInt64(value.count)
                    if let first = value.first { checksum &+= UInt64(first) }
                }
            }
        }
        Sink.consume(checksum)
        return records
    }

    /// The same through `makeRecordIterator`, whose `Record`s own a reference to their section (for
    /// callers that keep records). Returns the record count.
    public static func iterateLZ4Owning(_ batches: [RecordBatch]) throws -> Int {
        var records = 0
        var checksum: UInt64 = 0
        for batch in batches {
            var iterator = try batch.makeRecordIterator()
            while let record = try iterator.next() {
                records += 1
                if let value = record.value {
                    checksum &+= UInt64(value.readableBytes)
                    if let first = value.getInteger(at: value.readerIndex, as: UInt8.self) { checksum &+= UInt64(first) }
                }
            }
        }
        Sink.consume(checksum)
        return records
    }

    /// Runs `lz4 -b1 -i<seconds> [extra] <file>` and returns its decompression speed in MB/s
    /// (10^6 bytes, the fastest of its runs, as lz4 reports it).
    public static func lz4CommandDecompression(file: String, seconds: Int = 3, extra: [String] = []) throws
        -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["lz4", "-b1", "-i\(seconds)"] + extra + [file]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        // Progress lines end in "<compress> MB/s ,<decompress> MB/s"; the last such line is the result.
        let lines = text.split(whereSeparator: { $0 == "\r" || $0 == "\n" })
        for line in lines.reversed() {
            let fields = line.split(separator: ",")
            guard fields.count >= 3, let last = fields.last, last.hasSuffix("MB/s") else { continue }
            if let speed = Double(last.dropLast(4).trimmingCharacters(in: .whitespaces)) { return speed }
        }
        throw BenchError.unexpected("cannot parse lz4 benchmark output: \(text.suffix(300))")
    }
}

import NIOCore

/// Key, value or header bytes made printable for `--print-data`: UTF-8 text where the bytes are
/// valid UTF-8, else hex; cut after `RenderedData.bytesMax` bytes with the number of bytes left out.
/// `--offsets-decoder` output is `.json` (already a JSON value) or `.tombstone`.
enum RenderedData: Equatable {
    case null
    case text(String, omittedBytes: Int)
    case hex(String, omittedBytes: Int)
    /// A decoded structure as compact JSON text.
    case json(String)
    /// A null value decoded by `--offsets-decoder` (Kafka prints `<DELETE>`).
    case tombstone

    /// Bytes shown of one key, value or header value before it is cut.
    static let bytesMax = 1024

    /// Renders `buffer` (nil: `.null`).
    init(_ buffer: ByteBuffer?) {
        guard let buffer else {
            self = .null
            return
        }
        self = buffer.withUnsafeReadableBytes { Self.render($0) }
    }

    static func render(_ bytes: UnsafeRawBufferPointer) -> RenderedData {
        var cut = min(bytes.count, bytesMax)
        if cut < bytes.count {
            // Do not split a UTF-8 sequence: back up over continuation bytes (at most three).
            var backed = 0
            while cut > 0 && backed < 3 && bytes[cut] & 0xC0 == 0x80 {
                cut -= 1
                backed += 1
            }
        }
        if let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[..<cut]), as: UTF8.self) {
            return .text(text, omittedBytes: bytes.count - cut)
        }
        let shown = min(bytes.count, bytesMax / 2)
        return .hex(hex(UnsafeRawBufferPointer(rebasing: bytes[..<shown])), omittedBytes: bytes.count - shown)
    }

    /// Lowercase hex digits of `bytes`.
    static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// How the text output shows it: text with control characters escaped (`\n`, `\t`, `\\`,
    /// `\x1b`), `hex:` + digits, `<null>`, `<DELETE>`; a cut is marked `...(+N bytes)`.
    var textForm: String {
        switch self {
        case .null: return "<null>"
        case .tombstone: return "<DELETE>"
        case .json(let json): return json
        case .text(let text, let omitted): return Self.escapeControls(text) + Self.omissionMarker(omitted)
        case .hex(let digits, let omitted): return "hex:" + digits + Self.omissionMarker(omitted)
        }
    }

    static func omissionMarker(_ omitted: Int) -> String { omitted > 0 ? "...(+\(omitted) bytes)" : "" }

    /// Escapes backslashes and control characters so every record stays on one line.
    static func escapeControls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\\" || $0.value == 0x7f }) else {
            return text
        }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                out += "\\x" + String(scalar.value >> 4, radix: 16) + String(scalar.value & 0xf, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

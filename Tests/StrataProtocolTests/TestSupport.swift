import NIOCore
import StrataProtocol
import Testing

/// Builds a buffer from literal bytes.
func bytes(_ values: [UInt8]) -> ByteBuffer {
    ByteBuffer(bytes: values)
}

/// Builds a buffer from a hex string (whitespace ignored).
func hex(_ text: String) -> ByteBuffer {
    let digits = Array(text.filter { !$0.isWhitespace })
    precondition(digits.count % 2 == 0, "odd hex string")
    var buffer = ByteBuffer()
    var index = 0
    while index < digits.count {
        buffer.writeInteger(UInt8(String(digits[index...index + 1]), radix: 16)!)
        index += 2
    }
    return buffer
}

/// The readable bytes of `buffer` as lowercase hex, for readable failure messages.
func hexString(_ buffer: ByteBuffer) -> String {
    buffer.readableBytesView.map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
}

/// Encodes `message` at `version` into a fresh buffer.
func encoded<Message: KafkaMessage>(_ message: Message, version: Int16) -> ByteBuffer {
    var buffer = ByteBuffer()
    message.encode(into: &buffer, version: version)
    return buffer
}

/// Round trip at one version: encode → decode consumes every byte → re-encoding gives the same bytes →
/// decoding again gives an equal value. Returns the first decoded value.
@discardableResult
func roundTrip<Message: KafkaMessage>(
    _ message: Message, version: Int16, sourceLocation: SourceLocation = #_sourceLocation
) throws -> Message {
    var first = encoded(message, version: version)
    let firstBytes = first
    let decoded = try Message(from: &first, version: version)
    #expect(first.readableBytes == 0, "\(Message.self) v\(version) left bytes unread", sourceLocation: sourceLocation)
    var second = encoded(decoded, version: version)
    #expect(second == firstBytes, "\(Message.self) v\(version) re-encoding differs", sourceLocation: sourceLocation)
    let again = try Message(from: &second, version: version)
    #expect(again == decoded, "\(Message.self) v\(version) second decode differs", sourceLocation: sourceLocation)
    return decoded
}

/// One message type with a sample value using every field, type-erased so tests can iterate over all APIs.
struct MessageCase: Sendable, CustomTestStringConvertible {
    let name: String
    let api: ApiKey
    /// Round-trips the sample at a version; at the newest version also checks nothing was lost.
    let roundTrip: @Sendable (Int16) throws -> Void
    /// The sample's encoding at a version.
    let encode: @Sendable (Int16) -> ByteBuffer
    /// Decodes a buffer at a version, discarding the value.
    let decode: @Sendable (inout ByteBuffer, Int16) throws(ProtocolError) -> Void

    var testDescription: String { name }

    init<Message: KafkaMessage>(_ sample: Message) {
        name = "\(Message.self)"
        api = Message.apiKey
        roundTrip = { version in
            let decoded = try StrataProtocolTests.roundTrip(sample, version: version)
            if version == Message.apiKey.codecVersions.upperBound {
                #expect(decoded == sample, "\(Message.self) lost a field at its newest version")
            }
        }
        encode = { version in encoded(sample, version: version) }
        decode = { (buffer: inout ByteBuffer, version: Int16) throws(ProtocolError) in
            _ = try Message(from: &buffer, version: version)
        }
    }
}

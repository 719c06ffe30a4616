/// Builds one compact JSON object with fields in the order they are added (so output is stable
/// and diffable). Strings are escaped per RFC 8259. A single-owner value.
struct JSONObject {
    private var text = "{"
    private var isEmpty = true

    init() {}

    private mutating func key(_ name: String) {
        if !isEmpty { text += "," }
        isEmpty = false
        text += JSONObject.quote(name) + ":"
    }

    mutating func add(_ name: String, _ value: String) {
        key(name)
        text += JSONObject.quote(value)
    }

    mutating func add(_ name: String, _ value: String?) {
        key(name)
        text += value.map(JSONObject.quote) ?? "null"
    }

    mutating func add<Integer: BinaryInteger>(_ name: String, _ value: Integer) {
        key(name)
        text += String(value)
    }

    mutating func add<Integer: BinaryInteger>(_ name: String, _ value: Integer?) {
        key(name)
        text += value.map { String($0) } ?? "null"
    }

    mutating func add(_ name: String, _ value: Bool) {
        key(name)
        text += value ? "true" : "false"
    }

    mutating func add(_ name: String, strings: [String]) {
        key(name)
        text += "[" + strings.map(JSONObject.quote).joined(separator: ",") + "]"
    }

    /// Adds an already-encoded JSON value (object, array, number or null).
    mutating func add(_ name: String, json: String) {
        key(name)
        text += json
    }

    /// The finished object text.
    var json: String { text + "}" }

    /// `value` as a JSON string literal.
    static func quote(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let digits = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

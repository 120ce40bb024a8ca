import Foundation

/// A JSON value as Keras writes model configs, parsed without losing anything an export needs.
///
/// Why not `JSONSerialization`/`Codable`: an exported model must carry the configuration that
/// was read, so object key order and number spellings (`1e-05`, `0.0`) are kept as written, and
/// Python's `json` extensions `NaN`, `Infinity`, `-Infinity` (which `json.dumps` emits for
/// float fields) are accepted. Objects are ordered key/value lists; numbers keep their lexeme.
package enum KerasJSON: Equatable {
    case null
    case bool(Bool)
    /// The number exactly as spelled in the source (`3`, `0.001`, `1e-05`, `NaN`).
    case number(String)
    case string(String)
    case array([KerasJSON])
    case object([(key: String, value: KerasJSON)])

    package static func == (a: KerasJSON, b: KerasJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    // MARK: Access

    /// The value of `key` in an object (the first one if a key repeats), else nil.
    package subscript(key: String) -> KerasJSON? {
        guard case let .object(members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    package var stringValue: String? { if case let .string(s) = self { return s }; return nil }
    package var boolValue: Bool? { if case let .bool(b) = self { return b }; return nil }
    package var arrayValue: [KerasJSON]? { if case let .array(a) = self { return a }; return nil }
    package var isNull: Bool { self == .null }
    package var isObject: Bool { if case .object = self { return true }; return false }

    package var doubleValue: Double? {
        guard case let .number(n) = self else { return nil }
        switch n {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: return Double(n)
        }
    }

    /// An integral number (`3`, `3.0`) as Int.
    package var intValue: Int? {
        guard let d = doubleValue, d.isFinite, d == d.rounded(), abs(d) < 9e15 else { return nil }
        return Int(d)
    }

    /// A copy with `key` set (replaced in place, or appended) in an object.
    package func setting(_ key: String, _ value: KerasJSON) -> KerasJSON {
        guard case var .object(members) = self else { return self }
        if let i = members.firstIndex(where: { $0.key == key }) { members[i].value = value } else {
            members.append((key, value))
        }
        return .object(members)
    }

    /// A copy without `key` in an object.
    package func removing(_ key: String) -> KerasJSON {
        guard case let .object(members) = self else { return self }
        return .object(members.filter { $0.key != key })
    }

    // MARK: Serialising

    /// Compact JSON in Python's `json.dumps` style (`", "` and `": "` separators, non-ASCII
    /// escaped as `\uXXXX`), so the text stays ASCII like the configs Keras writes.
    package var serialized: String {
        var out = ""
        write(into: &out)
        return out
    }

    private func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .number(n): out += n
        case let .string(s): Self.writeString(s, into: &out)
        case let .array(items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += ", " }
                item.write(into: &out)
            }
            out += "]"
        case let .object(members):
            out += "{"
            for (i, m) in members.enumerated() {
                if i > 0 { out += ", " }
                Self.writeString(m.key, into: &out)
                out += ": "
                m.value.write(into: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for unit in s.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default: out += String(format: "\\u%04x", unit)
            }
        }
        out += "\""
    }

    // MARK: Parsing

    /// Parses `text`; errors name `file` and `what` (e.g. "attribute 'model_config'").
    package static func parse(_ text: String, file: String, what: String?) throws -> KerasJSON {
        var parser = Parser(bytes: Array(text.utf8))
        do {
            parser.skipSpace()
            let value = try parser.value(depth: 0)
            parser.skipSpace()
            guard parser.at == parser.bytes.count else { throw Parser.Failure(offset: parser.at, "unexpected text after the JSON value") }
            return value
        } catch let f as Parser.Failure {
            throw ModelIOError(.malformed, file: file, location: what, "not valid JSON: \(f.message) at byte \(f.offset)")
        }
    }

    private struct Parser {
        struct Failure: Error {
            var offset: Int
            var message: String
            init(offset: Int, _ message: String) { self.offset = offset; self.message = message }
        }

        let bytes: [UInt8]
        var at = 0
        /// Deeper nesting than any model config; stops hostile input from exhausting the stack.
        static let maxDepth = 256

        mutating func skipSpace() {
            while at < bytes.count {
                switch bytes[at] {
                case 0x20, 0x09, 0x0A, 0x0D: at += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws -> KerasJSON {
            guard depth < Self.maxDepth else { throw Failure(offset: at, "nesting deeper than \(Self.maxDepth) levels") }
            guard at < bytes.count else { throw Failure(offset: at, "unexpected end of text") }
            switch bytes[at] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "N"): try literal("NaN"); return .number("NaN")
            case UInt8(ascii: "I"): try literal("Infinity"); return .number("Infinity")
            default: return .number(try number())
            }
        }

        mutating func literal(_ word: String) throws {
            let w = Array(word.utf8)
            guard at + w.count <= bytes.count, Array(bytes[at..<(at + w.count)]) == w else {
                throw Failure(offset: at, "unexpected character")
            }
            at += w.count
        }

        mutating func number() throws -> String {
            let start = at
            if at < bytes.count, bytes[at] == UInt8(ascii: "-") {
                at += 1
                if at < bytes.count, bytes[at] == UInt8(ascii: "I") { try literal("Infinity"); return "-Infinity" }
            }
            // The lexeme's characters; `Double(text)` below decides whether they form a number.
            while at < bytes.count, Self.isNumberByte(bytes[at]) { at += 1 }
            let text = String(decoding: bytes[start..<at], as: UTF8.self)
            guard !text.isEmpty, Double(text) != nil else { throw Failure(offset: start, "unexpected character") }
            return text
        }

        static func isNumberByte(_ b: UInt8) -> Bool {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "e"), UInt8(ascii: "E"): return true
            default: return false
            }
        }

        mutating func string() throws -> String {
            at += 1   // opening quote
            var units: [UInt16] = []
            var raw: [UInt8] = []
            func flushRaw() { units += String(decoding: raw, as: UTF8.self).utf16; raw.removeAll() }
            while true {
                guard at < bytes.count else { throw Failure(offset: at, "unterminated string") }
                let b = bytes[at]
                at += 1
                if b == UInt8(ascii: "\"") { break }
                if b != UInt8(ascii: "\\") { raw.append(b); continue }
                flushRaw()
                guard at < bytes.count else { throw Failure(offset: at, "unterminated string") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""): units.append(0x22)
                case UInt8(ascii: "\\"): units.append(0x5C)
                case UInt8(ascii: "/"): units.append(0x2F)
                case UInt8(ascii: "b"): units.append(0x08)
                case UInt8(ascii: "f"): units.append(0x0C)
                case UInt8(ascii: "n"): units.append(0x0A)
                case UInt8(ascii: "r"): units.append(0x0D)
                case UInt8(ascii: "t"): units.append(0x09)
                case UInt8(ascii: "u"):
                    guard at + 4 <= bytes.count,
                          let v = UInt16(String(decoding: bytes[at..<(at + 4)], as: UTF8.self), radix: 16) else {
                        throw Failure(offset: at, "bad \\u escape")
                    }
                    units.append(v)
                    at += 4
                default: throw Failure(offset: at - 1, "bad escape")
                }
            }
            flushRaw()
            return String(decoding: units, as: UTF16.self)
        }

        mutating func array(depth: Int) throws -> KerasJSON {
            at += 1
            var items: [KerasJSON] = []
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard at < bytes.count else { throw Failure(offset: at, "unterminated array") }
                if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                if bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
                throw Failure(offset: at, "expected ',' or ']'")
            }
        }

        mutating func object(depth: Int) throws -> KerasJSON {
            at += 1
            var members: [(key: String, value: KerasJSON)] = []
            // Duplicate keys are refused: parsers disagree on which one wins (first, last, error).
            var keys = Set<String>()
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(members) }
            while true {
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw Failure(offset: at, "expected a key") }
                let keyOffset = at
                let key = try string()
                guard keys.insert(key).inserted else { throw Failure(offset: keyOffset, "duplicate key \"\(key)\"") }
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw Failure(offset: at, "expected ':'") }
                at += 1
                skipSpace()
                members.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard at < bytes.count else { throw Failure(offset: at, "unterminated object") }
                if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                if bytes[at] == UInt8(ascii: "}") { at += 1; return .object(members) }
                throw Failure(offset: at, "expected ',' or '}'")
            }
        }
    }
}

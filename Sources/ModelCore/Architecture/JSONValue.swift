import Foundation

/// A parsed JSON value that keeps what the text said: booleans, integers and other numbers
/// stay distinct (Foundation's `JSONSerialization` folds them into `NSNumber`), so the spec
/// validator can say "expected an integer, found 2.5" or "expected true/false, found 1".
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Keys in sorted order, so validation reports problems in a stable order.
    case object([(key: String, value: JSONValue)])

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }

    init(from decoder: Decoder) throws {
        if let c = try? decoder.container(keyedBy: Key.self) {
            var members: [(key: String, value: JSONValue)] = []
            for k in c.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
                members.append((k.stringValue, try c.decode(JSONValue.self, forKey: k)))
            }
            self = .object(members)
            return
        }
        if var c = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !c.isAtEnd { items.append(try c.decode(JSONValue.self)) }
            self = .array(items)
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        // A number: an integer only when the text has no fraction or exponent that matters.
        let d = try c.decode(Double.self)
        if let i = try? c.decode(Int.self), Double(i) == d { self = .int(i); return }
        self = .number(d)
    }

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The value as JSON text, for error messages (`[3, 3]`, `"reflect"`, `true`).
    var text: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .int(i): return String(i)
        case let .number(d): return String(d)
        case let .string(s): return "\"\(s)\""
        case let .array(a): return "[" + a.map(\.text).joined(separator: ", ") + "]"
        case let .object(o): return "{" + o.map { "\"\($0.key)\": \($0.value.text)" }.joined(separator: ", ") + "}"
        }
    }

    var int: Int? { if case let .int(i) = self { return i }; return nil }
    var string: String? { if case let .string(s) = self { return s }; return nil }
    /// Any number, integer or not.
    var double: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .number(d): return d
        default: return nil
        }
    }
    var array: [JSONValue]? { if case let .array(a) = self { return a }; return nil }
    var members: [(key: String, value: JSONValue)]? { if case let .object(o) = self { return o }; return nil }
    subscript(key: String) -> JSONValue? { members?.first { $0.key == key }?.value }
}

/// The small subset of Python literals that `.npy` headers use, parsed like `ast.literal_eval`.
///
/// numpy parses the header with `ast.literal_eval`, so a file from another writer may use double
/// quotes, any key order, extra spaces, trailing commas or Python 2 longs (`3L`). Lists and
/// `None` are parsed too, only so that structured dtypes (`'descr': [('x', '<f4')]`) can be
/// refused by name instead of with a syntax error.
indirect enum PythonLiteral: Equatable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dict([(key: PythonLiteral, value: PythonLiteral)])

    static func == (a: PythonLiteral, b: PythonLiteral) -> Bool { a.repr == b.repr }

    /// Parses one literal filling all of `text` (surrounding whitespace allowed).
    /// Throws `PythonLiteral.SyntaxError` with a short reason.
    static func parse(_ text: String) throws -> PythonLiteral {
        var parser = Parser(scalars: Array(text.unicodeScalars))
        let value = try parser.value()
        parser.skipSpace()
        guard parser.atEnd else { throw parser.error("unexpected text after the literal") }
        return value
    }

    /// Python's `repr` of the value (used in error messages).
    var repr: String {
        switch self {
        case .string(let s): return "'" + s.replacingOccurrences(of: "'", with: "\\'") + "'"
        case .integer(let n): return String(n)
        case .boolean(let b): return b ? "True" : "False"
        case .none: return "None"
        case .tuple(let items): return "(" + items.map(\.repr).joined(separator: ", ") + (items.count == 1 ? ",)" : ")")
        case .list(let items): return "[" + items.map(\.repr).joined(separator: ", ") + "]"
        case .dict(let pairs): return "{" + pairs.map { "\($0.key.repr): \($0.value.repr)" }.joined(separator: ", ") + "}"
        }
    }

    struct SyntaxError: Error {
        var message: String
    }

    private struct Parser {
        let scalars: [Unicode.Scalar]
        var i = 0

        var atEnd: Bool { i >= scalars.count }
        var peek: Unicode.Scalar? { atEnd ? nil : scalars[i] }

        func error(_ why: String) -> SyntaxError { SyntaxError(message: "\(why) at character \(i)") }

        mutating func skipSpace() {
            while let c = peek, c == " " || c == "\t" || c == "\n" || c == "\r" { i += 1 }
        }

        mutating func value() throws -> PythonLiteral {
            skipSpace()
            guard let c = peek else { throw error("unexpected end of header") }
            switch c {
            case "{": return .dict(try pairs())
            case "(":
                let (items, sawComma) = try sequence(close: ")")
                // `(3)` is just 3 in Python; only `(3,)` is a one-element tuple.
                return items.count == 1 && !sawComma ? items[0] : .tuple(items)
            case "[": return .list(try sequence(close: "]").items)
            case "'", "\"": return .string(try string())
            case "-", "+", "0"..."9": return .integer(try integer())
            default:
                let word = identifier()
                switch word {
                case "True": return .boolean(true)
                case "False": return .boolean(false)
                case "None": return .none
                default: throw error(word.isEmpty ? "unexpected character '\(c)'" : "unexpected name '\(word)'")
                }
            }
        }

        mutating func pairs() throws -> [(key: PythonLiteral, value: PythonLiteral)] {
            i += 1 // "{"
            var out: [(key: PythonLiteral, value: PythonLiteral)] = []
            while true {
                skipSpace()
                if peek == "}" { i += 1; return out }
                let key = try value()
                skipSpace()
                guard peek == ":" else { throw error("expected ':' after a dictionary key") }
                i += 1
                out.append((key, try value()))
                skipSpace()
                if peek == "," { i += 1; continue }
                guard peek == "}" else { throw error("expected ',' or '}' in the dictionary") }
            }
        }

        mutating func sequence(close: Unicode.Scalar) throws -> (items: [PythonLiteral], sawComma: Bool) {
            i += 1 // "(" or "["
            var items: [PythonLiteral] = []
            var sawComma = false
            while true {
                skipSpace()
                if peek == close { i += 1; return (items, sawComma) }
                items.append(try value())
                skipSpace()
                if peek == "," { i += 1; sawComma = true; continue }
                guard peek == close else { throw error("expected ',' or '\(close)'") }
            }
        }

        mutating func string() throws -> String {
            let quote = scalars[i]
            i += 1
            var out = String.UnicodeScalarView()
            while let c = peek {
                i += 1
                if c == quote { return String(out) }
                if c == "\\" {
                    guard let e = peek else { break }
                    i += 1
                    switch e {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "r": out.append("\r")
                    case "0": out.append("\0")
                    default: out.append(e) // \\ \' \" and anything exotic: keep the character
                    }
                } else {
                    out.append(c)
                }
            }
            throw error("unterminated string")
        }

        mutating func integer() throws -> Int {
            var negative = false
            if peek == "-" || peek == "+" { negative = peek == "-"; i += 1 }
            let start = i
            while let c = peek, ("0"..."9").contains(c) { i += 1 }
            guard i > start else { throw error("expected digits") }
            let digits = String(String.UnicodeScalarView(scalars[start..<i]))
            if peek == "L" || peek == "l" { i += 1 } // Python 2 long, as numpy accepts
            guard let n = Int(digits) else { throw error("integer \(digits) is too large") }
            return negative ? -n : n
        }

        mutating func identifier() -> String {
            let start = i
            while let c = peek, c.properties.isAlphabetic || c == "_" { i += 1 }
            return String(String.UnicodeScalarView(scalars[start..<i]))
        }
    }
}

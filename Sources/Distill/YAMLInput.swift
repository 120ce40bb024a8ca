import CYaml
import Foundation
import ModelIO

/// A bounded check of YAML text before Yams composes it.
///
/// Yams 5 builds nodes recursively (deeply nested text overflows the stack) and expands
/// aliases by copying the anchored node, so a few hundred bytes of nested aliases ("billion
/// laughs") become gigabytes once converted. libyaml's event parser is a state machine with
/// its own stacks, so walking its events first is safe; the walk refuses:
/// - aliases (`*name`): a run config has no use for them;
/// - nesting deeper than `maxDepth` sequences/mappings;
/// - a key that occurs twice in one mapping (Yams 5 keeps one of them silently).
/// Syntax errors are left for Yams to report with its own message.
enum YAMLInput {
    static let maxDepth = 64

    /// A key Yams keeps as the same string: a letter or `_` first, then letters, digits, `_`
    /// or `-`, and not a word the YAML core schema reads as null or a boolean.
    static func isName(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
            return false
        }
        guard key.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }) else {
            return false
        }
        return !["null", "true", "false", "yes", "no", "on", "off", "y", "n"].contains(key.lowercased())
    }

    /// YAML 1.1's base-60 numbers: digits (and `_`), then one or more `:` groups, optionally
    /// signed or with a fraction (`1:30`, `-190:20:30.15`).
    static func isSexagesimal(_ s: String) -> Bool {
        var body = Substring(s)
        if body.first == "+" || body.first == "-" { body = body.dropFirst() }
        guard let first = body.first, first.isASCII, first.isNumber, body.contains(":") else { return false }
        return body.allSatisfy { $0.isASCII && ($0.isNumber || $0 == "_" || $0 == ":" || $0 == ".") }
    }

    static func validate(_ text: String, file: String) throws {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw ModelIOError(.io, file: file, "cannot initialise the YAML parser")
        }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            // One frame per open collection: whether it is a mapping, whether the next node is a
            // key, and the keys seen so far.
            var stack: [(isMapping: Bool, expectsKey: Bool, keys: Set<String>)] = []
            func fail(_ line: Int, _ message: String) -> ModelIOError {
                ModelIOError(.malformed, file: file, "\(message) at line \(line + 1)")
            }
            /// A complete node ends: its parent mapping alternates between key and value.
            func nodeEnded() {
                if let top = stack.last, top.isMapping { stack[stack.count - 1].expectsKey.toggle() }
            }
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { return }   // Yams reports it
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line)
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_ALIAS_EVENT:
                    throw fail(line, "YAML aliases (*name) are not supported in this file")
                case YAML_SCALAR_EVENT:
                    let scalar = event.data.scalar
                    let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: Int(scalar.length)), as: UTF8.self)
                    // YAML 1.1 reads plain `1:30` as a base-60 integer, and Yams' conversion traps on
                    // overflow (found by Fuzz/fuzz-run-config); a run config has no use for them.
                    if scalar.style == YAML_PLAIN_SCALAR_STYLE, Self.isSexagesimal(text) {
                        throw fail(line, "'\(text.prefix(40))' reads as a base-60 number in YAML; quote it if it is text")
                    }
                    if let top = stack.last, top.isMapping, top.expectsKey {
                        let key = text
                        // Only names: Yams resolves other keys ("", "~", "null", "1", "01", "true")
                        // to values that can collide after differing as text, and its
                        // dictionary then traps (found by Fuzz/fuzz-run-config).
                        guard Self.isName(key) else {
                            throw fail(line, "keys must be names (letters, digits, '_', '-'), found '\(key)'")
                        }
                        guard stack[stack.count - 1].keys.insert(key).inserted else {
                            throw fail(line, "duplicate key '\(key)'")
                        }
                    }
                    nodeEnded()
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    // A list or mapping as a key (`? [a]`, `? {a: 1}`) is no name, and Yams' dictionary
                    // traps when two such keys compare equal (found by Fuzz/fuzz-run-config).
                    if let top = stack.last, top.isMapping, top.expectsKey {
                        throw fail(line, "keys must be names (letters, digits, '_', '-'), found a \(event.type == YAML_MAPPING_START_EVENT ? "mapping" : "list")")
                    }
                    guard stack.count < maxDepth else {
                        throw fail(line, "nesting deeper than \(maxDepth) levels")
                    }
                    stack.append((event.type == YAML_MAPPING_START_EVENT, true, []))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    stack.removeLast()
                    nodeEnded()
                case YAML_DOCUMENT_START_EVENT:
                    stack.removeAll()
                default:
                    break
                }
            }
        }
    }
}

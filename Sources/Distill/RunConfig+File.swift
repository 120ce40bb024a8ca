import Foundation
import ModelIO
import Yams

extension RunConfig {
    /// Reads a run config file: YAML (`.yaml`, `.yml`, anything else) or JSON (`.json`), a
    /// mapping from the keys in `RunConfig.keyNames` to values. Unknown keys, wrong types and
    /// out-of-range values are one-line errors naming the file and the key.
    public static func entries(ofFile path: String) throws -> [(key: String, value: ConfigValue)] {
        let url = URL(fileURLWithPath: path)
        // Only regular files (a FIFO would block), and JSON/YAML are checked for duplicate
        // keys, aliases and nesting before the recursive parsers see them.
        let data = try InputFile.contents(of: url, name: path)
        let root: Any?
        if url.pathExtension.lowercased() == "json" {
            // JSONDecoder keeps 1 and true apart (JSONSerialization's NSNumbers do not on Linux).
            let object: [String: JSONConfigValue]
            try JSONInput.validate(data, file: path)
            do { object = try JSONDecoder().decode([String: JSONConfigValue].self, from: data) } catch {
                throw ModelIOError(.malformed, file: path, "not valid JSON, or not an object of keys to values")
            }
            return try object.sorted { $0.key < $1.key }.map { k, v in
                guard keyNames.contains(k) else {
                    throw ModelIOError(.malformed, file: path, location: "key '\(k)'", unknownKeyMessage(k))
                }
                guard let value = v.value else {
                    throw ModelIOError(.malformed, file: path, location: "key '\(k)'", "expected a number, string, boolean or list")
                }
                return (k, value)
            }
        } else {
            let text = String(decoding: data, as: UTF8.self)
            try YAMLInput.validate(text, file: path)
            do { root = try Yams.load(yaml: text) } catch let e as YamlError {
                throw ModelIOError(.malformed, file: path, "not valid YAML: \(yamlProblem(e))")
            }
        }
        guard let root else { return [] }   // an empty file sets nothing
        let pairs: [(String, Any)]
        if let d = root as? [String: Any] {
            pairs = d.map { ($0.key, $0.value) }
        } else if let d = root as? [AnyHashable: Any] {
            pairs = try d.map { k, v in
                guard let s = k.base as? String else {
                    throw ModelIOError(.malformed, file: path, "keys must be names, found \(k.base)")
                }
                return (s, v)
            }
        } else {
            throw ModelIOError(.malformed, file: path, "expected a mapping of keys to values (e.g. 'epochs: 80')")
        }
        // Sorted so errors and the order of application do not depend on dictionary order.
        return try pairs.sorted { $0.0 < $1.0 }.map { k, v in
            guard keyNames.contains(k) else {
                throw ModelIOError(.malformed, file: path, location: "key '\(k)'", unknownKeyMessage(k))
            }
            return (k, try configValue(v, file: path, key: k))
        }
    }

    static func configValue(_ v: Any, file: String, key: String) throws -> ConfigValue {
        switch v {
        case is NSNull: return .null
        // Yams constructs native Swift values (Bool, Int, Double, String), which do not cast
        // into one another, so the order of these cases cannot confuse 1 and true.
        case let b as Bool: return .bool(b)
        case let i as Int: return .int(i)
        case let d as Double: return .double(d)
        case let s as String: return .string(s)
        case let l as [Any]: return .list(try l.map { try configValue($0, file: file, key: key) })
        default:
            throw ModelIOError(.malformed, file: file, location: "key '\(key)'", "expected a number, string, boolean or list")
        }
    }

    static func yamlProblem(_ e: YamlError) -> String {
        switch e {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            return "\(problem) at line \(mark.line), column \(mark.column)"
        default:
            return "\(e)".split(separator: "\n").first.map(String.init) ?? "\(e)"
        }
    }

    /// Defaults, then the keys of `file` (if any), then `overrides` (flags, in order). Each
    /// override names its flag in errors (`--lr`).
    public static func resolve(file: String?, overrides: [(flag: String, key: String, value: ConfigValue)]) throws -> RunConfig {
        var config = RunConfig()
        if let file {
            for (k, v) in try entries(ofFile: file) { try config.set(k, v, source: file) }
        }
        for o in overrides { try config.set(o.key, o.value, source: o.flag) }
        return config
    }

    /// The config as YAML text: every key with its resolved value, grouped, with a comment per
    /// key. Reading it back (`--config`) gives an equal config.
    public var yaml: String {
        var lines = ["# bss distill: resolved run configuration (defaults <- config file <- flags).",
                     "# Give it back to `bss distill --config` to repeat the run."]
        let groups: [(String, [ConfigKey])] = [("files", Self.fileKeys), ("method, optimiser and loss", Self.trainingKeys),
                                               ("feature methods", Self.featureKeys),
                                               ("boundary supporting samples", Self.bssKeys),
                                               ("other attacks in the BSS slot", Self.attackKeys),
                                               ("data handling and reproducibility", Self.dataKeys),
                                               ("where it ran (recorded)", Self.runKeys)]
        for (title, keys) in groups {
            lines.append("")
            lines.append("# \(title)")
            for k in keys { lines.append("\(k.name): \(k.get(self) ?? "null")  # \(k.help)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads a config from `yaml` text (as written by `yaml`); `source` names it in errors.
    public static func parse(yaml text: String, source: String) throws -> RunConfig {
        let root: Any?
        try YAMLInput.validate(text, file: source)
        do { root = try Yams.load(yaml: text) } catch let e as YamlError {
            throw ModelIOError(.malformed, file: source, "not valid YAML: \(yamlProblem(e))")
        }
        var config = RunConfig()
        guard let d = root as? [AnyHashable: Any] ?? (root as? [String: Any]).map({ Dictionary(uniqueKeysWithValues: $0.map { (AnyHashable($0.key), $0.value) }) }) else {
            throw ModelIOError(.malformed, file: source, "expected a mapping of keys to values")
        }
        for (k, v) in d.sorted(by: { "\($0.key.base)" < "\($1.key.base)" }) {
            let key = "\(k.base)"
            try config.set(key, try configValue(v, file: source, key: key), source: source)
        }
        return config
    }

    /// Checks what a run needs before anything is loaded: the files it names.
    public func validateFiles() throws {
        func need(_ v: String?, _ key: String, _ why: String) throws {
            guard let v, !v.isEmpty else {
                throw RunConfigError(key: key, "missing: \(why) (flag --\(key.replacingOccurrences(of: "_", with: "-")) or config key '\(key)')")
            }
        }
        try need(student, "student", "the student model or architecture")
        try need(data, "data", "the training data")
        try need(out, "out", "where to write the trained student")
        if method.usesTeacher { try need(teacher, "teacher", "method '\(method.rawValue)' learns from a teacher") }
    }
}

/// One JSON value of a run config; nil `value` for a nested object (not allowed).
struct JSONConfigValue: Decodable {
    var value: ConfigValue?

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { value = .null }
        else if let b = try? c.decode(Bool.self) { value = .bool(b) }
        else if let i = try? c.decode(Int.self) { value = .int(i) }
        else if let d = try? c.decode(Double.self) { value = .double(d) }
        else if let s = try? c.decode(String.self) { value = .string(s) }
        else if let l = try? c.decode([JSONConfigValue].self) {
            let items = l.compactMap(\.value)
            value = items.count == l.count ? .list(items) : nil
        } else { value = nil }
    }
}

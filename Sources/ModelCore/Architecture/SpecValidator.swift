import Foundation

/// Checks an architecture spec before anything is built or allocated.
///
/// Every field must be one `SpecFields` lists for its place (top level, or the layer's type),
/// with a value of the right type and range; names must be unique and `inputs`/`output` must
/// name earlier layers. An option PyTorch has but we do not model (max pooling's `dilation` 2,
/// `padding_mode` "reflect") is "not supported yet", never ignored. The
/// first problem found is thrown as one `ModelIOError` naming the spec (file or preset), the
/// layer and the field, e.g.
/// `arch.json: layer 'conv1': field 'strides': unknown field for a conv2d layer (did you mean 'stride'?)`.
public enum SpecValidator {
    /// Validates a spec built in code (presets, specs derived from graphs) exactly as a file.
    public static func validate(_ spec: ArchitectureSpec, origin: String) throws {
        let data = try JSONEncoder().encode(spec)
        try validate(json: try JSONDecoder().decode(JSONValue.self, from: data), origin: origin)
    }

    /// Validates parsed spec text.
    static func validate(json root: JSONValue, origin: String) throws {
        func fail(_ location: String?, _ message: String, _ kind: ModelIOError.Kind = .malformed) -> ModelIOError {
            ModelIOError(kind, file: origin, location: location, message)
        }
        guard let top = root.members else {
            throw fail(nil, "an architecture spec is a JSON object, found \(abbreviated(root))")
        }
        try checkFields(top, SpecFields.topLevel, place: nil, what: "the top level of a spec", origin: origin)
        guard let shape = root["input_shape"]?.array, shape.count <= 3 else {
            throw fail("field 'input_shape'", "must be [features], or up to [channels, height, width], found \(root["input_shape"]!.text)")
        }
        var defined: Set<String> = []
        for (i, layer) in root["layers"]!.array!.enumerated() {
            let members = layer.members!
            var place = "layer [\(i)]"
            guard let name = layer["name"]?.string, !name.isEmpty else {
                throw fail(place + ": field 'name'", layer["name"].map { "must be a non-empty string, found \($0.text)" } ?? "missing field (every layer needs a name)")
            }
            place = "layer '\(name)'"
            guard let type = layer["type"]?.string else {
                throw fail(place + ": field 'type'", layer["type"].map { "must be a string, found \($0.text)" } ?? "missing field (every layer needs a type)")
            }
            guard let fields = SpecFields.fields(for: type) else {
                throw fail(place + ": field 'type'", "unknown layer type '\(type)'; supported: \(GraphBuilder.supportedTypes.joined(separator: ", "))", .unsupported)
            }
            try checkFields(members, fields, place: place, what: "a \(type) layer", origin: origin)
            guard name != "input" else { throw fail(place, "the name 'input' is reserved for the model input") }
            guard !defined.contains(name) else { throw fail(place, "duplicate layer name") }
            if let inputs = layer["inputs"]?.array?.compactMap(\.string) {
                for n in inputs where n != "input" && !defined.contains(n) {
                    throw fail(place + ": field 'inputs'", "input '\(n)' is not a layer defined before it")
                }
                switch type {
                case "add" where inputs.count < 2:
                    throw fail(place + ": field 'inputs'", "add needs two or more inputs, found \(inputs.count)")
                case "multiply" where inputs.count != 2, _ where type.hasPrefix("elementwise_") && inputs.count != 2:
                    throw fail(place + ": field 'inputs'", "\(type) takes two inputs, found \(inputs.count)")
                case "add", "multiply", "concat": break
                case _ where type.hasPrefix("elementwise_"): break
                default:
                    if inputs.count != 1 {
                        throw fail(place + ": field 'inputs'", "a \(type) layer takes one input, found \(inputs.count)")
                    }
                }
            }
            if let keys = layer["keys"]?.members, let params = SpecFields.parameters[type] {
                for k in keys where !params.contains(k.key) {
                    throw fail(place + ": field 'keys'", "'\(k.key)' is not a parameter of a \(type) layer (parameters: \(params.joined(separator: ", ")))")
                }
            }
            if type == "conv2d", let g = layer["groups"]?.int, g > 1 {
                for field in ["in_channels", "out_channels"] {
                    if let c = layer[field]?.int, c % g != 0 {
                        throw fail(place + ": field 'groups'", "\(g) groups must divide \(field) \(c)")
                    }
                }
            }
            if type == "slice", let s = layer["start"]?.int, let e = layer["end"]?.int, e <= s {
                throw fail(place + ": field 'end'", "a slice takes channels [start, end) with end > start, found start \(s), end \(e)")
            }
            if type == "shortcut_a", let s = layer["stride"]?.array, s[0] != s[1] {
                throw fail(place + ": field 'stride'", "shortcut_a subsamples height and width alike, found \(s[0].text) and \(s[1].text)", .unsupported)
            }
            defined.insert(name)
        }
        if let out = root["output"]?.string, !defined.contains(out) {
            throw fail("field 'output'", "no layer named '\(out)'")
        }
    }

    /// Checks that every member is a known field with a valid value and every required field is there.
    static func checkFields(_ members: [(key: String, value: JSONValue)], _ fields: [SpecFields.Field],
                            place: String?, what: String, origin: String) throws {
        func at(_ field: String) -> String { (place.map { $0 + ": " } ?? "") + "field '\(field)'" }
        for (key, value) in members {
            guard let field = fields.first(where: { $0.name == key }) else {
                let hint = suggestion(for: key, among: fields.map(\.name)).map { " (did you mean '\($0)'?)" }
                    ?? " (fields: \(fields.map(\.name).joined(separator: ", ")))"
                throw ModelIOError(.malformed, file: origin, location: at(key), "unknown field for \(what)" + hint)
            }
            if let problem = check(value, field.kind) {
                let unsupported: Bool
                if case .neutralOnly = field.kind { unsupported = true } else { unsupported = false }
                throw ModelIOError(unsupported ? .unsupported : .malformed, file: origin, location: at(key), problem)
            }
        }
        let missing = fields.filter { f in f.required && !members.contains { $0.key == f.name } }
        if let first = missing.first {
            let needs = fields.filter { $0.required && (place == nil || !["name", "type"].contains($0.name)) }
                .map(\.name).joined(separator: ", ")
            throw ModelIOError(.malformed, file: origin, location: at(first.name), "missing field (\(what) needs \(needs))")
        }
    }

    /// Nil when `v` is a valid value of `kind`, else what is wrong.
    static func check(_ v: JSONValue, _ kind: SpecFields.Kind) -> String? {
        let found = "found \(abbreviated(v))"
        func ints(_ a: [JSONValue], min: Int) -> Bool { a.allSatisfy { ($0.int ?? (min - 1)) >= min } }
        switch kind {
        case .positiveInt, .nonNegativeInt:
            let min = kind == .positiveInt ? 1 : 0
            guard let i = v.int else { return "expected an integer ≥ \(min), \(found)" }
            return i >= min ? nil : "must be ≥ \(min), \(found)"
        case .pair:
            if let i = v.int { return i >= 1 ? nil : "must be ≥ 1, \(found)" }
            if let a = v.array, a.count == 2, ints(a, min: 1) { return nil }
            return "expected an integer ≥ 1 or [h, w] of them, \(found)"
        case .padding:
            if let i = v.int { return i >= 0 ? nil : "must be ≥ 0, \(found)" }
            if let a = v.array, a.count == 2 || a.count == 4, ints(a, min: 0) { return nil }
            return "expected an integer ≥ 0, [h, w] or [top, bottom, left, right] of them, \(found)"
        case .bool:
            if case .bool = v { return nil }
            return "expected true or false, \(found)"
        case .positiveNumber:
            guard let d = v.double else { return "expected a number > 0, \(found)" }
            return d > 0 && d.isFinite ? nil : "must be > 0, \(found)"
        case .number:
            guard let d = v.double, d.isFinite else { return "expected a number, \(found)" }
            return nil
        case .nonNegativeNumber:
            guard let d = v.double else { return "expected a number ≥ 0, \(found)" }
            return d >= 0 && d.isFinite ? nil : "must be ≥ 0, \(found)"
        case .numbers:
            if let d = v.double, d.isFinite { return nil }
            if let a = v.array, !a.isEmpty, a.allSatisfy({ $0.double?.isFinite == true }) { return nil }
            return "expected a number or a non-empty array of numbers, \(found)"
        case .unitInterval:
            guard let d = v.double else { return "expected a number in [0, 1], \(found)" }
            return d >= 0 && d <= 1 ? nil : "must be in [0, 1], \(found)"
        case .probability:
            guard let d = v.double else { return "expected a probability in [0, 1), \(found)" }
            return d >= 0 && d < 1 ? nil : "must be in [0, 1), \(found)"
        case let .oneOf(options):
            if let s = v.string, options.contains(s) { return nil }
            return "expected " + options.map { "\"\($0)\"" }.joined(separator: " or ") + ", \(found)"
        case .positiveInts:
            if let a = v.array, !a.isEmpty, ints(a, min: 1) { return nil }
            return "expected a non-empty array of integers ≥ 1, \(found)"
        case .reshapeShape:
            if let a = v.array, !a.isEmpty, a.allSatisfy({ ($0.int ?? 0) >= 1 || $0.int == -1 }),
               a.filter({ $0.int == -1 }).count <= 1 { return nil }
            return "expected a non-empty array of integers ≥ 1, at most one of them -1, \(found)"
        case .permutation:
            if let a = v.array, !a.isEmpty, a.allSatisfy({ $0.int != nil }), a.compactMap(\.int).sorted() == Array(0..<a.count) { return nil }
            return "expected a permutation of the sample axes 0, 1, …, n − 1 (each once), \(found)"
        case .names:
            if let a = v.array, !a.isEmpty, a.allSatisfy({ $0.string != nil }) { return nil }
            return "expected a non-empty array of layer names, \(found)"
        case .keys:
            if let o = v.members, o.allSatisfy({ !($0.value.string ?? "").isEmpty }) { return nil }
            return "expected an object mapping parameter names to state-dict keys, \(found)"
        case .string:
            if let s = v.string, !s.isEmpty { return nil }
            return "expected a non-empty string, \(found)"
        case .layers:
            if let a = v.array, !a.isEmpty, a.allSatisfy({ $0.members != nil }) { return nil }
            return "expected a non-empty array of layer objects, \(found)"
        case let .neutralOnly(neutral, meaning):
            if neutral.contains(v) { return nil }
            return "\(abbreviated(v)) is not supported yet (only \(meaning))"
        }
    }

    /// JSON text of `v`, cut short for messages.
    static func abbreviated(_ v: JSONValue) -> String {
        let t = v.text
        return t.count <= 60 ? t : String(t.prefix(57)) + "..."
    }

    /// The allowed name closest to a misspelt one (edit distance ≤ 2), if any.
    static func suggestion(for key: String, among names: [String]) -> String? {
        let scored = names.map { ($0, distance(key.lowercased(), $0)) }.filter { $0.1 <= 2 }
        return scored.min { $0.1 < $1.1 }?.0
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in 1...max(1, b.count) where !b.isEmpty {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}

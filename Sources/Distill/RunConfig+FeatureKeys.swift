import Foundation

/// The config keys of the feature methods (docs/algorithm.md, "Feature methods"); flags are
/// the same names with dashes (`--feature-pairs`).
extension RunConfig {
    /// Strings from a list, or from one comma-separated string (a flag).
    static func stringList(_ v: ConfigValue, _ expected: String) throws -> [String] {
        switch v {
        case let .list(items): return try items.map { item in
            guard let s = try? Read.string(item) else { throw ConfigValueProblem(expected: expected) }
            return s
        }
        case let .string(s):
            let t = s.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
            return t.isEmpty ? [] : t.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        default: throw ConfigValueProblem(expected: expected)
        }
    }

    static func weightKey(_ name: String, _ kind: String, _ path: WritableKeyPath<FeatureSettings, Float>) -> ConfigKey {
        ConfigKey(name: name, help: "weight of the \(kind) term (method \(name.split(separator: "_")[0]), or a feature_losses entry without one)",
                  set: { c, v in c.features[keyPath: path] = try Read.float(v, "a number >= 0", { $0 >= 0 }) },
                  get: { Write.float($0.features[keyPath: path]) })
    }

    static let featureKeys: [ConfigKey] = [
        ConfigKey(name: "feature_pairs", help: "TEACHER_NODE:STUDENT_NODE pairs the feature terms match (node names as `bss inspect` prints them); null = the presets' default taps",
                  set: { c, v in
                      if v == .null { c.features.pairs = nil; return }
                      let expected = "a list of TEACHER_NODE:STUDENT_NODE pairs"
                      let pairs = try stringList(v, expected).map { FeaturePair.parse($0) }
                      guard !pairs.isEmpty, pairs.allSatisfy({ $0 != nil }) else { throw ConfigValueProblem(expected: expected) }
                      c.features.pairs = pairs.map { $0! }
                  }, get: { c in Write.numbers(c.features.pairs) { Write.string($0.description)! } }),
        weightKey("fitnet_weight", "FitNets hint", \.fitnetWeight),
        weightKey("at_weight", "attention-transfer", \.atWeight),
        weightKey("fsp_weight", "FSP", \.fspWeight),
        ConfigKey(name: "feature_losses", help: "feature terms added to the method's: KIND, KIND=WEIGHT or KIND=WEIGHT@T:S;T:S (KIND fitnet, at or fsp)",
                  set: { c, v in
                      let expected = "a list of terms KIND[=WEIGHT][@T:S;...] with KIND fitnet, at or fsp"
                      if v == .null { c.features.extraTerms = []; return }
                      let terms = try stringList(v, expected).map { FeatureTermSpec.parse($0) }
                      guard terms.allSatisfy({ $0 != nil }) else { throw ConfigValueProblem(expected: expected) }
                      c.features.extraTerms = terms.map { $0! }
                  }, get: { c in Write.numbers(c.features.extraTerms) { Write.string($0.description)! } }),
    ]
}

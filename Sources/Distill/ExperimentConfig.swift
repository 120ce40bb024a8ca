import Boundary
import Foundation
import ModelIO
import Yams

/// An experiment (`bss experiment CONFIG.yaml`; docs/algorithm.md, "Experiments"): methods ×
/// attacks × training-data fractions × seeds over one teacher, one student architecture and one
/// data set, each student tested on `test` and compared with the teacher (MagSim/AngSim).
///
/// | key | value |
/// |---|---|
/// | `title` | optional title of the results |
/// | `teacher`, `teacher_arch` | the teacher (as in a run config) |
/// | `student`, `student_arch` | the student architecture (fresh weights from each seed) or file |
/// | `data`, `test` | training data and test data |
/// | `out` | results folder (default: the config's name without extension, beside it) |
/// | `methods` | list of `original`, `hinton`, `bss`, `fitnet`, `at`, `fsp`, `bss+fsp` |
/// | `attacks` | what fills the BSS slot: `paper`, `official`, `fgsm`, `pgd`, `deepfool`, `noise` (default `[paper]`) |
/// | `attack_methods` | the BSS-slot methods that get every attack (default: all of them); the others get the first |
/// | `fractions` | training-data fractions in (0, 1] (default `[1]`) |
/// | `seeds` | integers >= 0 (default `[0]`) |
/// | `similarity_limit` | base samples of the test set for MagSim/AngSim (default 100, 0 = none) |
/// | `distill` | a mapping of run-config keys for every cell (epochs, lr, attack_eps, ...) |
/// | `method_distill` | per method (`bss+fsp` spelled `bss_fsp`), run-config keys on top of `distill` (e.g. FitNets' `feature_pairs`) |
///
/// Relative paths are relative to the config file's folder. Unknown keys, wrong types and keys
/// of `distill` that the grid sets itself are one-line errors naming the file and the key.
public struct ExperimentConfig: Equatable {
    public var title: String?
    public var teacher: String
    public var teacherArch: String?
    public var student: String
    public var studentArch: String?
    public var data: String
    public var test: String
    public var out: String
    public var methods: [DistillMethod]
    public var attacks: [AttackKind] = [.paper]
    public var attackMethods: [DistillMethod]?
    public var fractions: [Double] = [1]
    public var seeds: [UInt64] = [0]
    public var similarityLimit = 100
    /// Every cell's run config before the grid's values (defaults ← `distill`).
    public var base: RunConfig
    /// Per method: its cells' run config (`base` ← `method_distill[method]`).
    public var perMethod: [DistillMethod: RunConfig] = [:]

    public static let keys = ["title", "teacher", "teacher_arch", "student", "student_arch", "data", "test", "out", "methods",
                              "attacks", "attack_methods", "fractions", "seeds", "similarity_limit", "distill", "method_distill"]
    /// Run-config keys the grid sets per cell (not allowed under `distill`).
    public static let gridKeys = ["teacher", "teacher_arch", "student", "student_arch", "data", "val", "out", "method", "seed",
                                  "train_fraction", "attack", "tensorboard"]

    /// Reads and checks `path`.
    public static func read(_ path: String) throws -> ExperimentConfig {
        let url = URL(fileURLWithPath: path)
        let text = String(decoding: try InputFile.contents(of: url, name: path), as: UTF8.self)
        try YAMLInput.validate(text, file: path)
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch let e as YamlError {
            throw ModelIOError(.malformed, file: path, "not valid YAML: \(RunConfig.yamlProblem(e))")
        }
        guard let map = root as? [String: Any] else {
            throw ModelIOError(.malformed, file: path, "expected a mapping of keys to values (e.g. 'methods: [hinton, bss]')")
        }
        for k in map.keys.sorted() where !keys.contains(k) {
            throw ModelIOError(.malformed, file: path, location: "key '\(k)'", "unknown key; known keys: " + keys.joined(separator: ", "))
        }
        func fail(_ k: String, _ expected: String) -> ModelIOError {
            ModelIOError(.malformed, file: path, location: "key '\(k)'", "expected \(expected), found \(map[k].map { "\($0)" } ?? "nothing")")
        }
        let folder = url.deletingLastPathComponent()
        func file(_ k: String, required: Bool) throws -> String? {
            guard let v = map[k], !(v is NSNull) else {
                if required { throw ModelIOError(.notFound, file: path, location: "key '\(k)'", "missing") }
                return nil
            }
            guard let s = v as? String, !s.isEmpty else { throw fail(k, "a file name") }
            // Presets (no such file, no slash) stay names.
            if s.hasPrefix("/") { return s }
            let full = folder.appendingPathComponent(s).standardizedFileURL.path
            return s.contains("/") || FileManager.default.fileExists(atPath: full) ? full : s
        }
        func list<T>(_ k: String, _ expected: String, _ convert: (Any) -> T?) throws -> [T]? {
            guard let v = map[k] else { return nil }
            let items = v as? [Any] ?? [v]
            let out = items.map(convert)
            guard !out.isEmpty, out.allSatisfy({ $0 != nil }) else { throw fail(k, expected) }
            return out.map { $0! }
        }
        let methodNames = DistillMethod.allCases.map(\.rawValue).joined(separator: ", ")
        let method: (Any) -> DistillMethod? = { ($0 as? String).flatMap { DistillMethod(rawValue: $0.lowercased()) } }
        guard let methods = try list("methods", "a list of methods (\(methodNames))", method) else {
            throw ModelIOError(.notFound, file: path, location: "key 'methods'", "missing: a list of methods (\(methodNames))")
        }
        let outName = url.deletingPathExtension().lastPathComponent
        var c = ExperimentConfig(
            title: nil, teacher: try file("teacher", required: true)!, teacherArch: try file("teacher_arch", required: false),
            student: try file("student", required: true)!, studentArch: try file("student_arch", required: false),
            data: try file("data", required: true)!, test: try file("test", required: true)!,
            out: try file("out", required: false) ?? folder.appendingPathComponent(outName).path,
            methods: methods, base: RunConfig())
        if let t = map["title"] { guard let s = t as? String else { throw fail("title", "a string") }; c.title = s }
        if let a = try list("attacks", "a list of paper, official, fgsm, pgd, deepfool, noise",
                            { ($0 as? String).flatMap { AttackKind(rawValue: $0.lowercased()) } }) { c.attacks = a }
        if let m = try list("attack_methods", "a list of methods with a BSS slot (bss, bss+fsp)", method) {
            guard m.allSatisfy(\.usesBSS) else { throw fail("attack_methods", "a list of methods with a BSS slot (bss, bss+fsp)") }
            c.attackMethods = m
        }
        if let f = try list("fractions", "a list of numbers in (0, 1]", { v -> Double? in
            guard let d = (v as? Double) ?? (v as? Int).map(Double.init), !(v is Bool), d > 0, d <= 1 else { return nil }
            return d }) { c.fractions = f }
        if let s = try list("seeds", "a list of integers >= 0", { v -> UInt64? in
            guard !(v is Bool), let i = v as? Int, i >= 0 else { return nil }
            return UInt64(i) }) { c.seeds = s }
        if let v = map["similarity_limit"] {
            guard !(v is Bool), let i = v as? Int, i >= 0 else { throw fail("similarity_limit", "an integer >= 0") }
            c.similarityLimit = i
        }
        for (k, values) in [("methods", c.methods.map(\.rawValue)), ("attacks", c.attacks.map(\.rawValue)),
                            ("fractions", c.fractions.map { "\($0)" }), ("seeds", c.seeds.map { "\($0)" })]
            where Set(values).count != values.count {
            throw fail(k, "distinct values")
        }
        func apply(_ d: Any, at key: String, to config: inout RunConfig) throws {
            guard let m = d as? [String: Any] else { throw fail(key, "a mapping of run-config keys") }
            for (k, v) in m.sorted(by: { $0.key < $1.key }) {
                if gridKeys.contains(k) {
                    throw ModelIOError(.malformed, file: path, location: "key '\(key).\(k)'",
                                       "set by the experiment for each cell; give it at the top level (teacher, student, data, test, methods, attacks, fractions, seeds)")
                }
                guard RunConfig.keyNames.contains(k) else {
                    throw ModelIOError(.malformed, file: path, location: "key '\(key).\(k)'", RunConfig.unknownKeyMessage(k))
                }
                try config.set(k, try RunConfig.configValue(v, file: path, key: "\(key).\(k)"), source: "\(path) (\(key))")
            }
        }
        if let d = map["distill"] { try apply(d, at: "distill", to: &c.base) }
        if let d = map["method_distill"] {
            guard let m = d as? [String: Any] else { throw fail("method_distill", "a mapping of methods to run-config keys") }
            for (name, keys) in m.sorted(by: { $0.key < $1.key }) {
                // YAML keys are names, so `bss+fsp` is written `bss_fsp` here.
                guard let method = DistillMethod(rawValue: name.lowercased().replacingOccurrences(of: "_", with: "+")),
                      c.methods.contains(method) else {
                    throw ModelIOError(.malformed, file: path, location: "key 'method_distill.\(name)'",
                                       "not one of the experiment's methods (\(c.methods.map(\.rawValue).joined(separator: ", ")))")
                }
                var r = c.base
                try apply(keys, at: "method_distill.\(name)", to: &r)
                c.perMethod[method] = r
            }
        }
        return c
    }
}

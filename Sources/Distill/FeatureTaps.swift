import ModelIO
import NN

/// Which teacher and student nodes each feature term matches (docs/algorithm.md, "Feature
/// methods"), resolved and checked before training.
///
/// A term's pairs are its own (`feature_losses` `KIND=W@T:S;…`), else `feature_pairs`, else
/// chosen from both models' preset default taps (`Presets.featureTaps`) as RepDistiller's
/// `train_student.py` chooses from its `is_feat` lists `f₀ … f_K` (`f_K` the pooled feature):
///
/// - `fitnet`: the pair at index 2 (its default `--hint_layer 2`);
/// - `at`: `f₁ … f_{K−1}` of each side, zipped (the shorter list decides, as `zip` does);
/// - `fsp`: `f₀ … f_{K−1}`, which must be as many on both sides.
///
/// Checks, each a one-line error naming both nodes and shapes: the nodes exist (and are not
/// after the model's output); `at` and `fsp` maps are `[C, H, W]`; `fsp` has two or more pairs
/// with equal channel counts at each; a `fitnet` pair has a regressor (`FeatureRegressor`).
public enum FeatureTaps {
    /// Node indices of one pair.
    public struct Pair: Equatable, Sendable {
        public var teacher: Int
        public var student: Int
    }

    public static func pairs(for term: FeatureTermSpec, settings: FeatureSettings, teacher: Model, student: Model) throws -> [FeaturePair] {
        if let p = term.pairs ?? settings.pairs { return p }
        let tName = teacher.architectureName, sName = student.architectureName
        guard let t = Presets.featureTaps(of: tName), let s = Presets.featureTaps(of: sName) else {
            let which = Presets.featureTaps(of: tName) == nil ? "the teacher '\(teacher.file ?? tName)'" : "the student '\(student.file ?? sName)'"
            throw RunConfigError(key: "feature_pairs",
                               "the \(term.kind.rawValue) term needs feature pairs: \(which) is not a preset with default taps; give --feature-pairs TEACHER_NODE:STUDENT_NODE[,...] (node names as `bss inspect` prints them)")
        }
        func zipped(_ a: ArraySlice<String>, _ b: ArraySlice<String>) -> [FeaturePair] {
            zip(a, b).map { FeaturePair(teacher: $0, student: $1) }
        }
        switch term.kind {
        case .fitnet:
            return [FeaturePair(teacher: t[2], student: s[2])]
        case .at:
            return zipped(t[1..<(t.count - 1)], s[1..<(s.count - 1)])
        case .fsp:
            guard t.count == s.count else {
                throw RunConfigError(key: "feature_pairs",
                                   "FSP matches the teacher's \(t.count - 1) default taps (\(t.dropLast().joined(separator: ", "))) one to one with the student's \(s.count - 1) (\(s.dropLast().joined(separator: ", "))); give --feature-pairs")
            }
            return zipped(t[0..<(t.count - 1)], s[0..<(s.count - 1)])
        }
    }

    /// Node indices of `pairs`, checked for `kind` as described above.
    public static func resolve(_ pairs: [FeaturePair], kind: FeatureLossKind, teacher: Model, student: Model) throws -> [Pair] {
        func node(_ name: String, _ m: Model, _ role: String) throws -> Int {
            let label = m.file ?? m.architectureName
            guard let i = m.graph.index(of: name) else {
                throw ModelIOError(.notFound, file: label, location: "feature_pairs",
                                   "the \(role) has no node '\(name)' (node names as `bss inspect \(label)` prints them)")
            }
            guard i <= m.graph.output else {
                throw ModelIOError(.mismatch, file: label, location: "feature_pairs",
                                   "the \(role)'s node '\(name)' comes after its output node; choose a node the forward pass computes")
            }
            return i
        }
        let resolved = try pairs.map { Pair(teacher: try node($0.teacher, teacher, "teacher"), student: try node($0.student, student, "student")) }
        func shapes(_ k: Int) -> ([Int], [Int]) {
            (teacher.graph.nodes[resolved[k].teacher].outputShape, student.graph.nodes[resolved[k].student].outputShape)
        }
        func fail(_ k: Int, _ why: String) -> RunConfigError {
            let (ts, ss) = shapes(k)
            return RunConfigError(.mismatch, key: "feature_pairs",
                                "\(kind.rawValue) pair \(pairs[k]): teacher node '\(pairs[k].teacher)' gives \(ts), student node '\(pairs[k].student)' gives \(ss); \(why)")
        }
        guard !resolved.isEmpty else {
            throw RunConfigError(key: "feature_pairs", "the \(kind.rawValue) term has no pairs")
        }
        if kind == .fsp && resolved.count < 2 {
            throw RunConfigError(key: "feature_pairs",
                               "FSP relates consecutive maps: it needs two or more pairs, found \(resolved.count)")
        }
        for k in resolved.indices {
            let (ts, ss) = shapes(k)
            guard ts.count == 3 && ss.count == 3 else { throw fail(k, "\(kind.rawValue) needs [C, H, W] feature maps on both sides") }
            switch kind {
            case .fsp where ts[0] != ss[0]:
                throw fail(k, "FSP compares Gram matrices, which needs equal channel counts")
            case .fitnet:
                if case let .failure(p) = FeatureRegressor.build(student: ss, teacher: ts) { throw fail(k, p.reason) }
            default: break
            }
        }
        return resolved
    }
}

import Foundation
import ModelIO

/// A feature-based distillation term (docs/algorithm.md, "Feature methods").
public enum FeatureLossKind: String, Sendable, CaseIterable, Codable {
    /// FitNets hint: MSE between a trained regressor of the student's map and the teacher's.
    case fitnet
    /// Attention transfer: MSE between normalised spatial attention maps.
    case at
    /// Flow of solution procedure: MSE between Gram matrices of consecutive maps.
    case fsp
}

/// A teacher node whose output the student node's output is matched to, by node name as
/// `bss inspect` prints them; written `TEACHER_NODE:STUDENT_NODE`.
public struct FeaturePair: Equatable, Sendable, CustomStringConvertible {
    public var teacher: String
    public var student: String
    public init(teacher: String, student: String) { self.teacher = teacher; self.student = student }
    public var description: String { "\(teacher):\(student)" }

    /// Parses `T:S` (one colon, two non-empty names).
    public static func parse(_ text: String) -> FeaturePair? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return FeaturePair(teacher: String(parts[0]), student: String(parts[1]))
    }
}

/// One term of the loss: kind, weight (nil: the kind's weight key) and its own pairs (nil:
/// `feature_pairs`, or the presets' default taps). Written `KIND`, `KIND=WEIGHT` or
/// `KIND=WEIGHT@T:S;T:S` in `feature_losses`.
public struct FeatureTermSpec: Equatable, Sendable, CustomStringConvertible {
    public var kind: FeatureLossKind
    public var weight: Float?
    public var pairs: [FeaturePair]?

    public init(kind: FeatureLossKind, weight: Float? = nil, pairs: [FeaturePair]? = nil) {
        self.kind = kind; self.weight = weight; self.pairs = pairs
    }

    public var description: String {
        kind.rawValue + (weight.map { "=" + RunConfig.format($0) } ?? "")
            + (pairs.map { "@" + $0.map(\.description).joined(separator: ";") } ?? "")
    }

    public static func parse(_ text: String) -> FeatureTermSpec? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var pairs: [FeaturePair]?
        if let at = rest.firstIndex(of: "@") {
            let list = rest[rest.index(after: at)...].split(separator: ";").map { FeaturePair.parse(String($0)) }
            guard !list.isEmpty, list.allSatisfy({ $0 != nil }) else { return nil }
            pairs = list.map { $0! }
            rest = rest[..<at]
        }
        var weight: Float?
        if let eq = rest.firstIndex(of: "=") {
            guard let w = Read.number(String(rest[rest.index(after: eq)...])), w.isFinite, w >= 0 else { return nil }
            weight = Float(w)
            rest = rest[..<eq]
        }
        guard let kind = FeatureLossKind(rawValue: rest.lowercased()) else { return nil }
        return FeatureTermSpec(kind: kind, weight: weight, pairs: pairs)
    }
}

/// The feature-method settings of a run config (keys `feature_pairs`, `fitnet_weight`,
/// `at_weight`, `fsp_weight`, `feature_losses`). Default weights are RepDistiller's
/// (`scripts/run_cifar_distill.sh`, its `-b`): FitNets 100, AT 1000, FSP 50.
public struct FeatureSettings: Equatable, Sendable {
    /// Pairs every term uses unless it names its own; nil = the presets' default taps.
    public var pairs: [FeaturePair]?
    public var fitnetWeight: Float = 100
    public var atWeight: Float = 1000
    public var fspWeight: Float = 50
    /// Terms added to the method's own (`feature_losses`).
    public var extraTerms: [FeatureTermSpec] = []

    public init() {}

    public func weight(of kind: FeatureLossKind) -> Float {
        switch kind {
        case .fitnet: return fitnetWeight
        case .at: return atWeight
        case .fsp: return fspWeight
        }
    }
}

extension RunConfig {
    /// The feature terms of this run, weights resolved: the method's own term (`fitnet`, `at`,
    /// `fsp`, `bss+fsp`) then `feature_losses`. Throws if a kind occurs twice.
    public func featureTerms() throws -> [FeatureTermSpec] {
        var terms = method.featureTerm.map { [FeatureTermSpec(kind: $0)] } ?? []
        terms += features.extraTerms
        var seen = Set<FeatureLossKind>()
        for t in terms where !seen.insert(t.kind).inserted {
            throw RunConfigError(key: "feature_losses",
                               "the term '\(t.kind.rawValue)' is given twice (method '\(method.rawValue)' already has it, or feature_losses lists it twice); give each kind once")
        }
        return terms.map { t in
            FeatureTermSpec(kind: t.kind, weight: t.weight ?? features.weight(of: t.kind), pairs: t.pairs)
        }
    }
}

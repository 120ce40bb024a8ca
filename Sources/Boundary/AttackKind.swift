import Foundation

/// Which adversarial samples fill the BSS slot of `generate` and `distill`
/// (docs/algorithm.md, "Other attacks").
///
/// - `paper`, `official`: the BSS search in that mode (`BSSGenerator`).
/// - `fgsm`: one targeted L∞ step `x − ε·sign(∇L_k)` on the search loss `L_k = f_b − f_k`.
/// - `pgd`: `steps` such steps of size `stepSize`, each projected onto the ε-ball around `x`.
/// - `deepfool`: untargeted DeepFool (Moosavi-Dezfooli et al. 2016) with overshoot.
/// - `noise`: a uniformly random direction scaled to the length of the pair's own BSS, so the
///   perturbation norms have the BSS's distribution.
public enum AttackKind: String, Sendable, CaseIterable, Codable {
    case paper, official, fgsm, pgd, deepfool, noise

    /// The BSS search mode this attack is, or nil for the other attacks.
    public var bssMode: BSSMode? { BSSMode(rawValue: rawValue) }
    public var isBSS: Bool { bssMode != nil }
    /// Whether the attack aims at the sampled target class (all but DeepFool).
    public var isTargeted: Bool { self != .deepfool }

    public init(_ mode: BSSMode) { self = AttackKind(rawValue: mode.rawValue)! }
}

/// The numbers of the attacks other than BSS (docs/algorithm.md, "Other attacks").
///
/// `epsilon` is the L∞ radius of FGSM and PGD, `stepSize` PGD's step (nil: `epsilon / 4`),
/// `steps` PGD's iterations and DeepFool's iteration limit, `overshoot` DeepFool's factor
/// `1 + overshoot` on the accumulated step. `clip` bounds every input value after every update
/// (the run's `--bss-clip`).
public struct AttackParameters: Sendable, Equatable {
    public var epsilon: Float
    public var stepSize: Float?
    public var steps: Int
    public var overshoot: Float
    public var clip: ClosedRange<Float>?

    public init(epsilon: Float = 0.03, stepSize: Float? = nil, steps: Int = 10, overshoot: Float = 0.02,
                clip: ClosedRange<Float>? = nil) {
        self.epsilon = epsilon; self.stepSize = stepSize; self.steps = steps; self.overshoot = overshoot; self.clip = clip
    }

    /// PGD's step: `stepSize`, or `epsilon / 4`.
    public var resolvedStepSize: Float { stepSize ?? epsilon / 4 }

    /// A description of what is wrong with these values, or nil when they are usable.
    public var problem: String? {
        if !(epsilon.isFinite && epsilon > 0) { return "attack_eps must be a number > 0, found \(epsilon)" }
        if let s = stepSize, !(s.isFinite && s > 0) { return "attack_step must be a number > 0, found \(s)" }
        if steps < 1 { return "attack_steps must be at least 1, found \(steps)" }
        if !(overshoot.isFinite && overshoot >= 0) { return "attack_overshoot must be a number >= 0, found \(overshoot)" }
        if let c = clip, !(c.lowerBound.isFinite && c.upperBound.isFinite) {
            return "clip bounds must be finite, found \(c.lowerBound)...\(c.upperBound)"
        }
        return nil
    }

    /// The values the attack `kind` uses, for a data set's `meta.attack` and reports.
    public func jsonObject(for kind: AttackKind) -> [String: Any] {
        var o: [String: Any] = ["name": kind.rawValue]
        switch kind {
        case .fgsm: o["eps"] = Double(epsilon)
        case .pgd: o["eps"] = Double(epsilon); o["step"] = Double(resolvedStepSize); o["steps"] = steps
        case .deepfool: o["steps"] = steps; o["overshoot"] = Double(overshoot)
        case .noise, .paper, .official: break
        }
        o["clip"] = clip.map { [Double($0.lowerBound), Double($0.upperBound)] as Any } ?? NSNull()
        return o
    }
}

extension BSSStatus {
    /// What a status code means for an attack other than BSS (whether the teacher's top class
    /// at the sample is the target, another class, or still the base class).
    public static func attackMeaning(_ status: BSSStatus) -> String {
        switch status {
        case .accepted: return "crossed into the target class"
        case .rejectedOtherClass: return "crossed into another class"
        case .rejectedStepLimit: return "did not cross"
        }
    }
}

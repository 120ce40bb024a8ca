import Foundation

/// Which boundary-supporting-sample search to run (docs/algorithm.md, "Paper and official modes").
///
/// - `paper`: the AAAI 2019 paper. A pair stops when it is accepted (`L < 0` and the teacher's
///   top class is the target), enters a third class (rejected) or reaches the step limit
///   (rejected).
/// - `official`: the authors' public code (`attacks/attack_BSS.py`). A pair freezes as soon as the
///   teacher's top class is no longer the base class, whichever class it entered, and nothing is
///   rejected: every pair is kept with its final state.
public enum BSSMode: String, Sendable, CaseIterable {
    case paper, official
}

/// The denominator `D` of the BSS step `x ← x − η (L + ε) g / D`.
///
/// - `l2sq`: `D = ‖g‖²` (the paper): one step with `η = 1` lands on `L = −ε` for a linear model.
/// - `l2`: `D = ‖g‖` (the authors' code): a step of length `η (L + ε)`.
///
/// Norms run over the whole flattened input of one sample.
public enum StepNorm: String, Sendable, CaseIterable {
    case l2sq, l2
}

/// Everything that defines one BSS search, apart from the teacher and the pairs.
///
///     x_{i+1} = clip( x_i − eta · (L_k(x_i) + eps) · g_i / D(g_i) ),   L_k = f_b − f_k,  g_i = ∂L_k/∂x
///
/// Defaults (`.paper`): `eta = 1`, `eps = 1e-4`, `maxSteps = 10`, `stepNorm = .l2sq`, no clipping.
/// `.official` (the authors' code): `eta = 0.3`, `eps = 1e-4`, `maxSteps = 10`, `stepNorm = .l2`,
/// clip to `[-2.5, 2.5]`. `clip` bounds every input value after every update.
public struct BSSParameters: Sendable, Equatable {
    public var mode: BSSMode
    /// Step size multiplier η (> 0).
    public var eta: Float
    /// Overshoot ε (≥ 0) past the boundary, in logit units.
    public var eps: Float
    /// Largest number of updates `I_max` (≥ 0). A pair is evaluated at most `maxSteps + 1` times.
    public var maxSteps: Int
    public var stepNorm: StepNorm
    /// Value range every input element is clamped to after each update; nil for none.
    public var clip: ClosedRange<Float>?

    public init(mode: BSSMode = .paper, eta: Float = 1, eps: Float = 1e-4, maxSteps: Int = 10,
                stepNorm: StepNorm = .l2sq, clip: ClosedRange<Float>? = nil) {
        self.mode = mode
        self.eta = eta
        self.eps = eps
        self.maxSteps = maxSteps
        self.stepNorm = stepNorm
        self.clip = clip
    }

    /// The paper's search: η 1, ε 1e-4, 10 steps, `‖g‖²`, no clipping.
    public static let paper = BSSParameters()

    /// The authors' code: η 0.3, ε 1e-4, 10 steps, `‖g‖`, clamp to [−2.5, 2.5], freeze on leaving
    /// the base class, no rejection.
    public static let official = BSSParameters(mode: .official, eta: 0.3, eps: 1e-4, maxSteps: 10,
                                               stepNorm: .l2, clip: -2.5...2.5)

    /// The defaults of `mode`.
    public static func defaults(for mode: BSSMode) -> BSSParameters {
        mode == .paper ? .paper : .official
    }

    /// A description of what is wrong with these values, or nil when they are usable.
    public var problem: String? {
        if !(eta.isFinite && eta > 0) { return "eta must be a positive number, found \(eta)" }
        if !(eps.isFinite && eps >= 0) { return "eps must be a number >= 0, found \(eps)" }
        if maxSteps < 0 { return "the step limit must be >= 0, found \(maxSteps)" }
        if let c = clip, !(c.lowerBound.isFinite && c.upperBound.isFinite) {
            return "clip bounds must be finite, found \(c.lowerBound)...\(c.upperBound)"
        }
        return nil
    }

    /// The parameters as JSON-ready values (for a data set's `meta`).
    public var jsonObject: [String: Any] {
        ["mode": mode.rawValue, "eta": Double(eta), "eps": Double(eps), "max_steps": maxSteps,
         "step_norm": stepNorm.rawValue,
         "clip": clip.map { [Double($0.lowerBound), Double($0.upperBound)] as Any } ?? NSNull()]
    }
}

/// How a (base sample, target class) pair ended. Raw values are the `status` codes written to
/// data sets (int8).
///
/// Paper mode: 1 accepted (`L < 0`, top class = target), 2 rejected (entered a third class),
/// 3 rejected (step limit reached). Official mode: 1 crossed into the target, 2 crossed into
/// another class, 3 did not cross within the step limit.
public enum BSSStatus: Int8, Sendable, CaseIterable {
    case accepted = 1, rejectedOtherClass = 2, rejectedStepLimit = 3

    /// What the code means in `mode`, for reports and data-set metadata.
    public func meaning(in mode: BSSMode) -> String {
        switch (self, mode) {
        case (.accepted, .paper): return "accepted"
        case (.rejectedOtherClass, .paper): return "rejected: entered another class"
        case (.rejectedStepLimit, .paper): return "rejected: step limit"
        case (.accepted, .official): return "crossed into the target class"
        case (.rejectedOtherClass, .official): return "crossed into another class"
        case (.rejectedStepLimit, .official): return "did not cross"
        }
    }

    /// A short key for JSON reports: `accepted`, `rejected_other_class`, `rejected_step_limit`.
    public var key: String {
        switch self {
        case .accepted: return "accepted"
        case .rejectedOtherClass: return "rejected_other_class"
        case .rejectedStepLimit: return "rejected_step_limit"
        }
    }
}

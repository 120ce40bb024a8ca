import ArgumentParser
import Boundary
import Foundation

/// The BSS search flags shared by `bss generate` and `bss similarity` (docs/algorithm.md, "Step rule"):
/// a mode's defaults, then each value given.
struct BSSOptions: ParsableArguments {
    @Option(help: ArgumentHelp("paper (the default: accept / reject-other-class / reject-step-limit) or official (the authors' code).",
                               valueName: "paper|official"))
    var mode: String?

    @Option(help: "Step size eta (default: 1 in paper mode, 0.3 in official mode).")
    var eta: Float?

    @Option(help: "Overshoot eps past the boundary, in logits (default 1e-4).")
    var eps: Float?

    @Option(name: .customLong("steps"), help: "Step limit I_max (default 10).")
    var maxSteps: Int?

    @Option(help: "Step denominator: l2sq (||g||^2, paper) or l2 (||g||, official).")
    var stepNorm: String?

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Clamp inputs to [MIN, MAX] after every step (official mode: -2.5 2.5).",
                                                         valueName: "MIN MAX"))
    var clip: [String] = []

    @Flag(help: "Do not clamp inputs (overrides official mode's [-2.5, 2.5]).")
    var noClip = false

    /// The flags that were given, for error messages.
    var given: [String] {
        [("--mode", mode != nil), ("--eta", eta != nil), ("--eps", eps != nil), ("--steps", maxSteps != nil),
         ("--step-norm", stepNorm != nil), ("--clip", !clip.isEmpty), ("--no-clip", noClip)].filter(\.1).map(\.0)
    }

    /// The search parameters (`.paper` unless `--mode official`), checked.
    func parameters() throws -> BSSParameters {
        var p = BSSParameters.paper
        if let mode {
            guard let m = BSSMode(rawValue: mode) else { throw ValidationError("--mode must be paper or official, found '\(mode)'") }
            p = .defaults(for: m)
        }
        if let eta { p.eta = eta }
        if let eps { p.eps = eps }
        if let maxSteps { p.maxSteps = maxSteps }
        if let stepNorm {
            guard let n = StepNorm(rawValue: stepNorm) else { throw ValidationError("--step-norm must be l2sq or l2, found '\(stepNorm)'") }
            p.stepNorm = n
        }
        if noClip && !clip.isEmpty { throw ValidationError("give --clip or --no-clip, not both") }
        if noClip { p.clip = nil }
        if !clip.isEmpty {
            let values = clip.compactMap(Float.init)
            guard clip.count == 2, values.count == 2, values[0] <= values[1] else {
                throw ValidationError("--clip takes two numbers MIN MAX with MIN <= MAX, found \(clip.joined(separator: " "))")
            }
            p.clip = values[0]...values[1]
        }
        if let problem = p.problem { throw ValidationError(problem) }
        return p
    }
}

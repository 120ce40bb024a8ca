import ArgumentParser
import Boundary
import Distill
import Foundation

/// The BSS search (docs/algorithm.md, "Step rule"), shared by `generate`, `similarity` and
/// `distill`: a mode's defaults, then each value given. In `distill` the same flags are the
/// config keys `bss_mode`, `bss_eta`, ... (a flag is its key with dashes).
struct BSSOptions: ParsableArguments {
    @Option(name: .customLong("bss-mode"),
            help: "BSS search: paper (accept / reject-other-class / reject-step-limit; the default) or official (the authors' code).")
    var mode: BSSMode?

    @Option(name: .customLong("bss-eta"), help: "BSS step size eta > 0 (default: 1 paper, 0.3 official).")
    var eta: Float?

    @Option(name: .customLong("bss-eps"), help: "BSS overshoot eps >= 0 past the boundary, in logits (default 1e-4).")
    var eps: Float?

    @Option(name: .customLong("bss-max-steps"), help: "BSS step limit I_max >= 0 (default 10).")
    var maxSteps: Int?

    @Option(name: .customLong("bss-step-norm"), help: "BSS step denominator: l2sq (||g||^2, paper) or l2 (||g||, official).")
    var stepNorm: StepNorm?

    @Option(name: .customLong("bss-clip"), parsing: .unconditional,
            help: ArgumentHelp("Clamp BSS inputs to [LO, HI] after every step, or 'none' (default: none paper, -2.5,2.5 official).",
                               valueName: "LO,HI|none"))
    var clip: ClipRange?

    // Spellings of `generate`/`similarity` before 0.2, kept as hidden aliases.
    @Option(name: .customLong("mode"), help: .hidden) var oldMode: BSSMode?
    @Option(name: .customLong("eta"), help: .hidden) var oldEta: Float?
    @Option(name: .customLong("eps"), help: .hidden) var oldEps: Float?
    @Option(name: .customLong("steps"), help: .hidden) var oldSteps: Int?
    @Option(name: .customLong("step-norm"), help: .hidden) var oldStepNorm: StepNorm?
    @Flag(name: .customLong("no-clip"), help: .hidden) var oldNoClip = false

    /// Each value with its alias folded in (after `validate`, at most one of the two is set).
    var resolvedMode: BSSMode? { mode ?? oldMode }
    var resolvedEta: Float? { eta ?? oldEta }
    var resolvedEps: Float? { eps ?? oldEps }
    var resolvedMaxSteps: Int? { maxSteps ?? oldSteps }
    var resolvedStepNorm: StepNorm? { stepNorm ?? oldStepNorm }
    var resolvedClip: ClipRange? { clip ?? (oldNoClip ? ClipRange(argument: "none") : nil) }

    private var aliases: [(old: String, new: String, oldGiven: Bool, newGiven: Bool)] {
        [("--mode", "--bss-mode", oldMode != nil, mode != nil), ("--eta", "--bss-eta", oldEta != nil, eta != nil),
         ("--eps", "--bss-eps", oldEps != nil, eps != nil), ("--steps", "--bss-max-steps", oldSteps != nil, maxSteps != nil),
         ("--step-norm", "--bss-step-norm", oldStepNorm != nil, stepNorm != nil),
         ("--no-clip", "--bss-clip none", oldNoClip, clip != nil)]
    }

    func validate() throws {
        for a in aliases where a.oldGiven {
            if a.newGiven { throw ValidationError("give \(a.new) only (\(a.old) is its old spelling)") }
            deprecationNote(old: a.old, new: a.new)
        }
        if let v = resolvedEta, !(v.isFinite && v > 0) { throw ValidationError("--bss-eta must be a number > 0, found \(v)") }
        if let v = resolvedEps, !(v.isFinite && v >= 0) { throw ValidationError("--bss-eps must be a number >= 0, found \(v)") }
        if let v = resolvedMaxSteps, v < 0 { throw ValidationError("--bss-max-steps must be at least 0, found \(v)") }
        if let b = resolvedClip?.bounds, !(b[0] < b[1]) {
            throw ValidationError("--bss-clip LO,HI needs LO < HI, found \(b[0]),\(b[1])")
        }
    }

    /// The flags that were given, for error messages.
    var given: [String] {
        [("--bss-mode", resolvedMode != nil), ("--bss-eta", resolvedEta != nil), ("--bss-eps", resolvedEps != nil),
         ("--bss-max-steps", resolvedMaxSteps != nil), ("--bss-step-norm", resolvedStepNorm != nil),
         ("--bss-clip", resolvedClip != nil)].filter(\.1).map(\.0)
    }

    /// The search parameters (`.paper` unless `--bss-mode official`), checked.
    func parameters() throws -> BSSParameters {
        var p = BSSParameters.defaults(for: resolvedMode ?? .paper)
        if let v = resolvedEta { p.eta = v }
        if let v = resolvedEps { p.eps = v }
        if let v = resolvedMaxSteps { p.maxSteps = v }
        if let v = resolvedStepNorm { p.stepNorm = v }
        if let c = resolvedClip { p.clip = c.bounds.map { $0[0]...$0[1] } }
        if let problem = p.problem { throw ValidationError(problem) }
        return p
    }

    /// The values given, as `bss distill` config overrides.
    var overrides: [(flag: String, key: String, value: ConfigValue)] {
        var out: [(flag: String, key: String, value: ConfigValue)] = []
        if let v = resolvedMode { out.append(("--bss-mode", "bss_mode", .string(v.rawValue))) }
        if let v = resolvedEta { out.append(("--bss-eta", "bss_eta", .double(Double(v)))) }
        if let v = resolvedEps { out.append(("--bss-eps", "bss_eps", .double(Double(v)))) }
        if let v = resolvedMaxSteps { out.append(("--bss-max-steps", "bss_max_steps", .int(v))) }
        if let v = resolvedStepNorm { out.append(("--bss-step-norm", "bss_step_norm", .string(v.rawValue))) }
        if let c = resolvedClip { out.append(("--bss-clip", "bss_clip", .list((c.bounds ?? []).map { .double(Double($0)) }))) }
        return out
    }
}

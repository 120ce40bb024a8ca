import ArgumentParser
import Boundary
import Distill

/// The attack in the BSS slot (docs/algorithm.md, "Other attacks"), shared by `generate` and
/// `distill` (config keys `attack`, `attack_eps`, ...: a flag is its key with dashes).
struct AttackOptions: ParsableArguments {
    @Option(help: "Samples: paper or official (the BSS search in that mode; default: --bss-mode's), fgsm, pgd, deepfool or noise.")
    var attack: AttackKind?

    @Option(name: .customLong("attack-eps"), help: "L-infinity radius of fgsm and pgd (default 0.03).")
    var eps: Float?

    @Option(name: .customLong("attack-step"), help: "pgd step size (default: attack-eps / 4).")
    var step: Float?

    @Option(name: .customLong("attack-steps"), help: "pgd iterations and deepfool's iteration limit (default 10).")
    var steps: Int?

    @Option(name: .customLong("attack-overshoot"), help: "deepfool overshoot (default 0.02).")
    var overshoot: Float?

    func validate() throws {
        if let v = eps, !(v.isFinite && v > 0) { throw ValidationError("--attack-eps must be a number > 0, found \(v)") }
        if let v = step, !(v.isFinite && v > 0) { throw ValidationError("--attack-step must be a number > 0, found \(v)") }
        if let v = steps, v < 1 { throw ValidationError("--attack-steps must be at least 1, found \(v)") }
        if let v = overshoot, !(v.isFinite && v >= 0) { throw ValidationError("--attack-overshoot must be a number >= 0, found \(v)") }
    }

    /// The attack and its numbers for `generate`, given the search's parameters (a `--attack
    /// paper|official` that disagrees with a given `--bss-mode` is refused).
    func resolve(search: BSSOptions) throws -> (kind: AttackKind, parameters: AttackParameters, bss: BSSParameters) {
        var bss = try search.parameters()
        var kind = AttackKind(bss.mode)
        if let a = attack {
            if let m = a.bssMode {
                if let given = search.resolvedMode, given != m {
                    throw ValidationError("--attack \(a.rawValue) is the BSS search in \(m.rawValue) mode but --bss-mode is \(given.rawValue); give one of them")
                }
                if search.resolvedMode == nil {
                    var s = search
                    s.mode = m
                    bss = try s.parameters()
                }
            }
            kind = a
        }
        var p = AttackParameters(clip: bss.clip)
        if let v = eps { p.epsilon = v }
        p.stepSize = step
        if let v = steps { p.steps = v }
        if let v = overshoot { p.overshoot = v }
        if let problem = p.problem { throw ValidationError(problem) }
        return (kind, p, bss)
    }

    /// The values given, as `bss distill` config overrides.
    var overrides: [(flag: String, key: String, value: ConfigValue)] {
        var out: [(flag: String, key: String, value: ConfigValue)] = []
        if let v = attack { out.append(("--attack", "attack", .string(v.rawValue))) }
        if let v = eps { out.append(("--attack-eps", "attack_eps", .double(Double(v)))) }
        if let v = step { out.append(("--attack-step", "attack_step", .double(Double(v)))) }
        if let v = steps { out.append(("--attack-steps", "attack_steps", .int(v))) }
        if let v = overshoot { out.append(("--attack-overshoot", "attack_overshoot", .double(Double(v)))) }
        return out
    }
}

extension AttackKind: ExpressibleByArgument {}

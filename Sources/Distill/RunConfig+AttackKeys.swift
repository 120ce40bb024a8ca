import Boundary
import Foundation

/// The config keys of the attack in the BSS slot (docs/algorithm.md, "Other attacks"); flags
/// are the same names with dashes (`--attack-eps`).
extension RunConfig {
    /// The attack that fills the BSS slot: `attack`, or the BSS search of `bss_mode`.
    public var resolvedAttack: AttackKind { attack ?? AttackKind(bssMode) }

    /// The numbers of the non-BSS attacks; their clip range is the BSS search's (`bss_clip`).
    public var attackParameters: AttackParameters {
        AttackParameters(epsilon: attackEps, stepSize: attackStep, steps: attackSteps, overshoot: attackOvershoot,
                         clip: bssParameters.clip)
    }

    /// Why `attack` and `bss_mode` cannot both hold (or an attack has no slot to fill), or nil.
    public var attackProblem: String? {
        if let a = attack, !a.isBSS, !method.usesBSS {
            return "attack '\(a.rawValue)' fills the BSS slot, which method '\(method.rawValue)' does not have; use method bss or bss+fsp"
        }
        if let a = attack, let m = a.bssMode, m != bssMode {
            return "attack '\(a.rawValue)' is the BSS search in \(a.rawValue) mode but bss_mode is '\(bssMode.rawValue)'; give one of them"
        }
        return attackParameters.problem
    }

    static let attackKeys: [ConfigKey] = [
        ConfigKey(name: "attack", help: "samples in the BSS slot: paper or official (the BSS search in that mode), fgsm, pgd, deepfool or noise (default: the BSS search of bss_mode)",
                  set: { c, v in
                      guard let s = try Read.string(v) else { c.attack = nil; return }
                      guard let a = AttackKind(rawValue: s.lowercased()) else {
                          throw ConfigValueProblem(expected: "paper, official, fgsm, pgd, deepfool or noise")
                      }
                      c.attack = a
                      // `attack: official` is the official search: its mode's defaults apply
                      // (a different bss_mode given as well is refused by attackProblem).
                      if let m = a.bssMode { c.bssMode = m }
                  }, get: { Write.string($0.attack?.rawValue) }),
        ConfigKey(name: "attack_eps", help: "L-infinity radius epsilon of fgsm and pgd (default 0.03)",
                  set: { c, v in c.attackEps = try Read.float(v, "a number > 0", { $0 > 0 }) }, get: { Write.float($0.attackEps) }),
        ConfigKey(name: "attack_step", help: "pgd step size (default: attack_eps / 4)",
                  set: { c, v in c.attackStep = v == .null ? nil : try Read.float(v, "a number > 0", { $0 > 0 }) },
                  get: { Write.float($0.attackStep) }),
        ConfigKey(name: "attack_steps", help: "pgd iterations and deepfool's iteration limit (default 10)",
                  set: { c, v in c.attackSteps = try Read.int(v, "an integer >= 1", { $0 >= 1 }) }, get: { String($0.attackSteps) }),
        ConfigKey(name: "attack_overshoot", help: "deepfool overshoot: the accumulated step is scaled by 1 + overshoot (default 0.02)",
                  set: { c, v in c.attackOvershoot = try Read.float(v, "a number >= 0", { $0 >= 0 }) },
                  get: { Write.float($0.attackOvershoot) }),
    ]
}

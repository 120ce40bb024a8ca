import Foundation

/// Per-epoch values of the loss weights and the learning rate (docs/algorithm.md, "Schedules").
///
/// Epochs are numbered `e = 1 … E`.
///
///     alpha(e) = max(3 · (1 − e/E), 0) + 1               4 → 1   (KD on the clean batch)
///     beta(e)  = max(2 · (1 − 4e/(3E)), 0)               2 → 0, zero from 75 % of E on (KD on BSS;
///                                                        no BSS are generated when it is 0)
///     lr(e)    = lr₀ · decay^#{m ∈ milestones : e − 1 ≥ m·E}
///
/// With the defaults (`lr₀ = 0.1`, `decay = 0.1`, milestones 0.5 and 0.75) and E = 80, epochs
/// 1–40 use 0.1, 41–60 0.01 and 61–80 0.001: the rate is divided by 10 once 50 % and 75 % of the
/// epochs are done. (The authors' script switches one epoch earlier, at epoch 40 and 60 of 80,
/// and re-creates its optimiser there, dropping the momentum; we keep the momentum.) A
/// constant schedule (`--alpha 0.5`) gives its value for every epoch.
public enum Schedules {
    public static func alpha(_ s: WeightSchedule, epoch e: Int, of total: Int) -> Float {
        switch s {
        case let .constant(v): return v
        case .schedule: return Float(max(3 * (1 - Double(e) / Double(total)), 0) + 1)
        }
    }

    public static func beta(_ s: WeightSchedule, epoch e: Int, of total: Int) -> Float {
        switch s {
        case let .constant(v): return v
        case .schedule: return Float(max(2 * (1 - 4 * Double(e) / (3 * Double(total))), 0))
        }
    }

    public static func learningRate(_ base: Float, epoch e: Int, of total: Int, milestones: [Double], decay: Float) -> Float {
        var lr = base
        for m in milestones where Double(e - 1) >= m * Double(total) { lr *= decay }
        return lr
    }
}

extension RunConfig {
    /// `alpha`, `beta` and the learning rate of epoch `e` (1-based) under this config. The
    /// `original` method uses neither teacher term, `hinton` no BSS term, `fitnet`/`at`/`fsp`
    /// neither KD term: their weights are 0.
    public func weights(epoch e: Int) -> (alpha: Float, beta: Float, lr: Float) {
        let a = method.usesKD ? Schedules.alpha(alpha, epoch: e, of: epochs) : 0
        let b = method.usesBSS ? Schedules.beta(beta, epoch: e, of: epochs) : 0
        return (a, b, Schedules.learningRate(lr, epoch: e, of: epochs, milestones: lrMilestones, decay: lrDecay))
    }
}

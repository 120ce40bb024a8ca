import NN
import Tensor

/// Target classes `k` for base samples (docs/algorithm.md, "Target classes").
///
/// Sampling uses the teacher's probabilities at temperature 1, `p = softmax(f)` `[N, C]`:
///
///     p_n^k = p_t(k) / (1 − p_t(b)) = p_t(k) / Σ_{c ≠ b} p_t(c),   k ≠ b
///
/// (the sum form is used: it is the same number, and stays exact when `p_t(b)` rounds to 1).
/// Each draw takes exactly one `nextDouble()` from the generator, rows in order, so a seed fixes
/// every target. When every `p_t(k), k ≠ b` underflowed to 0 the draw is uniform over `k ≠ b`.
public enum TargetSelection {
    /// One k per row drawn with p_n^k = p_t(k) / (1 - p_t(b)) over k != b (probabilities at T = 1).
    public static func sample(probabilities: Tensor, base: [Int], generator: inout SeededGenerator) -> [Int] {
        sample(probabilities: probabilities, base: base, perSample: 1, generator: &generator).map { $0[0] }
    }

    /// `perSample` distinct targets per row (`1 ≤ perSample ≤ C − 1`), drawn one after another
    /// without replacement: each draw renormalises `p_t` over the classes not yet taken
    /// (excluding `b`). Targets are listed in draw order.
    public static func sample(probabilities: Tensor, base: [Int], perSample: Int,
                              generator: inout SeededGenerator) -> [[Int]] {
        precondition(probabilities.rank == 2, "TargetSelection: probabilities must be [N, C], got \(probabilities.shape)")
        let n = probabilities.shape[0], classes = probabilities.shape[1]
        precondition(base.count == n, "TargetSelection: \(base.count) base classes for \(n) rows")
        precondition(perSample >= 1 && perSample < classes,
                     "TargetSelection: perSample must be in 1...\(classes - 1), got \(perSample)")
        var out: [[Int]] = []
        out.reserveCapacity(n)
        var taken = [Bool](repeating: false, count: classes)
        for r in 0..<n {
            let b = base[r]
            precondition(b >= 0 && b < classes, "TargetSelection: base class \(b) out of range 0..<\(classes)")
            for c in 0..<classes { taken[c] = c == b }
            var targets: [Int] = []
            targets.reserveCapacity(perSample)
            for _ in 0..<perSample {
                let k = draw(probabilities, row: r, classes: classes, excluded: taken, generator: &generator)
                taken[k] = true
                targets.append(k)
            }
            out.append(targets)
        }
        return out
    }

    /// The teacher's second class: the largest logit among `k ≠ b` (first index on ties).
    public static func runnerUp(logits: Tensor, base: [Int]) -> [Int] {
        precondition(logits.rank == 2 && logits.shape[1] >= 2, "TargetSelection: logits must be [N, C ≥ 2], got \(logits.shape)")
        let n = logits.shape[0], classes = logits.shape[1]
        precondition(base.count == n, "TargetSelection: \(base.count) base classes for \(n) rows")
        return (0..<n).map { r in
            let row = r * classes
            var best = base[r] == 0 ? 1 : 0
            for c in 0..<classes where c != base[r] && logits.data[row + c] > logits.data[row + best] { best = c }
            return best
        }
    }

    /// Every `k ≠ b`, increasing.
    public static func all(classes: Int, base: [Int]) -> [[Int]] {
        base.map { b in (0..<classes).filter { $0 != b } }
    }

    /// `p_n^k` for row `row`: `p_t(target) / Σ_{c ≠ base} p_t(c)` (0 when that sum is 0).
    public static func targetProbability(probabilities: Tensor, base: Int, target: Int, row: Int) -> Float {
        let classes = probabilities.shape[1], offset = row * classes
        var rest: Double = 0
        for c in 0..<classes where c != base { rest += Double(probabilities.data[offset + c]) }
        return rest > 0 ? Float(Double(probabilities.data[offset + target]) / rest) : 0
    }

    /// One class drawn from row `row` of `p` restricted to the classes not `excluded`.
    private static func draw(_ p: Tensor, row: Int, classes: Int, excluded: [Bool],
                             generator: inout SeededGenerator) -> Int {
        let offset = row * classes
        var total: Double = 0
        var last = -1
        for c in 0..<classes where !excluded[c] && p.data[offset + c] > 0 {
            total += Double(p.data[offset + c])
            last = c
        }
        let u = generator.nextDouble()
        guard total > 0, total.isFinite else {
            // No probability mass left (underflow): uniform over the allowed classes.
            let allowed = (0..<classes).filter { !excluded[$0] }
            return allowed[min(allowed.count - 1, Int(u * Double(allowed.count)))]
        }
        let threshold = u * total
        var cumulative: Double = 0
        for c in 0..<classes where !excluded[c] {
            cumulative += max(0, Double(p.data[offset + c]))
            if threshold < cumulative { return c }
        }
        return last   // u·total rounded up to the total: the last class with mass
    }
}

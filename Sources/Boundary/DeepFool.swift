import NN
import Tensor

extension AdversarialAttack {
    /// Untargeted multi-class DeepFool (Moosavi-Dezfooli et al. 2016; docs/algorithm.md,
    /// "Other attacks"). For each row, with base class `b` and `x_0` the sample:
    ///
    ///     while argmax f(x_i) = b and i < steps:
    ///         for k ≠ b:  w_k = ∇(f_k − f_b)(x_i),  f'_k = f_k(x_i) − f_b(x_i)
    ///         l = argmin_k |f'_k| / ‖w_k‖                       (first k on ties)
    ///         r_i = (|f'_l| + 1e-4) / ‖w_l‖² · w_l
    ///         x_{i+1} = clip(x_0 + (1 + overshoot) · Σ_{j ≤ i} r_j)
    ///
    /// so on a linear model one step crosses the nearest boundary. Returns the samples, the class
    /// `l` of each row's last step (its target) and the steps taken. One forward and one
    /// backward per class and iteration, over the rows still on their base class.
    func deepFool(x0: Tensor, base: [Int]) -> (x: Tensor, target: [Int], steps: [Int]) {
        let n = x0.batch, per = x0.sampleCount, classes = teacher.outputShape.reduce(1, *)
        var x = x0
        var total = [Double](repeating: 0, count: n * per)
        var target = base.map { $0 == 0 ? 1 : 0 }
        var steps = [Int](repeating: 0, count: n)
        let scale = 1 + Double(parameters.overshoot), clip = parameters.clip
        for iteration in 0...parameters.steps {
            let logits = teacher.forward(x, mode: .inference, keepForBackward: false)
            let top = argmax(rows: logits)
            let active = (0..<n).filter { top[$0] == base[$0] }
            if active.isEmpty || iteration == parameters.steps { break }
            let xa = x.gather(rows: active), ab = active.map { base[$0] }
            var best = [Double](repeating: .infinity, count: active.count)
            var bestW = [Float](repeating: 0, count: active.count * per)
            var bestF = [Double](repeating: 0, count: active.count)
            var bestK = active.map { target[$0] }
            for k in 0..<classes {
                let rowsK = active.indices.filter { ab[$0] != k }
                if rowsK.isEmpty { continue }
                _ = teacher.forward(xa, mode: .inference)
                // Seed +1 at k, −1 at b: the gradient of f_k − f_b (zero for rows whose b is k).
                let g = teacher.backward(marginSeed(batch: active.count, classes: classes,
                                                    base: [Int](repeating: k, count: active.count), target: ab), parameterGradients: false)
                for a in rowsK {
                    var s: Double = 0
                    for e in 0..<per { let v = Double(g.data[a * per + e]); s += v * v }
                    let f = Double(logits.data[active[a] * classes + k]) - Double(logits.data[active[a] * classes + ab[a]])
                    let ratio = abs(f) / s.squareRoot()
                    if s > 0, ratio < best[a] {
                        best[a] = ratio; bestF[a] = f; bestK[a] = k
                        bestW.replaceSubrange((a * per)..<((a + 1) * per), with: g.data[(a * per)..<((a + 1) * per)])
                    }
                }
            }
            for (a, row) in active.enumerated() where best[a].isFinite {
                var s: Double = 0
                for e in 0..<per { let v = Double(bestW[a * per + e]); s += v * v }
                let r = (abs(bestF[a]) + 1e-4) / s
                for e in 0..<per {
                    total[row * per + e] += r * Double(bestW[a * per + e])
                    var v = Float(Double(x0.data[row * per + e]) + scale * total[row * per + e])
                    if let clip { v = min(max(v, clip.lowerBound), clip.upperBound) }
                    x.data[row * per + e] = v
                }
                target[row] = bestK[a]
                steps[row] += 1
            }
        }
        return (x, target, steps)
    }
}

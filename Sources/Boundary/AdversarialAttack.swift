import NN
import Tensor

/// Adversarial samples for (sample, base class, target class) pairs by any `AttackKind`, in the
/// layout of a BSS search (`BSSBatchResult`), so `generate` writes them and `distill` puts them
/// in the loss's BSS slot (docs/algorithm.md, "Other attacks").
///
/// With `L_k(x) = f_b(x) − f_k(x)` on the teacher's logits (inference mode) and `g = ∂L_k/∂x`:
///
///     fgsm:     x' = clip(x − ε·sign(g(x)))
///     pgd:      x_0 = x;  x_{i+1} = clip(proj_{‖·−x‖∞ ≤ ε}(x_i − α·sign(g(x_i)))),  i < steps
///     deepfool: see DeepFool.swift (untargeted; the target becomes the class it reaches)
///     noise:    x' = clip(x + ‖x̃ − x‖ · u),  x̃ the pair's BSS (the `bss` parameters), u uniform
///               on the unit sphere (normalised Gaussian draws)
///     paper, official: the BSS search itself (`BSSGenerator`)
///
/// `sign(0) = 0`. Status of a non-BSS sample (official-mode meanings): 1 the teacher's top class
/// is the target, 2 another class, 3 still the base class. Noise directions come from one
/// generator per pair, seeded from `noiseSeed` and the pair's index (`firstPair + j`), so the
/// result does not depend on the batch size or on how pairs are split over processes.
///
/// Rows are independent (inference mode), processed `batchSize` at a time. Not thread-safe.
public final class AdversarialAttack {
    public let teacher: Graph
    public let kind: AttackKind
    public let parameters: AttackParameters
    public let bss: BSSParameters
    /// Largest number of pairs in one teacher pass.
    public var batchSize = 128 { didSet { search.batchSize = batchSize } }
    /// Called after every chunk (or BSS step) with pairs finished and pairs accepted/crossed.
    public var progress: ((_ finished: Int, _ accepted: Int) -> Void)? { didSet { search.progress = progress } }
    let search: BSSGenerator

    public init(teacher: Graph, kind: AttackKind, parameters: AttackParameters, bss: BSSParameters) {
        precondition(parameters.problem == nil, "AttackParameters: \(parameters.problem ?? "")")
        self.teacher = teacher
        self.kind = kind
        self.parameters = parameters
        var b = bss
        if let mode = kind.bssMode, mode != b.mode { b = .defaults(for: mode) }
        self.bss = b
        search = BSSGenerator(teacher: teacher, parameters: b)
    }

    /// The result and each pair's target class (the given ones; DeepFool's are the classes it
    /// reached, or the class it last stepped towards).
    public struct Output {
        public var result: BSSBatchResult
        public var target: [Int]
    }

    /// Runs pair `j` from `source[rows[j]]` with classes `base[j]`, `target[j]`.
    public func run(source: Tensor, rows: [Int], base: [Int], target: [Int], noiseSeed: UInt64 = 0, firstPair: Int = 0) -> Output {
        if kind.isBSS {
            return Output(result: search.run(source: source, rows: rows, base: base, target: target), target: target)
        }
        let pairs = rows.count, classes = teacher.outputShape.reduce(1, *), inputShape = teacher.inputShape
        precondition(base.count == pairs && target.count == pairs, "AdversarialAttack: \(pairs) rows, \(base.count) base, \(target.count) targets")
        var out = BSSBatchResult(x: Tensor(shape: [pairs] + inputShape), status: .init(repeating: .rejectedStepLimit, count: pairs),
                                 steps: .init(repeating: 0, count: pairs), logits: Tensor(shape: [pairs, classes]),
                                 margins: .init(repeating: 0, count: pairs))
        var targets = target
        let norms: [Float]? = kind == .noise ? bssNorms(source: source, rows: rows, base: base, target: target, into: &out) : nil
        let chunk = max(1, batchSize)
        var finished = 0, crossed = 0
        var start = 0
        while start < pairs {
            let range = start..<min(pairs, start + chunk)
            let x0 = source.gather(rows: Array(rows[range]))
            let b = Array(base[range]), k = Array(target[range])
            var x: Tensor, steps: Int
            var chosen = k
            var perRowSteps: [Int]?
            switch kind {
            case .fgsm: x = signStep(from: x0, x0: x0, base: b, target: k, step: parameters.epsilon); steps = 1
            case .pgd:
                x = x0
                for _ in 0..<parameters.steps { x = signStep(from: x, x0: x0, base: b, target: k, step: parameters.resolvedStepSize) }
                steps = parameters.steps
            case .deepfool:
                let d = deepFool(x0: x0, base: b)
                x = d.x; chosen = d.target; perRowSteps = d.steps; steps = 0
            case .noise:
                x = noise(x0: x0, norms: Array(norms![range]), seed: noiseSeed, firstPair: firstPair + range.lowerBound); steps = 1
            case .paper, .official: preconditionFailure("handled above")
            }
            let logits = teacher.forward(x, mode: .inference, keepForBackward: false)
            out.forwardRows += range.count
            let top = argmax(rows: logits)
            for (j, p) in range.enumerated() {
                if kind == .deepfool, top[j] != b[j] { chosen[j] = top[j] }
                targets[p] = chosen[j]
                out.status[p] = top[j] == chosen[j] ? .accepted : (top[j] == b[j] ? .rejectedStepLimit : .rejectedOtherClass)
                out.steps[p] = perRowSteps?[j] ?? steps
                out.margins[p] = logits.data[j * classes + b[j]] - logits.data[j * classes + chosen[j]]
                if out.status[p] == .accepted { crossed += 1 }
            }
            let per = x.sampleCount
            out.x.data.replaceSubrange((range.lowerBound * per)..<(range.upperBound * per), with: x.data)
            out.logits.data.replaceSubrange((range.lowerBound * classes)..<(range.upperBound * classes), with: logits.data)
            finished += range.count
            start = range.upperBound
            progress?(finished, crossed)
        }
        return Output(result: out, target: targets)
    }

    /// `∂L_k/∂x` for every row of `x` (inference mode; one forward and one backward).
    func marginGradient(_ x: Tensor, base: [Int], target: [Int]) -> Tensor {
        _ = teacher.forward(x, mode: .inference)
        return teacher.backward(marginSeed(batch: x.batch, classes: teacher.outputShape.reduce(1, *), base: base, target: target),
                                parameterGradients: false)
    }

    /// One signed step down the margin from `x`, projected onto the ε-ball around `x0`, clipped.
    func signStep(from x: Tensor, x0: Tensor, base: [Int], target: [Int], step: Float) -> Tensor {
        let g = marginGradient(x, base: base, target: target)
        let eps = parameters.epsilon, clip = parameters.clip
        var y = x
        for i in 0..<y.data.count {
            let s: Float = g.data[i] > 0 ? 1 : (g.data[i] < 0 ? -1 : 0)
            var v = x.data[i] - step * s
            v = min(max(v, x0.data[i] - eps), x0.data[i] + eps)
            if let clip { v = min(max(v, clip.lowerBound), clip.upperBound) }
            y.data[i] = v
        }
        return y
    }

    /// Every pair's BSS (the `bss` parameters) and its length `‖x̃ − x‖₂`; adds the search's work to `out`.
    func bssNorms(source: Tensor, rows: [Int], base: [Int], target: [Int], into out: inout BSSBatchResult) -> [Float] {
        let found = search.run(source: source, rows: rows, base: base, target: target)
        out.forwardRows += found.forwardRows
        out.backwardRows += found.backwardRows
        let per = source.sampleCount
        return rows.indices.map { j in
            var s: Double = 0
            for e in 0..<per {
                let d = Double(found.x.data[j * per + e]) - Double(source.data[rows[j] * per + e])
                s += d * d
            }
            return Float(s.squareRoot())
        }
    }

    /// `x0 + norm · u` per row, `u` a unit vector from pair `firstPair + j`'s own generator.
    func noise(x0: Tensor, norms: [Float], seed: UInt64, firstPair: Int) -> Tensor {
        let per = x0.sampleCount, clip = parameters.clip
        var y = x0
        var u = [Double](repeating: 0, count: per)
        for j in 0..<x0.batch {
            var g = SeededGenerator(seed: seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(firstPair + j + 1))
            var s: Double = 0
            for e in 0..<per { u[e] = Double(g.nextNormal()); s += u[e] * u[e] }
            let scale = s > 0 ? Double(norms[j]) / s.squareRoot() : 0
            for e in 0..<per {
                var v = Float(Double(x0.data[j * per + e]) + scale * u[e])
                if let clip { v = min(max(v, clip.lowerBound), clip.upperBound) }
                y.data[j * per + e] = v
            }
        }
        return y
    }
}

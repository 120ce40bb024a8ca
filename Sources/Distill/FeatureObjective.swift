import ModelIO
import NN
import Tensor

/// The feature terms of a run (docs/algorithm.md, "Feature methods"), computed once per
/// training step on the clean batch and added to the loss:
///
///     L_feat = Σ_terms w · Σ_pairs ℓ(pair)          (fitnet, at: one ℓ per pair; fsp: one per consecutive pair of pairs)
///
/// Per step: the teacher runs in inference mode on the batch with its tapped nodes; the
/// student's tapped activations come from its training-mode forward (`Graph.forward(taps:)`);
/// each term gives its value and dL/d(student tap), which enter the student's backward as
/// tap gradients (`Graph.backward(tapGradients:)`). FitNets regressors run in training mode,
/// their parameter gradients accumulate, and the optimiser updates them with the student
/// (`trainableParameters`); checkpoints carry them (`state`).
public final class FeatureObjective {
    public struct Term {
        public var kind: FeatureLossKind
        public var weight: Float
        public var pairs: [FeaturePair]
        /// Positions of each pair's nodes in `teacherTaps` / `studentTaps`.
        var slots: [(teacher: Int, student: Int)]
        /// FitNets: one regressor per pair.
        public var regressors: [Graph]
    }

    public let teacher: Graph
    public let terms: [Term]
    /// Node indices tapped, each once, in the order the forward passes return them.
    public let teacherTaps: [Int]
    public let studentTaps: [Int]

    /// Resolves and checks `specs` (weights resolved) for the two models; regressors are
    /// initialised as PyTorch does from `seed`'s regressor streams.
    public init(specs: [FeatureTermSpec], settings: FeatureSettings, teacher: Model, student: Model, seed: UInt64) throws {
        self.teacher = teacher.graph
        var tTaps: [Int] = [], sTaps: [Int] = []
        func slot(_ i: Int, _ list: inout [Int]) -> Int {
            if let k = list.firstIndex(of: i) { return k }
            list.append(i)
            return list.count - 1
        }
        var terms: [Term] = []
        for (ti, spec) in specs.enumerated() {
            let names = try FeatureTaps.pairs(for: spec, settings: settings, teacher: teacher, student: student)
            let nodes = try FeatureTaps.resolve(names, kind: spec.kind, teacher: teacher, student: student)
            let slots = nodes.map { (teacher: slot($0.teacher, &tTaps), student: slot($0.student, &sTaps)) }
            var regressors: [Graph] = []
            if spec.kind == .fitnet {
                for (pi, p) in nodes.enumerated() {
                    let g = try FeatureRegressor.build(student: student.graph.nodes[p.student].outputShape,
                                                       teacher: teacher.graph.nodes[p.teacher].outputShape).get()
                    var gen = RunStreams.regressor(seed, term: ti, pair: pi)
                    initialiseLikePyTorch(g, generator: &gen)
                    regressors.append(g)
                }
            }
            terms.append(Term(kind: spec.kind, weight: spec.weight ?? settings.weight(of: spec.kind), pairs: names,
                              slots: slots, regressors: regressors))
        }
        self.terms = terms
        teacherTaps = tTaps
        studentTaps = sTaps
    }

    /// What one step's feature terms gave.
    public struct Output {
        /// Unweighted value of each term.
        public var values: [FeatureLossKind: Float] = [:]
        /// `Σ w · value`.
        public var weighted: Float = 0
        /// dL_feat/d(student node output), by node index.
        public var tapGradients: [Int: Tensor] = [:]
    }

    /// The terms on teacher input `x` given the student's tapped activations (in `studentTaps`
    /// order). Regressor parameter gradients accumulate.
    public func run(teacherInput x: Tensor, studentActivations s: [Tensor]) -> Output {
        precondition(s.count == studentTaps.count, "FeatureObjective: \(s.count) student activations for \(studentTaps.count) taps")
        let t = teacher.forward(x, mode: .inference, keepForBackward: false, taps: teacherTaps).taps
        var out = Output()
        var grads = [Tensor?](repeating: nil, count: s.count)
        func accumulate(_ slot: Int, _ g: Tensor, _ w: Float) {
            var g = g
            if w != 1 { g.data.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= w } } }
            if grads[slot] == nil { grads[slot] = g } else { grads[slot]!.add(g) }
        }
        for term in terms {
            var value: Float = 0
            switch term.kind {
            case .fitnet:
                for (k, sl) in term.slots.enumerated() {
                    let reg = term.regressors[k]
                    let r = reg.forward(s[sl.student], mode: .training)
                    // The weight is applied before the regressor's backward: its parameters get w·dL too.
                    let (l, dl) = hintLoss(student: r, teacher: t[sl.teacher])
                    var g = dl
                    g.data.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= term.weight } }
                    value += l
                    accumulate(sl.student, reg.backward(g), 1)
                }
            case .at:
                for sl in term.slots {
                    let (l, g) = AttentionTransfer.loss(student: s[sl.student], teacher: t[sl.teacher])
                    value += l
                    accumulate(sl.student, g, term.weight)
                }
            case .fsp:
                let (l, gs) = FlowOfSolution.loss(student: term.slots.map { s[$0.student] }, teacher: term.slots.map { t[$0.teacher] })
                value = l
                for (sl, g) in zip(term.slots, gs) { accumulate(sl.student, g, term.weight) }
            }
            out.values[term.kind] = value
            out.weighted += term.weight * value
        }
        for (k, g) in grads.enumerated() { if let g { out.tapGradients[studentTaps[k]] = g } }
        return out
    }

    /// The regressors' learnable parameters (trained with the student).
    public var trainableParameters: [Parameter] { terms.flatMap { $0.regressors.flatMap(\.trainableParameters) } }

    /// Every regressor parameter and buffer, keyed `<kind>.<pair>.<node>.<param>` (`fitnet.0.conv.weight`).
    public var state: [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (key, p, bn) in namedState() {
            if let bn { out[key] = Tensor(shape: [1], data: [Float(bn.numBatchesTracked)]) } else { out[key] = p!.value }
        }
        return out
    }

    /// Restores `state` (from a checkpoint); every key must be present with its shape.
    public func restore(_ state: [String: Tensor], file: String) throws {
        let entries = namedState()
        for (key, p, bn) in entries {
            guard let v = state[key] else {
                throw ModelIOError(.notFound, file: file, location: "features.\(key)", "the checkpoint has no state for this feature regressor")
            }
            if let bn {
                guard v.count == 1 else { throw ModelIOError(.mismatch, file: file, location: "features.\(key)", "expected one value") }
                bn.numBatchesTracked = Int64(v.data[0])
            } else {
                guard v.shape == p!.value.shape else {
                    throw ModelIOError(.mismatch, file: file, location: "features.\(key)", "shape \(v.shape), the regressor has \(p!.value.shape)")
                }
                p!.value = v
            }
        }
        let known = Set(entries.map(\.0))
        if let extra = state.keys.sorted().first(where: { !known.contains($0) }) {
            throw ModelIOError(.mismatch, file: file, location: "features.\(extra)", "the run has no such feature regressor state")
        }
    }

    /// Keys with their parameter, or the BatchNorm whose `num_batches_tracked` the key holds.
    private func namedState() -> [(String, Parameter?, BatchNorm?)] {
        var out: [(String, Parameter?, BatchNorm?)] = []
        for term in terms {
            for (k, g) in term.regressors.enumerated() {
                let prefix = "\(term.kind.rawValue).\(k)."
                out += g.namedParameters().map { (prefix + $0.key, $0.parameter, nil) }
                for node in g.nodes { if let bn = node.layer as? BatchNorm { out.append((prefix + node.name + ".num_batches_tracked", nil, bn)) } }
            }
        }
        return out
    }
}

import Boundary
import Foundation
import ModelIO
import NN
import Tensor

/// Boundary supporting samples for the base rows of one batch: what the BSS search returns,
/// or what a test feeds in place of it (`DistillationStep.sampleOverride`).
public struct BoundarySamples {
    /// One target class per base row.
    public var targets: [Int]
    /// `[P] + teacher input shape`: where each pair's search stopped.
    public var x: Tensor
    /// Each pair's outcome (paper mode: only `.accepted` pairs enter the loss).
    public var status: [BSSStatus]
    /// `[P, classes]`: the teacher's logits at `x`.
    public var teacherLogits: Tensor

    public init(targets: [Int], x: Tensor, status: [BSSStatus], teacherLogits: Tensor) {
        self.targets = targets; self.x = x; self.status = status; self.teacherLogits = teacherLogits
    }
}

/// One distillation training step (docs/algorithm.md, "Base samples" to "Distillation loss"), the unit the training loop and the
/// benchmark run.
///
/// For a batch `x` `[B] + inputShape` with labels `y` and the teacher's logits `t = f_t(x)`:
///
///     s = f_s(x)                                   student, training mode (BatchNorm batch stats, dropout on)
///     loss = CE(s, y) + α·KD_T(s, t) + β·KD_T(f_s(x̃), f_t(x̃))
///     KD_T(s, t) = −mean_n Σ_c softmax(t_n/T)_c · log_softmax(s_n/T)_c        (no T² factor)
///
/// - `original` uses the CE term only, `hinton` CE + α·KD, `bss` all three; `features` (if
///   set) adds its weighted terms on the clean batch, their gradients entering the student's
///   backward at the tapped nodes.
/// - BSS (only when `method` is `bss` or `bss+fsp` and `β > 0`): base rows = those the teacher and the
///   student (these training-mode logits) both classify correctly, at most `bssPerBatch` of
///   them by `BaseSelection.forDistillation`; one target per base row from `p_t(k)/(1 − p_t(b))`
///   (`TargetSelection.sample`, drawing from the caller's generator); the search runs on the
///   teacher in inference mode. Paper mode keeps the accepted pairs (`M` of them), official mode
///   every pair. The BSS term is a mean over those M samples, from a second training-mode
///   forward of the student (its own batch statistics, as in the authors' code). It is skipped
///   when `M = 0`, and when the student has BatchNorm without spatial extent and `M = 1`
///   (training-mode BatchNorm needs two values per channel).
/// - The gradient of the clean terms is back-propagated right after the clean forward, then the
///   BSS forward and backward run: parameter gradients accumulate, so this equals one backward
///   of the summed loss, and the BatchNorm running statistics move in the same order as in
///   PyTorch (clean batch, then BSS). Then one optimiser step.
///
/// Inputs are in the teacher's per-sample shape; a student whose input is that shape flattened
/// (an MLP on images) gets each batch flattened in its framework's order (`studentLayout`).
public final class DistillationStep {
    public let student: Graph
    public let teacher: Graph?
    public let optimizer: Optimizer
    public var method: DistillMethod
    public var temperature: Float
    public var bssPerBatch: Int
    public let bssParameters: BSSParameters
    /// The samples of the BSS slot: the BSS search (`paper`/`official`) or another attack
    /// (docs/algorithm.md, "Other attacks"); those enter the loss whatever their status.
    public let attack: AttackKind
    /// The layout the student's framework flattens images in (Keras: NHWC).
    public let studentLayout: DataLayout
    /// Replaces the BSS search and target sampling (tests feed PyTorch's samples): called with
    /// the base rows of the batch (selection order) and the batch.
    public var sampleOverride: ((_ baseRows: [Int], _ x: Tensor) -> BoundarySamples)?
    /// Replaces `BaseSelection.forDistillation` (the benchmark's fixed-size workload selects on
    /// teacher correctness only).
    public var baseSelector: ((_ teacherLogits: Tensor, _ studentLogits: Tensor, _ labels: [Int], _ limit: Int) -> [Int])?
    /// Every searched pair enters the BSS term whatever its status (default false: paper mode
    /// keeps accepted pairs, official mode all).
    public var useEveryPair = false
    /// Feature terms (FitNets, AT, FSP) on the clean batch, added to its loss (FeatureObjective.swift).
    public var features: FeatureObjective?
    /// Set under mpirun: the step runs on this rank's share of the batch (DistillationStep+Parallel.swift).
    public var parallel: DataParallel?

    let search: AdversarialAttack?
    /// Values per channel that one sample contributes to the student's BatchNorm layers (the
    /// smallest over layers), nil without BatchNorm.
    let batchNormValuesPerSample: Int?

    /// What one step computed.
    public struct Result: Sendable {
        public var crossEntropy: Float = 0
        public var distillation: Float = 0
        public var bssDistillation: Float = 0
        /// Unweighted value of each feature term, and their weighted sum (in `loss`).
        public var featureValues: [FeatureLossKind: Float] = [:]
        public var featureLoss: Float = 0
        /// `CE + α·KD + β·KD_BSS`.
        public var loss: Float = 0
        /// Batch rows the student (training-mode forward) classifies correctly.
        public var correct = 0
        public var count = 0
        /// Base rows searched (pairs attempted), pairs accepted (paper) or crossed into the
        /// target (official), and pairs that entered the loss.
        public var bssAttempted = 0
        public var bssAccepted = 0
        public var bssUsed = 0
        /// Base rows of the batch, in selection order.
        public var baseRows: [Int] = []
        public init() {}
    }

    public init(student: Graph, teacher: Graph?, optimizer: Optimizer, method: DistillMethod, temperature: Float,
                bssPerBatch: Int, bssParameters: BSSParameters, studentLayout: DataLayout = .nchw,
                attack: AttackKind? = nil, attackParameters: AttackParameters = AttackParameters()) {
        precondition(teacher != nil || method == .original, "DistillationStep: method \(method) needs a teacher")
        precondition(temperature > 0 && bssPerBatch >= 1, "DistillationStep: temperature and bssPerBatch must be positive")
        self.student = student
        self.teacher = teacher
        self.optimizer = optimizer
        self.method = method
        self.temperature = temperature
        self.bssPerBatch = bssPerBatch
        self.bssParameters = bssParameters
        self.studentLayout = studentLayout
        let attack = attack ?? AttackKind(bssParameters.mode)
        self.attack = attack
        search = (method.usesBSS && teacher != nil)
            ? AdversarialAttack(teacher: teacher!, kind: attack, parameters: attackParameters, bss: bssParameters) : nil
        let perSample = student.nodes.compactMap { n -> Int? in
            guard n.layer is BatchNorm else { return nil }
            return n.outputShape.dropFirst().reduce(1, *)
        }
        batchNormValuesPerSample = perSample.min()
    }

    /// Whether only accepted pairs enter the loss: the paper-mode BSS search (not `useEveryPair`).
    var keepsAcceptedOnly: Bool { attack == .paper && !useEveryPair }

    /// `x` in the student's per-sample input shape: unchanged, or flattened in the student's
    /// framework order when the student takes flat vectors.
    public func studentInput(_ x: Tensor) -> Tensor {
        let per = Array(x.shape.dropFirst())
        guard per != student.inputShape else { return x }
        let ordered = per.count == 3 ? DataSet.convert(x, from: .nchw, to: studentLayout) : x
        return ordered.reshaped([x.batch] + student.inputShape)
    }

    /// Runs one step on `x` (`[B] + inputShape`) with `labels`, the teacher's logits on `x`
    /// (`[B, C]`; nil for `original`), the loss weights and learning rate of the epoch.
    /// `generator` supplies the target-class draws.
    @discardableResult
    public func run(x: Tensor, labels: [Int], teacherLogits: Tensor?, alpha: Float, beta: Float, learningRate: Float,
                    generator: inout SeededGenerator) -> Result {
        precondition(labels.count == x.batch, "DistillationStep: \(labels.count) labels for \(x.batch) samples")
        precondition(method == .original || teacherLogits?.shape == [x.batch, student.outputShape.reduce(1, *)],
                     "DistillationStep: teacher logits \(teacherLogits?.shape ?? []) do not fit the batch")
        if let parallel {
            return runParallel(parallel, x: x, labels: labels, teacherLogits: teacherLogits, alpha: alpha, beta: beta,
                               learningRate: learningRate, generator: &generator)
        }
        var r = Result()
        r.count = x.batch
        optimizer.learningRate = learningRate
        optimizer.zeroGrad()

        // Clean batch: CE (+ α·KD), backward at once (the graph keeps one forward's activations).
        let (s, taps) = student.forward(studentInput(x), mode: .training, taps: features?.studentTaps ?? [])  // [B, C]
        var (ce, grad) = crossEntropy(logits: s, labels: labels)
        r.crossEntropy = ce
        r.loss = ce
        var tapGradients: [Int: Tensor] = [:]
        if let features {
            let f = features.run(teacherInput: x, studentActivations: taps)
            r.featureValues = f.values
            r.featureLoss = f.weighted
            r.loss += f.weighted
            tapGradients = f.tapGradients
        }
        if method.usesKD, let t = teacherLogits {
            let (kd, kdGrad) = distillationLoss(student: s, teacher: t, temperature: temperature)
            r.distillation = kd
            r.loss += alpha * kd
            grad.data.withUnsafeMutableBufferPointer { g in
                kdGrad.data.withUnsafeBufferPointer { k in for i in 0..<g.count { g[i] += alpha * k[i] } }
            }
        }
        student.backward(grad, tapGradients: tapGradients)
        let predicted = argmax(rows: s)
        r.correct = zip(predicted, labels).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }

        if method.usesBSS, beta > 0, let t = teacherLogits {
            bssTerm(x: x, labels: labels, studentLogits: s, teacherLogits: t, beta: beta, generator: &generator, into: &r)
        }
        optimizer.step()
        return r
    }

    /// Base selection, targets, the search and the β·KD_T term on the samples used.
    private func bssTerm(x: Tensor, labels: [Int], studentLogits s: Tensor, teacherLogits t: Tensor, beta: Float,
                         generator: inout SeededGenerator, into r: inout Result) {
        let base = baseSelector?(t, s, labels, bssPerBatch)
            ?? BaseSelection.forDistillation(teacherLogits: t, studentLogits: s, labels: labels, limit: bssPerBatch)
        r.baseRows = base
        guard !base.isEmpty else { return }
        let samples: BoundarySamples
        if let sampleOverride {
            samples = sampleOverride(base, x)
        } else {
            let baseLabels = base.map { labels[$0] }
            let targets = TargetSelection.sample(probabilities: softmax(t.gather(rows: base)), base: baseLabels,
                                                 generator: &generator)
            // Noise directions: one draw per batch (only for noise, so other runs keep their stream).
            let noiseSeed = attack == .noise ? generator.next() : 0
            let found = search!.run(source: x, rows: base, base: baseLabels, target: targets, noiseSeed: noiseSeed)
            samples = BoundarySamples(targets: found.target, x: found.result.x, status: found.result.status,
                                      teacherLogits: found.result.logits)
        }
        r.bssAttempted = base.count
        r.bssAccepted = samples.status.reduce(0) { $0 + ($1 == .accepted ? 1 : 0) }
        let used = keepsAcceptedOnly
            ? samples.status.indices.filter { samples.status[$0] == .accepted }
            : Array(samples.status.indices)
        guard !used.isEmpty, used.count * (batchNormValuesPerSample ?? 2) >= 2 else { return }
        r.bssUsed = used.count
        let xb = used.count == samples.x.batch ? samples.x : samples.x.gather(rows: used)
        let tb = used.count == samples.teacherLogits.batch ? samples.teacherLogits : samples.teacherLogits.gather(rows: used)
        let sb = student.forward(studentInput(xb), mode: .training)
        var (kdb, g) = distillationLoss(student: sb, teacher: tb, temperature: temperature)
        r.bssDistillation = kdb
        r.loss += beta * kdb
        g.data.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= beta } }
        student.backward(g)
    }
}

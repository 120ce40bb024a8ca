import Boundary
import Foundation
import ModelIO
import NN
import Tensor

/// Where an epoch is, for progress displays.
public struct BatchProgress: Sendable {
    public var epoch: Int
    public var epochs: Int
    public var batch: Int
    public var batches: Int
    public var samplesDone: Int
    public var samples: Int
    /// Running means over the epoch so far.
    public var loss: Double
    public var accuracy: Double
    public var bssAccepted: Int
    public var bssAttempted: Int
}

/// The distillation training loop: epochs of `DistillationStep`s over a data set, with the
/// schedules of `RunConfig`, validation after every epoch, and a state that checkpoints restore
/// exactly.
///
/// Per epoch `e` (1-based): `alpha`, `beta`, `lr` from `RunConfig.weights(epoch:)`; a permutation
/// of the training rows from the training stream; batches of `batchSize` (a last batch of one
/// sample is dropped); per batch, augmentation (if asked; it draws from the same stream), the
/// teacher's logits (inference mode; computed once for all rows and reused when nothing
/// augments the inputs), then one step (target classes also draw from the stream). The same
/// seed and thread count give the same student bit for bit, and a run restored from a
/// checkpoint continues exactly as the uninterrupted run (`trainingState`/`restore`).
///
/// `init` checks everything a run needs before any training (`Preflight`).
public final class Distiller {
    public let config: RunConfig
    public let teacher: Model?
    public let student: Model
    /// Training samples (the `train_fraction` subset) in the teacher's input shape (the
    /// student's for `original`), with labels: in memory, or decoded on demand into a bounded
    /// cache (`SampleSource`; the same values either way).
    public let train: SampleSource
    /// Validation samples in the student's input shape, if any.
    public let val: SampleSource?
    public let optimizer: SGD
    public let step: DistillationStep
    public private(set) var completedEpochs = 0
    public private(set) var history: [EpochMetrics] = []
    /// The training stream (permutations, augmentation, target classes).
    public var generator: SeededGenerator
    /// Set under mpirun with more than one rank: batches, teacher logits and validation are
    /// split over the ranks (DataParallel, docs/mpi.md).
    public var parallel: DataParallel? { didSet { step.parallel = parallel } }

    private var augmentation: Augmentation
    private var teacherLogits: Tensor?
    private let labels: [Int]

    /// In-memory sets (tests, callers that loaded whole).
    public convenience init(config: RunConfig, teacher: Model?, student: Model, train: DataSet, val: DataSet?) throws {
        try self.init(config: config, teacher: teacher, student: student, train: SampleSource(train), val: val.map(SampleSource.init))
    }

    public init(config: RunConfig, teacher: Model?, student: Model, train: SampleSource, val: SampleSource?) throws {
        try Preflight.check(config: config, teacher: teacher, student: student, train: train, val: val)
        self.config = config
        self.teacher = config.method.usesTeacher ? teacher : nil
        self.student = student
        self.train = train
        self.val = val
        labels = train.y!
        generator = RunStreams.training(config.seed)
        augmentation = Augmentation(cropPadding: config.augmentCrop, flip: config.augmentFlip)
        // Feature terms (and FitNets regressors, trained with the student: after its parameters).
        let terms = try config.featureTerms()
        let usedTeacher = config.method.usesTeacher ? teacher : nil
        if terms.isEmpty, let pairs = config.features.pairs {
            throw RunConfigError(key: "feature_pairs",
                               "pairs \(pairs.map(\.description).joined(separator: ",")) are given but method '\(config.method.rawValue)' has no feature term; use --method fitnet|at|fsp|bss+fsp or feature_losses")
        }
        if !terms.isEmpty && usedTeacher == nil {
            throw RunConfigError(key: "feature_losses",
                               "feature terms learn from a teacher; method '\(config.method.rawValue)' has none")
        }
        let features = try terms.isEmpty ? nil : FeatureObjective(specs: terms, settings: config.features, teacher: usedTeacher!,
                                                                  student: student, seed: config.seed)
        optimizer = SGD(parameters: student.graph.trainableParameters + (features?.trainableParameters ?? []), lr: config.lr,
                        momentum: config.momentum, weightDecay: config.weightDecay, nesterov: config.nesterov)
        step = DistillationStep(student: student.graph, teacher: self.teacher?.graph, optimizer: optimizer,
                                method: config.method, temperature: config.temperature, bssPerBatch: config.bssPerBatch,
                                bssParameters: config.bssParameters, studentLayout: student.inputLayout,
                                attack: config.resolvedAttack, attackParameters: config.attackParameters)
        step.features = features
        // Dropout masks come from per-layer streams of the seed (saved in checkpoints).
        for (i, node) in student.graph.nodes.enumerated() {
            if let d = node.layer as? Dropout { d.generator = RunStreams.dropout(config.seed, node: i) }
        }
    }

    /// Computes the teacher's logits on every training row once (inference mode), when the
    /// inputs are not augmented; later epochs reuse them. `progress` gets rows done.
    public func prepareTeacherLogits(progress: ((Int) -> Void)? = nil) throws {
        guard let teacher, teacherLogits == nil, !config.augments else { return }
        teacherLogits = try predict(teacher.graph, train, progress: progress)
    }

    /// `graph`'s inference outputs on every row of `source`, a chunk at a time for sets decoded
    /// on demand. Chunks are whole numbers of `evalBatchSize` rows, so the batches (and the
    /// bits) are those of one `predict` over the whole set.
    func predict(_ graph: Graph, _ source: SampleSource, progress: ((Int) -> Void)? = nil) throws -> Tensor {
        let batch = max(1, config.evalBatchSize)
        let chunk = max(1, DataLoader.defaultChunkSize / batch) * batch
        var out: [Float] = []
        try source.forEachChunk(size: chunk) { rows, x in
            let p: (Int) -> Void = { done in progress?(rows.lowerBound + done) }
            out += (parallel?.predict(graph, x, batchSize: batch, progress: p) ?? graph.predict(x, batchSize: batch, progress: p)).data
        }
        return Tensor(shape: [source.count] + graph.outputShape, data: out)
    }

    /// Trains one epoch and appends its metrics to `history`. A loss that is NaN or infinite
    /// stops the run with an error naming the epoch and step (`nonFiniteLoss`): the weights are
    /// lost from then on, and the last checkpoint is the state before this epoch.
    @discardableResult
    public func trainEpoch(onBatch: ((BatchProgress) -> Void)? = nil) throws -> EpochMetrics {
        precondition(completedEpochs < config.epochs, "all \(config.epochs) epochs are done")
        try prepareTeacherLogits()
        let e = completedEpochs + 1
        let w = config.weights(epoch: e)
        // The Float values as their shortest decimals (0.1, not 0.10000000149011612) in the log.
        func decimal(_ v: Float) -> Double { Double("\(v)") ?? Double(v) }
        var m = EpochMetrics(epoch: e, lr: decimal(w.lr), alpha: decimal(w.alpha), beta: decimal(w.beta))
        m.mpiWorldSize = config.mpiWorldSize
        let start = Date()
        let batches = DataSelection.batches(count: train.count, batchSize: config.batchSize, generator: &generator)
        let total = batches.reduce(0) { $0 + $1.count }
        var correct = 0, bssWeighted = 0.0
        for (b, rows) in batches.enumerated() {
            let idx = Array(rows)
            // A fresh batch tensor per step on purpose: the student's graph keeps a reference
            // to its input for backward, so refilling one buffer would copy anyway.
            var x = try train.gather(idx)
            let y = idx.map { labels[$0] }
            augmentation.apply(&x, generator: &generator)
            var t: Tensor?
            if let teacher {
                t = teacherLogits.map { $0.gather(rows: idx) } ?? parallel?.predict(teacher.graph, x, batchSize: x.batch)
                    ?? teacher.graph.forward(x, mode: .inference, keepForBackward: false)
            }
            let r = step.run(x: x, labels: y, teacherLogits: t, alpha: w.alpha, beta: w.beta, learningRate: w.lr,
                             generator: &generator)
            if !r.loss.isFinite {
                throw Self.nonFiniteLoss(r, epoch: e, step: b + 1, steps: batches.count,
                                         optimizerStep: optimizer.stepCount, file: train.file)
            }
            let n = Double(idx.count)
            m.loss += Double(r.loss) * n
            m.ce += Double(r.crossEntropy) * n
            m.kd += Double(r.distillation) * n
            for (k, v) in r.featureValues { m.features[k.rawValue, default: 0] += Double(v) * n }
            bssWeighted += Double(r.bssDistillation) * Double(r.bssUsed)
            m.bssAttempted += r.bssAttempted
            m.bssAccepted += r.bssAccepted
            m.bssUsed += r.bssUsed
            m.samples += idx.count
            m.batches += 1
            correct += r.correct
            onBatch?(BatchProgress(epoch: e, epochs: config.epochs, batch: b + 1, batches: batches.count,
                                   samplesDone: m.samples, samples: total, loss: m.loss / Double(m.samples),
                                   accuracy: Double(correct) / Double(m.samples),
                                   bssAccepted: m.bssAccepted, bssAttempted: m.bssAttempted))
        }
        let n = Double(max(m.samples, 1))
        m.loss /= n; m.ce /= n; m.kd /= n
        for k in m.features.keys { m.features[k]! /= n }
        m.kdBSS = m.bssUsed > 0 ? bssWeighted / Double(m.bssUsed) : 0
        m.trainAccuracy = Double(correct) / n
        if let (acc, loss) = try evaluate() { m.valAccuracy = acc; m.valLoss = loss }
        m.seconds = Date().timeIntervalSince(start)
        completedEpochs = e
        history.append(m)
        return m
    }

    /// Trains the remaining epochs (or until `stopAfter` epochs are complete), calling `onEpoch`
    /// after each (checkpoints and logs go there).
    public func run(stopAfter: Int? = nil, onBatch: ((BatchProgress) -> Void)? = nil,
                    onEpoch: ((EpochMetrics) throws -> Void)? = nil) throws {
        while completedEpochs < config.epochs {
            if let stopAfter, completedEpochs >= stopAfter { break }
            let m = try trainEpoch(onBatch: onBatch)
            try onEpoch?(m)
        }
    }

    /// The one-line error for a non-finite loss at `step` (1-based) of `epoch`, with the terms.
    static func nonFiniteLoss(_ r: DistillationStep.Result, epoch: Int, step: Int, steps: Int,
                              optimizerStep: Int, file: String) -> ModelIOError {
        var terms = "CE \(r.crossEntropy), KD \(r.distillation)"
        if r.bssUsed > 0 { terms += ", KD_BSS \(r.bssDistillation)" }
        return ModelIOError(.mismatch, file: "distillation", location: "epoch \(epoch), step \(step) of \(steps)",
                            "the loss is \(r.loss) (\(terms)) after \(optimizerStep) optimizer steps; training stopped (the last checkpoint holds the state after epoch \(epoch - 1)); look for extreme values in \(file) or lower the learning rate")
    }

    /// Validation accuracy and mean cross-entropy of the student (inference mode), nil without
    /// validation data.
    public func evaluate() throws -> (accuracy: Double, loss: Double)? {
        guard let val, let y = val.y, val.count > 0 else { return nil }
        if let parallel, let whole = val.whole {
            return parallel.evaluate(student.graph, whole.x, labels: y, batchSize: config.evalBatchSize)
        }
        let logits = try predict(student.graph, val)
        let top = argmax(rows: logits)
        let correct = zip(top, y).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
        let ce = crossEntropy(logits: logits, labels: y).loss
        return (Double(correct) / Double(val.count), Double(ce))
    }

    // MARK: - Checkpoint state

    /// Everything besides the student's parameters and buffers that the next epoch depends on.
    public struct TrainingState {
        public var completedEpochs: Int
        public var generator: [UInt64]
        /// Dropout streams by node name.
        public var dropout: [String: [UInt64]]
        public var optimizer: [String: Tensor]
        public var optimizerSteps: Int
        public var history: [EpochMetrics]
        /// Feature regressors' parameters and buffers (`FeatureObjective.state`).
        public var features: [String: Tensor] = [:]
    }

    public var trainingState: TrainingState {
        var dropout: [String: [UInt64]] = [:]
        for node in student.graph.nodes { if let d = node.layer as? Dropout { dropout[node.name] = d.generator.state } }
        return TrainingState(completedEpochs: completedEpochs, generator: generator.state, dropout: dropout,
                             optimizer: optimizer.state, optimizerSteps: optimizer.stepCount, history: history,
                             features: step.features?.state ?? [:])
    }

    /// Restores a saved state (the student's weights are restored separately, from the
    /// checkpoint's state dict). `file` names the checkpoint in errors.
    public func restore(_ s: TrainingState, file: String) throws {
        guard s.completedEpochs >= 0, s.completedEpochs <= config.epochs, s.history.count == s.completedEpochs else {
            throw ModelIOError(.malformed, file: file, location: "meta", "epoch \(s.completedEpochs) does not fit the run (\(config.epochs) epochs, \(s.history.count) logged)")
        }
        guard s.generator.count == 4, s.generator.contains(where: { $0 != 0 }) else {
            throw ModelIOError(.malformed, file: file, location: "meta.rng", "expected 4 non-zero state words")
        }
        if let k = optimizer.unfitStateKey(s.optimizer) {
            throw ModelIOError(.mismatch, file: file, location: "optimizer.\(k)", "does not fit the student's parameters")
        }
        for node in student.graph.nodes {
            guard let d = node.layer as? Dropout else { continue }
            guard let st = s.dropout[node.name], st.count == 4, st.contains(where: { $0 != 0 }) else {
                throw ModelIOError(.malformed, file: file, location: "meta.dropout_rng", "no state for dropout layer '\(node.name)'")
            }
            d.generator.state = st
        }
        try step.features?.restore(s.features, file: file)
        if step.features == nil, let k = s.features.keys.sorted().first {
            throw ModelIOError(.mismatch, file: file, location: "features.\(k)", "the run has no feature regressors")
        }
        completedEpochs = s.completedEpochs
        generator.state = s.generator
        optimizer.state = s.optimizer
        optimizer.stepCount = s.optimizerSteps
        history = s.history
    }
}

import Boundary
import Distill
import Foundation
import NN
import Tensor

/// One BSS distillation step as the benchmark times it, matching `bench/torch_bench.py`'s
/// `distill_step` / `distill_step_fixed_bss` workloads.
///
/// Per `run()`: teacher forward on the batch (inference mode, not cached), then a
/// `DistillationStep` (student forward in training mode, `CE + α·KD`, backward; base selection
/// of `bssPerBatch` rows among those the **teacher** classifies correctly, by the score of docs/algorithm.md, "Base samples" — a
/// fixed-size workload, since a random student gets few rows right; one target per row from
/// `p_t(k)/(1 − p_t(b))`; a paper-mode search through the teacher; a teacher forward on the
/// samples; the student forward and backward on **all** of them; one SGD step). With
/// `generateBSS: false` the samples of the first generating call are reused (the step without
/// the search). Defaults: `T = 3`, `α = 4`, `β = 2`, SGD lr 0.1, momentum 0.9, weight decay 1e-4.
///
/// Typical use: teacher `heo2019-resnet26`, student `heo2019-resnet8`, batch 128, 64 BSS, labels =
/// the teacher's predictions (every row is a base candidate).
public final class DistillBenchmarkStep {
    public let step: DistillationStep
    public let teacher: Graph
    public let x: Tensor
    public let labels: [Int]
    public var alpha: Float = 4
    public var beta: Float = 2
    public var learningRate: Float = 0.1
    /// Target-class draws (used inside the search override, so not the step's inout generator).
    private var targetGenerator: SeededGenerator
    private var fixed: (rows: [Int], x: Tensor, targets: [Int])?
    private var generate = true
    private let search: BSSGenerator

    public init(teacher: Graph, student: Graph, x: Tensor, labels: [Int], bssPerBatch: Int = 64, seed: UInt64 = 0) {
        self.teacher = teacher
        self.x = x
        self.labels = labels
        targetGenerator = SeededGenerator(seed: seed)
        let sgd = SGD(parameters: student.trainableParameters, lr: 0.1, momentum: 0.9, weightDecay: 1e-4)
        step = DistillationStep(student: student, teacher: teacher, optimizer: sgd, method: .bss, temperature: 3,
                                bssPerBatch: bssPerBatch, bssParameters: .paper)
        search = BSSGenerator(teacher: teacher, parameters: .paper)
        step.useEveryPair = true
        step.baseSelector = { [unowned self] t, s, y, limit in
            self.lastTeacherLogits = t
            return Self.teacherCorrectRows(teacherLogits: t, studentLogits: s, labels: y, limit: limit)
        }
        step.sampleOverride = { [unowned self] base, batch in self.samples(base: base, batch: batch) }
    }

    private var lastTeacherLogits = Tensor.zeros([0])

    /// Rows the teacher classifies correctly; past `limit`, the `limit` with the largest
    /// `Σ_{c≠y} (p_t(c) − p_s(c))²` (the base-sample score; ties: lower row first).
    static func teacherCorrectRows(teacherLogits t: Tensor, studentLogits s: Tensor, labels y: [Int], limit: Int) -> [Int] {
        let top = argmax(rows: t), c = t.shape[1]
        let rows = y.indices.filter { top[$0] == y[$0] }
        guard rows.count > limit else { return rows }
        let pt = softmax(t), ps = softmax(s)
        let score: [Double] = rows.map { r in
            var sum = 0.0
            for k in 0..<c where k != y[r] { let d = Double(pt.data[r * c + k]) - Double(ps.data[r * c + k]); sum += d * d }
            return sum
        }
        let order = rows.indices.sorted { score[$0] != score[$1] ? score[$0] > score[$1] : $0 < $1 }
        return order.prefix(limit).map { rows[$0] }
    }

    private func samples(base: [Int], batch: Tensor) -> BoundarySamples {
        if !generate, let f = fixed {
            let logits = teacher.forward(f.x, mode: .inference, keepForBackward: false)
            return BoundarySamples(targets: f.targets, x: f.x, status: .init(repeating: .accepted, count: f.rows.count),
                                   teacherLogits: logits)
        }
        let baseLabels = base.map { labels[$0] }
        let targets = TargetSelection.sample(probabilities: softmax(lastTeacherLogits.gather(rows: base)), base: baseLabels,
                                             generator: &targetGenerator)
        let found = search.run(source: batch, rows: base, base: baseLabels, target: targets)
        // As the PyTorch workload: one more teacher forward on the samples.
        let logits = teacher.forward(found.x, mode: .inference, keepForBackward: false)
        fixed = (base, found.x, targets)
        return BoundarySamples(targets: targets, x: found.x, status: found.status, teacherLogits: logits)
    }

    /// One timed step; returns what it computed.
    @discardableResult
    public func run(generateBSS: Bool = true) -> DistillationStep.Result {
        generate = generateBSS || fixed == nil
        let t = teacher.forward(x, mode: .inference, keepForBackward: false)
        var unused = SeededGenerator(seed: 0)   // the override draws the targets
        return step.run(x: x, labels: labels, teacherLogits: t, alpha: alpha, beta: beta, learningRate: learningRate,
                        generator: &unused)
    }
}

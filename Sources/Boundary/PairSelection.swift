import ModelIO
import NN
import Tensor

/// Which samples of a data set become base samples (`--base`).
public enum BaseFilter: String, Sendable, CaseIterable {
    /// Rows whose label the teacher predicts (needs labels). The default.
    case correct
    /// Every row; the base class is the label, or the teacher's prediction without labels.
    case all
}

/// How target classes are chosen per base sample (`--targets`).
public enum TargetRule: Equatable, Sendable {
    /// `perSample` distinct classes drawn with `p_n^k` (without replacement).
    case sampled(perSample: Int)
    /// Every `k ≠ b`.
    case all
    /// The teacher's second class.
    case runnerUp

    /// The name used on the command line and in metadata: `sampled`, `all`, `runner-up`.
    public var name: String {
        switch self {
        case .sampled: return "sampled"
        case .all: return "all"
        case .runnerUp: return "runner-up"
        }
    }
}

/// The (base sample, target class) pairs of one generation run, in pair order: base samples
/// in data order, each followed by its targets (draw order for `sampled`, increasing for `all`).
public struct BSSPairs: Equatable {
    /// Row of the base sample in the data set.
    public var baseIndex: [Int] = []
    public var baseClass: [Int] = []
    public var targetClass: [Int] = []
    /// `p_n^k` at the base sample.
    public var targetProbability: [Float] = []
    /// Distinct base samples.
    public var baseSamples = 0

    public var count: Int { baseIndex.count }
    public init() {}
}

public enum PairSelection {
    /// Base samples of `x` (`[N] + inputShape`, engine layout) for `teacher`: the rows passing
    /// `filter` (the first `limit` of them), with their base classes and teacher logits `[B, C]`.
    ///
    /// The teacher runs in inference mode `batchSize` rows at a time and stops as soon as
    /// `limit` base samples are found. `progress` gets the rows evaluated so far.
    public static func baseSamples(teacher: Graph, x: Tensor, labels: [Int]?, filter: BaseFilter, limit: Int?,
                                   batchSize: Int, progress: ((Int) -> Void)? = nil)
        -> (rows: [Int], baseClass: [Int], logits: Tensor) {
        precondition(filter == .all || labels != nil, "PairSelection: --base correct needs labels")
        let n = x.batch, classes = teacher.outputShape.reduce(1, *)
        var rows: [Int] = [], baseClass: [Int] = [], logits: [Float] = []
        var start = 0
        while start < n, rows.count < (limit ?? Int.max) {
            let end = min(n, start + max(1, batchSize))
            let chunk = teacher.forward(x.slice(rows: start..<end), mode: .inference, keepForBackward: false)
            let top = argmax(rows: chunk)
            for r in start..<end where rows.count < (limit ?? Int.max) {
                let predicted = top[r - start]
                if filter == .correct && predicted != labels![r] { continue }
                rows.append(r)
                baseClass.append(labels?[r] ?? predicted)
                logits.append(contentsOf: chunk.data[((r - start) * classes)..<((r - start + 1) * classes)])
            }
            start = end
            progress?(start)
        }
        return (rows, baseClass, Tensor(shape: [rows.count, classes], data: logits))
    }

    /// The pairs for base samples `rows` with classes `baseClass` and teacher logits `[B, C]`.
    /// `sampled` draws from `generator` (one `nextDouble` per target, rows in order).
    public static func pairs(rows: [Int], baseClass: [Int], logits: Tensor, rule: TargetRule,
                             generator: inout SeededGenerator) -> BSSPairs {
        let classes = logits.shape.count == 2 ? logits.shape[1] : 0
        let probabilities = softmax(logits)
        let targets: [[Int]]
        switch rule {
        case .sampled(let k): targets = rows.isEmpty ? [] : TargetSelection.sample(probabilities: probabilities, base: baseClass,
                                                                                   perSample: k, generator: &generator)
        case .all: targets = TargetSelection.all(classes: classes, base: baseClass)
        case .runnerUp: targets = rows.isEmpty ? [] : TargetSelection.runnerUp(logits: logits, base: baseClass).map { [$0] }
        }
        var p = BSSPairs()
        p.baseSamples = rows.count
        for (i, ks) in targets.enumerated() {
            for k in ks {
                p.baseIndex.append(rows[i])
                p.baseClass.append(baseClass[i])
                p.targetClass.append(k)
                p.targetProbability.append(TargetSelection.targetProbability(probabilities: probabilities, base: baseClass[i],
                                                                             target: k, row: i))
            }
        }
        return p
    }

    /// `‖x_bss[j] − x[baseIndex[j]]‖₂` per pair (Double accumulation), both in the same layout.
    public static func perturbationNorms(result: Tensor, source: Tensor, baseIndex: [Int]) -> [Float] {
        let per = source.sampleCount
        precondition(result.sampleCount == per && result.batch == baseIndex.count, "perturbationNorms: shapes do not fit")
        return result.data.withUnsafeBufferPointer { r in
            source.data.withUnsafeBufferPointer { s in
                baseIndex.enumerated().map { j, row in
                    var sum: Double = 0
                    let a = r.baseAddress! + j * per, b = s.baseAddress! + row * per
                    for e in 0..<per { let d = Double(a[e]) - Double(b[e]); sum += d * d }
                    return Float(sum.squareRoot())
                }
            }
        }
    }
}

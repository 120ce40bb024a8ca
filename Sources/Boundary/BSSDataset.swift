import Foundation
import ModelIO
import Tensor

/// A BSS data set: one row per (base sample, target class) pair, as `bss generate` writes it
/// (`.h5` or `.npz`, Schemas/bss-dataset.schema.json).
///
/// | array | dtype | shape | meaning |
/// |---|---|---|---|
/// | `base_index` | int64 | [P] | row of the base sample in the source data file |
/// | `base_class`, `target_class` | int64 | [P] | b and k |
/// | `status` | int8 | [P] | `BSSStatus` raw value (meaning per mode in `meta.status_codes`) |
/// | `steps` | int32 | [P] | updates applied |
/// | `x_bss` | float32 | [P] + input shape | the sample, in the teacher's native layout (`meta.input_layout`) |
/// | `teacher_logits` | float32 | [P, C] | the teacher's logits at `x_bss` |
/// | `target_prob` | float32 | [P] | `p_n^k = p_t(k) / (1 − p_t(b))` at the base sample |
/// | `perturbation_norm` | float32 | [P] | `‖x_bss − x_base‖₂` over the whole sample |
///
/// plus `meta` (JSON, `BSSMetadata`): a root attribute in HDF5, a 0-d unicode array in `.npz`.
///
/// In memory `x` is always in the engine layout (NCHW); `write` converts it to
/// `meta.inputLayout` and `read` converts it back, so a Keras teacher's data set holds NHWC
/// samples that `model.predict(f["x_bss"])` takes as they are.
public struct BSSDataset {
    public var baseIndex: [Int]
    public var baseClass: [Int]
    public var targetClass: [Int]
    public var status: [BSSStatus]
    public var steps: [Int]
    /// `[P] + inputShape`, engine layout (NCHW).
    public var x: Tensor
    /// `[P, classes]`
    public var teacherLogits: Tensor
    public var targetProbability: [Float]
    public var perturbationNorm: [Float]
    public var meta: BSSMetadata

    public init(baseIndex: [Int], baseClass: [Int], targetClass: [Int], status: [BSSStatus], steps: [Int], x: Tensor,
                teacherLogits: Tensor, targetProbability: [Float], perturbationNorm: [Float], meta: BSSMetadata) {
        self.baseIndex = baseIndex; self.baseClass = baseClass; self.targetClass = targetClass
        self.status = status; self.steps = steps; self.x = x; self.teacherLogits = teacherLogits
        self.targetProbability = targetProbability; self.perturbationNorm = perturbationNorm; self.meta = meta
    }

    /// The data set of a finished search: `pairs` searched from rows of `source` (`[N] + inputShape`,
    /// engine layout) with outcome `result`; perturbation norms are computed here.
    public init(pairs: BSSPairs, result: BSSBatchResult, source: Tensor, meta: BSSMetadata) {
        precondition(result.status.count == pairs.count, "BSSDataset: \(pairs.count) pairs, \(result.status.count) results")
        self.init(baseIndex: pairs.baseIndex, baseClass: pairs.baseClass, targetClass: pairs.targetClass,
                  status: result.status, steps: result.steps, x: result.x, teacherLogits: result.logits,
                  targetProbability: pairs.targetProbability,
                  perturbationNorm: PairSelection.perturbationNorms(result: result.x, source: source, baseIndex: pairs.baseIndex),
                  meta: meta)
    }

    /// Number of pairs (rows).
    public var count: Int { baseIndex.count }

    /// The array names in file order.
    public static let arrayNames = ["base_index", "base_class", "target_class", "status", "steps", "x_bss",
                                    "teacher_logits", "target_prob", "perturbation_norm"]

    /// The layout `x_bss` is stored in (from `meta.input_layout`).
    public var storedLayout: DataLayout { DataLayout(rawValue: meta.inputLayout) ?? .nchw }

    /// The rows `keep`, in order (e.g. the accepted pairs); `meta.counts.pairsWritten` follows.
    public func rows(_ keep: [Int]) -> BSSDataset {
        var d = BSSDataset(baseIndex: keep.map { baseIndex[$0] }, baseClass: keep.map { baseClass[$0] },
                           targetClass: keep.map { targetClass[$0] }, status: keep.map { status[$0] },
                           steps: keep.map { steps[$0] }, x: x.gather(rows: keep),
                           teacherLogits: teacherLogits.gather(rows: keep),
                           targetProbability: keep.map { targetProbability[$0] },
                           perturbationNorm: keep.map { perturbationNorm[$0] }, meta: meta)
        d.meta.counts.pairsWritten = keep.count
        return d
    }

    /// `x` in the stored layout and its shape.
    func storedX() -> Tensor { DataSet.convert(x, from: .nchw, to: storedLayout) }

    /// `meta` with `arrays` describing exactly what `write` stores.
    func completedMeta() -> BSSMetadata {
        var m = meta
        let p = count, classes = teacherLogits.sampleCount
        let xShape = [p] + Array(storedX().shape.dropFirst())
        m.inputShape = Array(xShape.dropFirst())
        m.counts.pairsWritten = p
        m.arrays = ["base_index": .init(dtype: "int64", shape: [p]), "base_class": .init(dtype: "int64", shape: [p]),
                    "target_class": .init(dtype: "int64", shape: [p]), "status": .init(dtype: "int8", shape: [p]),
                    "steps": .init(dtype: "int32", shape: [p]), "x_bss": .init(dtype: "float32", shape: xShape),
                    "teacher_logits": .init(dtype: "float32", shape: [p, classes]),
                    "target_prob": .init(dtype: "float32", shape: [p]),
                    "perturbation_norm": .init(dtype: "float32", shape: [p])]
        return m
    }

    /// Checks the arrays agree in length and shape (a programmer error if not, for `write`;
    /// a file error for `read`). Returns a description of the first problem.
    func inconsistency() -> (key: String, message: String)? {
        let p = count
        let lengths: [(String, Int)] = [("base_class", baseClass.count), ("target_class", targetClass.count),
                                        ("status", status.count), ("steps", steps.count), ("x_bss", x.batch),
                                        ("teacher_logits", teacherLogits.batch), ("target_prob", targetProbability.count),
                                        ("perturbation_norm", perturbationNorm.count)]
        if let bad = lengths.first(where: { $0.1 != p }) {
            return (bad.0, "has \(bad.1) rows, base_index has \(p)")
        }
        if teacherLogits.rank != 2 { return ("teacher_logits", "expected shape [P, classes], found \(teacherLogits.shape)") }
        let classes = teacherLogits.shape[1]
        if let bad = zip(baseClass, targetClass).enumerated().first(where: { _, bk in
            !(0..<classes).contains(bk.0) || !(0..<classes).contains(bk.1) }) {
            return ("target_class", "row \(bad.offset): classes \(bad.element.0) -> \(bad.element.1) outside 0..<\(classes)")
        }
        return nil
    }
}

import Foundation
import Tensor

/// Hinton-style distillation loss at temperature `T`, averaged over the batch, **without** the
/// `T²` factor (as in the BSS authors' code; see docs/algorithm.md, "Distillation loss").
///
///     KD_T(s, t) = −(1/N) Σ_n Σ_c softmax(t_n/T)_c · log_softmax(s_n/T)_c
///     dKD/ds_n   = (softmax(s_n/T) − softmax(t_n/T)) / (T · N)
///
/// Shapes: `student`, `teacher` logits `[N, C]` → scalar loss, `grad` `[N, C]` (w.r.t. the
/// student logits; the teacher is a constant). The loss is a cross-entropy, not a KL divergence:
/// it differs from KL by the teacher's entropy, which has no gradient.
/// An empty batch (no accepted BSS) gives loss 0 and an empty gradient.
public func distillationLoss(student: Tensor, teacher: Tensor, temperature T: Float) -> (loss: Float, grad: Tensor) {
    precondition(student.rank == 2 && student.shape == teacher.shape,
                 "distillationLoss expects equal [N, C] logits, got \(student.shape) and \(teacher.shape)")
    precondition(T > 0, "distillationLoss: temperature must be positive, got \(T)")
    let n = student.shape[0], c = student.shape[1]
    var grad = Tensor(shape: student.shape)
    guard n > 0 else { return (0, grad) }
    // Scratch rows for one sample's log p_s and p_t: the only allocation besides the gradient.
    var logPs = [Float](repeating: 0, count: c), pt = [Float](repeating: 0, count: c)
    var total: Double = 0
    let scale = 1 / (T * Float(n))
    student.data.withUnsafeBufferPointer { s in
        teacher.data.withUnsafeBufferPointer { t in
            grad.data.withUnsafeMutableBufferPointer { g in
                logPs.withUnsafeMutableBufferPointer { lp in
                    pt.withUnsafeMutableBufferPointer { q in
                        for r in 0..<n {
                            logSoftmaxRows(s.baseAddress! + r * c, lp.baseAddress!, rows: 1, cols: c, scale: 1 / T)
                            softmaxRows(t.baseAddress! + r * c, q.baseAddress!, rows: 1, cols: c, scale: 1 / T)
                            var rowLoss: Double = 0
                            for j in 0..<c {
                                rowLoss -= Double(q[j]) * Double(lp[j])
                                g[r * c + j] = (expf(lp[j]) - q[j]) * scale
                            }
                            total += rowLoss
                        }
                    }
                }
            }
        }
    }
    return (Float(total / Double(n)), grad)
}

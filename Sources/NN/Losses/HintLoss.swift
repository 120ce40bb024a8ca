import Tensor

/// The FitNets hint loss (Romero et al. 2015): the mean squared difference between the
/// student's regressed feature map and the teacher's, over every element (PyTorch's
/// `MSELoss`, mean reduction; docs/algorithm.md, "FitNets").
///
///     L = (1/M) Σ_k (s_k − t_k)²      dL/ds_k = 2 (s_k − t_k) / M      (M = element count)
///
/// Shapes: `student` and `teacher` equal (any rank, batch first) → scalar loss and `grad` of
/// the student's shape. The teacher is a constant.
public func hintLoss(student: Tensor, teacher: Tensor) -> (loss: Float, grad: Tensor) {
    precondition(student.shape == teacher.shape, "hintLoss expects equal shapes, got \(student.shape) and \(teacher.shape)")
    var grad = Tensor(shape: student.shape)
    let m = student.count
    guard m > 0 else { return (0, grad) }
    var total: Double = 0
    let scale = 2 / Float(m)
    student.data.withUnsafeBufferPointer { s in
        teacher.data.withUnsafeBufferPointer { t in
            grad.data.withUnsafeMutableBufferPointer { g in
                for k in 0..<m {
                    let d = s[k] - t[k]
                    total += Double(d) * Double(d)
                    g[k] = scale * d
                }
            }
        }
    }
    return (Float(total / Double(m)), grad)
}

import Tensor

/// The flow of solution procedure (Yim et al. 2017), as in docs/algorithm.md, "FSP": two feature
/// maps of one network, `a` `[N, C₁, H, W]` and the next `b` `[N, C₂, H, W]`, give the FSP
/// (Gram) matrix
///
///     G_n[j, i] = (1/(H·W)) Σ_p b[n, j, p] · a[n, i, p]        `[N, C₂, C₁]`
///
/// When the two maps differ in size, the larger one is first average-pooled to the smaller
/// (`adaptiveAvgPool2d`). A list of maps `f₀ … f_K` gives `K` matrices (consecutive pairs);
/// student and teacher lists are compared by the sum over pairs of the mean squared difference
///
///     L = Σ_k (1/(N·C₂·C₁)) Σ (G^s_k − G^t_k)²
///
/// which needs equal channel counts at each position of the two lists (sizes may differ).
/// The teacher is a constant.
public enum FlowOfSolution {
    /// The FSP matrix of the consecutive maps `a` then `b`.
    public static func matrix(_ a: Tensor, _ b: Tensor) -> Tensor {
        let (pa, pb) = pooledPair(a, b)
        return product(pa, pb)
    }

    /// Both maps at their common (smaller) size.
    static func pooledPair(_ a: Tensor, _ b: Tensor) -> (Tensor, Tensor) {
        precondition(a.rank == 4 && b.rank == 4 && a.shape[0] == b.shape[0],
                     "FSP needs [N, C, H, W] maps of one batch, got \(a.shape) and \(b.shape)")
        let h = min(a.shape[2], b.shape[2]), w = min(a.shape[3], b.shape[3])
        return (adaptiveAvgPool2d(a, height: h, width: w), adaptiveAvgPool2d(b, height: h, width: w))
    }

    /// `G_n = (1/P) · B_n · A_nᵀ` per sample (one GEMM each: `[C₂, P] × [P, C₁]`).
    static func product(_ a: Tensor, _ b: Tensor) -> Tensor {
        let (n, c1, c2, p) = (a.shape[0], a.shape[1], b.shape[1], a.shape[2] * a.shape[3])
        var g = Tensor(shape: [n, c2, c1])
        a.data.withUnsafeBufferPointer { x in
            b.data.withUnsafeBufferPointer { y in
                g.data.withUnsafeMutableBufferPointer { out in
                    for s in 0..<n {
                        sgemm(transB: true, m: c2, n: c1, k: p, alpha: 1 / Float(p), a: y.baseAddress! + s * c2 * p,
                              b: x.baseAddress! + s * c1 * p, c: out.baseAddress! + s * c2 * c1)
                    }
                }
            }
        }
        return g
    }

    /// The loss of the student maps against the teacher maps (same count ≥ 2, equal channels at
    /// each position) and its gradient with respect to each student map (original shapes).
    public static func loss(student: [Tensor], teacher: [Tensor]) -> (loss: Float, grads: [Tensor]) {
        precondition(student.count == teacher.count && student.count >= 2, "FSP needs two or more maps on each side, as many for the student as for the teacher")
        precondition(zip(student, teacher).allSatisfy { $0.rank == 4 && $1.rank == 4 && $0.shape[1] == $1.shape[1] },
                     "FSP needs equal channel counts, got \(student.map(\.shape)) and \(teacher.map(\.shape))")
        var grads = student.map { Tensor(shape: $0.shape) }
        var total: Float = 0
        for k in 0..<(student.count - 1) {
            let (a, b) = pooledPair(student[k], student[k + 1])
            let gs = product(a, b)
            let gt = matrix(teacher[k], teacher[k + 1])
            let (n, c2, c1, p) = (a.shape[0], gs.shape[1], gs.shape[2], a.shape[2] * a.shape[3])
            let (pairLoss, dG) = hintLoss(student: gs, teacher: gt)
            total += pairLoss
            // G = B·Aᵀ/P per sample: dL/dA = dGᵀ·B/P, dL/dB = dG·A/P.
            var da = Tensor(shape: a.shape), db = Tensor(shape: b.shape)
            dG.data.withUnsafeBufferPointer { g in
                a.data.withUnsafeBufferPointer { x in
                    b.data.withUnsafeBufferPointer { y in
                        da.data.withUnsafeMutableBufferPointer { dx in
                            db.data.withUnsafeMutableBufferPointer { dy in
                                for s in 0..<n {
                                    let dGn = g.baseAddress! + s * c2 * c1
                                    sgemm(transA: true, m: c1, n: p, k: c2, alpha: 1 / Float(p), a: dGn,
                                          b: y.baseAddress! + s * c2 * p, c: dx.baseAddress! + s * c1 * p)
                                    sgemm(m: c2, n: p, k: c1, alpha: 1 / Float(p), a: dGn,
                                          b: x.baseAddress! + s * c1 * p, c: dy.baseAddress! + s * c2 * p)
                                }
                            }
                        }
                    }
                }
            }
            grads[k].add(adaptiveAvgPool2dBackward(da, inputShape: student[k].shape))
            grads[k + 1].add(adaptiveAvgPool2dBackward(db, inputShape: student[k + 1].shape))
        }
        return (total, grads)
    }
}

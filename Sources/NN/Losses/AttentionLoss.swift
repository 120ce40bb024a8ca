import Foundation
import Tensor

/// Attention transfer (Zagoruyko & Komodakis 2017), as in docs/algorithm.md, "Attention
/// transfer": a feature map `f` `[N, C, H, W]` gives the attention map
///
///     a_n = m_n / max(‖m_n‖₂, 10⁻¹²),   m_n[p] = (1/C) Σ_c f[n, c, p]²     (p over the H·W positions)
///
/// and a student/teacher pair is compared by the mean squared difference of their maps,
///
///     L = (1/(N·P)) Σ_n Σ_p (a^s_n[p] − a^t_n[p])²
///
/// When the two maps differ in size, the larger one is first average-pooled to the smaller
/// (`adaptiveAvgPool2d`); channel counts may differ. The teacher is a constant.
public enum AttentionTransfer {
    /// Attention maps `[N, H·W]` of `f` `[N, C, H, W]`.
    public static func maps(_ f: Tensor) -> Tensor { mapsAndNorms(f).maps }

    /// The maps and, per sample, the denominator `max(‖m_n‖, 10⁻¹²)` (backward needs it).
    static func mapsAndNorms(_ f: Tensor) -> (maps: Tensor, norms: [Float]) {
        precondition(f.rank == 4, "attention maps need [N, C, H, W] features, got \(f.shape)")
        let (n, c, p) = (f.shape[0], f.shape[1], f.shape[2] * f.shape[3])
        var a = Tensor(shape: [n, p])
        var norms = [Float](repeating: 0, count: n)
        f.data.withUnsafeBufferPointer { x in
            a.data.withUnsafeMutableBufferPointer { m in
                for s in 0..<n {
                    let row = m.baseAddress! + s * p
                    for ch in 0..<c {
                        let plane = x.baseAddress! + (s * c + ch) * p
                        for k in 0..<p { row[k] += plane[k] * plane[k] }
                    }
                    var sq: Double = 0
                    for k in 0..<p { row[k] /= Float(c); sq += Double(row[k]) * Double(row[k]) }
                    let norm = max(Float(sq.squareRoot()), 1e-12)
                    norms[s] = norm
                    for k in 0..<p { row[k] /= norm }
                }
            }
        }
        return (a, norms)
    }

    /// Loss of one pair and its gradient with respect to `student` (its original shape).
    public static func loss(student: Tensor, teacher: Tensor) -> (loss: Float, grad: Tensor) {
        precondition(student.rank == 4 && teacher.rank == 4 && student.shape[0] == teacher.shape[0],
                     "attention transfer needs [N, C, H, W] maps of one batch, got \(student.shape) and \(teacher.shape)")
        let h = min(student.shape[2], teacher.shape[2]), w = min(student.shape[3], teacher.shape[3])
        let fs = adaptiveAvgPool2d(student, height: h, width: w)
        let ft = adaptiveAvgPool2d(teacher, height: h, width: w)
        let (as_, norms) = mapsAndNorms(fs)
        let at = maps(ft)
        let (n, c, p) = (fs.shape[0], fs.shape[1], h * w)
        var total: Double = 0
        var df = Tensor(shape: fs.shape)
        var dq = [Float](repeating: 0, count: p)
        let scale = 2 / Float(n * p)
        for s in 0..<n {
            // dL/da, then through the normalisation: dL/dm = (g − a·(a·g)) / ‖m‖ (g/ε below ε).
            var dot: Double = 0
            for k in 0..<p {
                let d = as_.data[s * p + k] - at.data[s * p + k]
                total += Double(d) * Double(d)
                dq[k] = scale * d
                dot += Double(as_.data[s * p + k]) * Double(dq[k])
            }
            let norm = norms[s], clipped = norm <= 1e-12
            for k in 0..<p {
                let dm = clipped ? dq[k] / norm : (dq[k] - as_.data[s * p + k] * Float(dot)) / norm
                // m = mean_c f², so dm/df = 2 f / C.
                let factor = 2 * dm / Float(c)
                for ch in 0..<c {
                    let i = (s * c + ch) * p + k
                    df.data[i] = factor * fs.data[i]
                }
            }
        }
        return (Float(total / Double(n * p)), adaptiveAvgPool2dBackward(df, inputShape: student.shape))
    }
}

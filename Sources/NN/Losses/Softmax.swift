import Foundation
import Tensor

/// `softmax(z / T)` over the last axis: `p_c = exp(z_c/T − max) / Σ_j exp(z_j/T − max)`.
///
/// Shapes: `[N, C]` (or any rank; rows are everything but the last axis) → same shape.
/// Subtracting the row maximum first keeps `exp` finite for any logits. `temperature` defaults to 1.
public func softmax(_ logits: Tensor, temperature: Float = 1) -> Tensor {
    var out = Tensor(shape: logits.shape)
    let cols = logits.shape.last ?? 1
    logits.data.withUnsafeBufferPointer { z in
        out.data.withUnsafeMutableBufferPointer { p in
            softmaxRows(z.baseAddress!, p.baseAddress!, rows: logits.count / max(cols, 1), cols: cols,
                        scale: 1 / temperature)
        }
    }
    return out
}

/// `log_softmax(z / T)` over the last axis: `z_c/T − max − log Σ_j exp(z_j/T − max)`.
///
/// Shapes as `softmax`. Computed directly (not as `log(softmax)`) so very negative
/// log-probabilities stay finite.
public func logSoftmax(_ logits: Tensor, temperature: Float = 1) -> Tensor {
    var out = Tensor(shape: logits.shape)
    let cols = logits.shape.last ?? 1
    logits.data.withUnsafeBufferPointer { z in
        out.data.withUnsafeMutableBufferPointer { p in
            logSoftmaxRows(z.baseAddress!, p.baseAddress!, rows: logits.count / max(cols, 1), cols: cols,
                           scale: 1 / temperature)
        }
    }
    return out
}

/// Index of the largest entry of each row (last axis) of `t`; the first one on ties, like
/// `torch.argmax`. `[N, C]` → `N` indices.
public func argmax(rows t: Tensor) -> [Int] {
    let cols = t.shape.last ?? 1
    guard cols > 0 else { return [] }
    let rows = t.count / cols
    var result = [Int](repeating: 0, count: rows)
    t.data.withUnsafeBufferPointer { z in
        for r in 0..<rows {
            let row = z.baseAddress! + r * cols
            var best = 0
            var bestValue = row[0]
            for c in 1..<cols where row[c] > bestValue {
                best = c
                bestValue = row[c]
            }
            result[r] = best
        }
    }
    return result
}

/// Row-wise softmax of `scale · z` into `p` (`rows × cols`, contiguous). `p` may equal `z`.
@inline(__always)
func softmaxRows(_ z: UnsafePointer<Float>, _ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int, scale: Float) {
    guard cols > 0 else { return }
    for r in 0..<rows {
        let zi = z + r * cols, pi = p + r * cols
        var m = -Float.infinity
        for c in 0..<cols { m = max(m, zi[c] * scale) }
        var sum: Float = 0
        for c in 0..<cols {
            let e = expf(zi[c] * scale - m)
            pi[c] = e
            sum += e
        }
        let inv = 1 / sum
        for c in 0..<cols { pi[c] *= inv }
    }
}

/// Row-wise log-softmax of `scale · z` into `out` (`rows × cols`, contiguous).
@inline(__always)
func logSoftmaxRows(_ z: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, cols: Int, scale: Float) {
    guard cols > 0 else { return }
    for r in 0..<rows {
        let zi = z + r * cols, oi = out + r * cols
        var m = -Float.infinity
        for c in 0..<cols { m = max(m, zi[c] * scale) }
        var sum: Float = 0
        for c in 0..<cols { sum += expf(zi[c] * scale - m) }
        let lse = m + logf(sum)
        for c in 0..<cols { oi[c] = zi[c] * scale - lse }
    }
}

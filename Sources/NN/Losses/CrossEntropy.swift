import Foundation
import Tensor

/// Softmax cross-entropy with integer labels, averaged over the batch (`torch.nn.CrossEntropyLoss`).
///
///     loss = −(1/N) Σ_n log_softmax(z_n)_{y_n}          dloss/dz_n = (softmax(z_n) − onehot(y_n)) / N
///
/// Shapes: `logits` `[N, C]`, `labels` N values in `0..<C` → scalar loss, `grad` `[N, C]`.
/// The log-softmax subtracts each row's maximum, so large logits do not overflow.
/// An empty batch gives loss 0 and an empty gradient.
public func crossEntropy(logits: Tensor, labels: [Int]) -> (loss: Float, grad: Tensor) {
    precondition(logits.rank == 2, "crossEntropy expects logits [N, C], got \(logits.shape)")
    let n = logits.shape[0], c = logits.shape[1]
    precondition(labels.count == n, "crossEntropy: \(labels.count) labels for \(n) rows")
    var grad = Tensor(shape: logits.shape)
    guard n > 0 else { return (0, grad) }
    var total: Double = 0
    let invN = 1 / Float(n)
    logits.data.withUnsafeBufferPointer { z in
        grad.data.withUnsafeMutableBufferPointer { g in
            // g holds log-softmax first, then is turned into the gradient in place.
            logSoftmaxRows(z.baseAddress!, g.baseAddress!, rows: n, cols: c, scale: 1)
            for r in 0..<n {
                let y = labels[r]
                precondition(y >= 0 && y < c, "crossEntropy: label \(y) out of range 0..<\(c)")
                let row = g.baseAddress! + r * c
                total -= Double(row[y])
                for j in 0..<c { row[j] = expf(row[j]) * invN }
                row[y] -= invN
            }
        }
    }
    return (Float(total / Double(n)), grad)
}

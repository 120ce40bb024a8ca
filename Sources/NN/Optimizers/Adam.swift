import Foundation
import Tensor

/// Adam, exactly `torch.optim.Adam` (single-tensor path, `amsgrad = false`).
///
///     g = g + wd·p                                     (L2 decay, not AdamW)
///     m = lerp(m, g, 1 − β₁)        v = β₂·v + (1 − β₂)·g²
///     p = p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + eps)
///
/// Defaults: `lr 1e-3`, `betas (0.9, 0.999)`, `eps 1e-8`, `weightDecay 0`. The bias
/// corrections are computed in Double, then used as Float, as PyTorch does with Python scalars.
/// State: `exp_avg.<i>`, `exp_avg_sq.<i>` for index i into `parameters` (the trainable ones);
/// `stepCount` is t (shared by all parameters, like torch's per-parameter `step` in practice).
public final class Adam: Optimizer {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let eps: Float
    public let weightDecay: Float
    public var stepCount = 0
    private var expAvg: [[Float]]
    private var expAvgSq: [[Float]]

    public init(parameters: [Parameter], lr: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                eps: Float = 1e-8, weightDecay: Float = 0) {
        precondition(lr >= 0 && eps >= 0 && weightDecay >= 0, "Adam: negative lr, eps or weight decay")
        precondition((0..<1).contains(betas.0) && (0..<1).contains(betas.1), "Adam: betas must be in [0, 1)")
        self.parameters = parameters.filter(\.isTrainable)
        self.learningRate = lr
        self.beta1 = betas.0
        self.beta2 = betas.1
        self.eps = eps
        self.weightDecay = weightDecay
        expAvg = self.parameters.map { [Float](repeating: 0, count: $0.value.count) }
        expAvgSq = expAvg
    }

    public static let stateBuffers = ["exp_avg", "exp_avg_sq"]

    public var state: [String: Tensor] {
        get {
            // Before the first step the moments are zero, which is what PyTorch would create.
            guard stepCount > 0 else { return [:] }
            var s: [String: Tensor] = [:]
            for (i, p) in parameters.enumerated() {
                s["exp_avg.\(i)"] = Tensor(shape: p.value.shape, data: expAvg[i])
                s["exp_avg_sq.\(i)"] = Tensor(shape: p.value.shape, data: expAvgSq[i])
            }
            return s
        }
        set {
            expAvg = parameters.map { [Float](repeating: 0, count: $0.value.count) }
            expAvgSq = expAvg
            for (k, t) in newValue {
                if let (i, d) = validated(k, t, parameters, prefix: "exp_avg") {
                    expAvg[i] = d
                } else if let (i, d) = validated(k, t, parameters, prefix: "exp_avg_sq") {
                    expAvgSq[i] = d
                } else {
                    preconditionFailure("Adam state: unknown key \(k)")
                }
            }
        }
    }

    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    public func step() {
        stepCount += 1
        let t = Double(stepCount)
        let bc1 = 1 - pow(Double(beta1), t), bc2Sqrt = (1 - pow(Double(beta2), t)).squareRoot()
        let stepSize = Float(Double(learningRate) / bc1), bc2 = Float(bc2Sqrt)
        let w1 = 1 - beta1, b2 = beta2, w2 = 1 - beta2, wd = weightDecay, e = eps
        for (i, p) in parameters.enumerated() {
            p.grad.data.withUnsafeBufferPointer { g in
                p.value.data.withUnsafeMutableBufferPointer { w in
                    expAvg[i].withUnsafeMutableBufferPointer { m in
                        expAvgSq[i].withUnsafeMutableBufferPointer { v in
                            for j in 0..<w.count {
                                var d = g[j]
                                if wd != 0 { d += wd * w[j] }
                                // torch's lerp for weight < 0.5: m + w·(g − m).
                                m[j] = w1 < 0.5 ? m[j] + w1 * (d - m[j]) : d - (d - m[j]) * (1 - w1)
                                v[j] = v[j] * b2 + w2 * d * d
                                let denom = v[j].squareRoot() / bc2 + e
                                // addcdiv order: p + (value·m) / denom.
                                w[j] = w[j] + (-stepSize * m[j]) / denom
                            }
                        }
                    }
                }
            }
        }
    }
}

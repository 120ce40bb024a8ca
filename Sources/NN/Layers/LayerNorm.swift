import Foundation
import Tensor

/// Layer normalisation over the channel axis, at every position: Keras' `LayerNormalization()`
/// (axis −1 of a channels-last tensor) and PyTorch's `nn.LayerNorm(C)` on `[N, C]`.
///
///     μ, σ² = mean and biased variance of x[n, :, h, w] over the C channels
///     y[n, c, h, w] = γ[c] · (x[n, c, h, w] − μ) / √(σ² + eps) + β[c]
///
/// Shapes: `[N, C]` or `[N, C, H, W]` → same. Parameters: `weight` γ `[C]` (init 1), `bias` β
/// `[C]` (init 0). Statistics are summed in Double. Each position is normalised on its own, so
/// training and inference compute the same thing and samples never mix.
///
/// Backward (x̂ = normalised input, g = dy · γ, means over the C channels of one position):
/// `dx = (g − mean(g) − x̂ · mean(g · x̂)) / √(σ² + eps)`, `dγ += Σ dy · x̂`, `dβ += Σ dy`.
public final class LayerNorm: Layer {
    public let channels: Int
    public let eps: Float
    public let weight: Parameter
    public let bias: Parameter

    public init(channels: Int, eps: Float) {
        precondition(channels > 0 && eps >= 0, "LayerNorm needs channels > 0 and eps ≥ 0")
        self.channels = channels
        self.eps = eps
        weight = Parameter(name: "weight", value: Tensor(shape: [channels], repeating: 1))
        bias = Parameter(name: "bias", value: Tensor.zeros([channels]))
    }

    public var kind: String { "LayerNorm" }
    public var summary: String { "\(channels) channels, eps \(eps)" }
    public var parameters: [Parameter] { [weight, bias] }
    public var backwardReads: BackwardReads { .inputs }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try singleInputShape(inputShapes, kind)
        guard s.count == 1 || s.count == 3, s[0] == channels else {
            throw NNError.shape("", "LayerNorm over \(channels) channels expects [\(channels)] or [\(channels), H, W], got \(s)")
        }
        return s
    }

    /// Mean and 1/√(σ² + eps) of one position whose channels are `stride` apart.
    @inline(__always)
    private func statistics(_ p: UnsafePointer<Float>, stride: Int) -> (Float, Float) {
        var s = 0.0
        for c in 0..<channels { s += Double(p[c * stride]) }
        let mean = s / Double(channels)
        var v = 0.0
        for c in 0..<channels { let d = Double(p[c * stride]) - mean; v += d * d }
        return (Float(mean), 1 / sqrtf(Float(v / Double(channels)) + eps))
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        let n = x.shape[0], inner = x.count / max(n * channels, 1)
        let g = weight.value.data, b = bias.value.data
        var y = Tensor(shape: x.shape)
        x.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                for s in 0..<n {
                    for pos in 0..<inner {
                        let o = s * channels * inner + pos
                        let (m, r) = statistics(xp.baseAddress! + o, stride: inner)
                        for c in 0..<channels {
                            let i = o + c * inner
                            yp[i] = g[c] * ((xp[i] - m) * r) + b[c]
                        }
                    }
                }
            }
        }
        return y
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let x = record.inputs[0]
        let n = x.shape[0], inner = x.count / max(n * channels, 1)
        let g = weight.value.data
        var dx = Tensor(shape: x.shape)
        var dGamma = [Double](repeating: 0, count: channels), dBeta = [Double](repeating: 0, count: channels)
        var xhat = [Float](repeating: 0, count: channels), gh = [Float](repeating: 0, count: channels)
        x.data.withUnsafeBufferPointer { xp in
            gradOutput.data.withUnsafeBufferPointer { dy in
                dx.data.withUnsafeMutableBufferPointer { dp in
                    for s in 0..<n {
                        for pos in 0..<inner {
                            let o = s * channels * inner + pos
                            let (m, r) = statistics(xp.baseAddress! + o, stride: inner)
                            var sumG = 0.0, sumGX = 0.0
                            for c in 0..<channels {
                                let i = o + c * inner
                                xhat[c] = (xp[i] - m) * r
                                gh[c] = dy[i] * g[c]
                                sumG += Double(gh[c]); sumGX += Double(gh[c] * xhat[c])
                                dGamma[c] += Double(dy[i] * xhat[c]); dBeta[c] += Double(dy[i])
                            }
                            let mg = Float(sumG / Double(channels)), mgx = Float(sumGX / Double(channels))
                            for c in 0..<channels { dp[o + c * inner] = (gh[c] - mg - xhat[c] * mgx) * r }
                        }
                    }
                }
            }
        }
        if parameterGradients {
            for c in 0..<channels { weight.grad.data[c] += Float(dGamma[c]); bias.grad.data[c] += Float(dBeta[c]) }
        }
        return [dx]
    }
}

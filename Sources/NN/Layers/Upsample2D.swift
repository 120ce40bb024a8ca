import Foundation
import Tensor

/// Upsampling of images by integer factors, Keras' `UpSampling2D(size, interpolation)` and
/// PyTorch's `nn.Upsample(scale_factor, mode, align_corners=False)`.
///
/// - `nearest`: `y[n, c, i, j] = x[n, c, ⌊i/sh⌋, ⌊j/sw⌋]` (each value repeated sh × sw times).
/// - `bilinear`: half-pixel centres, `u = (i + ½)/sh − ½` clamped to `[0, H − 1]`, and the same
///   for columns; `y = Σ` of the two-by-two neighbours weighted by `(1 − fu, fu) ⊗ (1 − fv, fv)`.
///   (Keras computes it with `jax.image.resize`, which for upsampling renormalises the edge
///   weights: the same as clamping.)
///
/// Shapes: `[N, C, H, W]` → `[N, C, H·sh, W·sw]`. Backward scatters `dy` back with the same weights.
public final class Upsample2D: Layer {
    public enum Interpolation: String, Sendable { case nearest, bilinear }
    public let factor: (Int, Int)
    public let interpolation: Interpolation

    public init(factor: (Int, Int), interpolation: Interpolation) {
        precondition(factor.0 > 0 && factor.1 > 0, "Upsample2D factors must be positive")
        self.factor = factor
        self.interpolation = interpolation
    }

    public var kind: String { "Upsample2D" }
    public var summary: String { "×\(factor.0)x\(factor.1), \(interpolation.rawValue)" }
    public var backwardReads: BackwardReads { [] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try singleInputShape(inputShapes, kind)
        guard s.count == 3 else { throw NNError.shape("", "Upsample2D expects [C, H, W], got \(s)") }
        return [s[0], s[1] * factor.0, s[2] * factor.1]
    }

    /// For each output index along an axis: the two source indices and the weight of the second.
    private func taps(_ size: Int, _ f: Int) -> [(Int, Int, Float)] {
        (0..<(size * f)).map { i in
            if interpolation == .nearest { return (i / f, i / f, 0) }
            let u = max((Float(i) + 0.5) / Float(f) - 0.5, 0)
            let i0 = min(Int(u), size - 1), i1 = min(i0 + 1, size - 1)
            return (i0, i1, u - Float(i0))
        }
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        let (planes, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        let oh = h * factor.0, ow = w * factor.1
        let rows = taps(h, factor.0), cols = taps(w, factor.1)
        var y = Tensor(shape: [x.shape[0], x.shape[1], oh, ow])
        x.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                for p in 0..<planes {
                    let src = p * h * w, dst = p * oh * ow
                    for (i, (r0, r1, fr)) in rows.enumerated() {
                        for (j, (c0, c1, fc)) in cols.enumerated() {
                            if interpolation == .nearest { yp[dst + i * ow + j] = xp[src + r0 * w + c0]; continue }
                            let top = xp[src + r0 * w + c0] * (1 - fc) + xp[src + r0 * w + c1] * fc
                            let bottom = xp[src + r1 * w + c0] * (1 - fc) + xp[src + r1 * w + c1] * fc
                            yp[dst + i * ow + j] = top * (1 - fr) + bottom * fr
                        }
                    }
                }
            }
        }
        return y
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let shape = record.inputShapes[0]
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        let oh = h * factor.0, ow = w * factor.1
        let rows = taps(h, factor.0), cols = taps(w, factor.1)
        var dx = Tensor(shape: shape)
        gradOutput.data.withUnsafeBufferPointer { gp in
            dx.data.withUnsafeMutableBufferPointer { dp in
                for p in 0..<planes {
                    let src = p * h * w, dst = p * oh * ow
                    for (i, (r0, r1, fr)) in rows.enumerated() {
                        for (j, (c0, c1, fc)) in cols.enumerated() {
                            let g = gp[dst + i * ow + j]
                            if interpolation == .nearest { dp[src + r0 * w + c0] += g; continue }
                            dp[src + r0 * w + c0] += g * (1 - fr) * (1 - fc)
                            dp[src + r0 * w + c1] += g * (1 - fr) * fc
                            dp[src + r1 * w + c0] += g * fr * (1 - fc)
                            dp[src + r1 * w + c1] += g * fr * fc
                        }
                    }
                }
            }
        }
        return [dx]
    }
}

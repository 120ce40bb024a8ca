import Foundation
import Tensor

/// Per-channel constant scale and shift, Keras' `Rescaling(scale, offset)`:
///
///     y[n, c, …] = x[n, c, …] · scale[c] + offset[c]
///
/// `scale` and `offset` hold one value (all channels) or one per channel (axis 1 of `[N, C, …]`,
/// the features of `[N, F]`); Keras broadcasts a list over its last axis, which is our channel
/// axis. Constants, not parameters. Backward `dx = dy · scale[c]`.
public final class Rescaling: Layer {
    public let scale: [Float]
    public let offset: [Float]

    public init(scale: [Float], offset: [Float]) {
        precondition(!scale.isEmpty && !offset.isEmpty, "Rescaling needs a scale and an offset")
        self.scale = scale
        self.offset = offset
    }

    public var kind: String { "Rescaling" }
    public var summary: String { "x · \(Self.text(scale)) + \(Self.text(offset))" }

    static func text(_ v: [Float]) -> String { v.count == 1 ? "\(v[0])" : "[\(v.count) per channel]" }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try singleInputShape(inputShapes, kind)
        for (name, v) in [("scale", scale), ("offset", offset)] where v.count != 1 && v.count != s.first {
            throw NNError.shape("", "Rescaling \(name) has \(v.count) values, but the input has \(s.first ?? 0) channels")
        }
        return s
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        let c = x.shape[1], inner = x.count / max(x.shape[0] * c, 1)
        var y = Tensor(shape: x.shape)
        x.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                for plane in 0..<(x.shape[0] * c) {
                    let ch = plane % c
                    let a = scale.count == 1 ? scale[0] : scale[ch], b = offset.count == 1 ? offset[0] : offset[ch]
                    scaleShift(yp.baseAddress! + plane * inner, xp.baseAddress! + plane * inner, a, b, inner)
                }
            }
        }
        return y
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let c = gradOutput.shape[1], inner = gradOutput.count / max(gradOutput.shape[0] * c, 1)
        var dx = Tensor(shape: gradOutput.shape)
        gradOutput.data.withUnsafeBufferPointer { gp in
            dx.data.withUnsafeMutableBufferPointer { dp in
                for plane in 0..<(gradOutput.shape[0] * c) {
                    let a = scale.count == 1 ? scale[0] : scale[plane % c]
                    scaleElements(dp.baseAddress! + plane * inner, gp.baseAddress! + plane * inner, a, inner)
                }
            }
        }
        return [dx]
    }
}

/// Keras' `Normalization` layer (axis = the channel axis) with its stored statistics:
///
///     y[n, c, …] = (x[n, c, …] − mean[c]) / max(√variance[c], 1e-7)
///
/// 1e-7 is Keras' `backend.epsilon()`, the floor Keras applies to the standard deviation (not
/// BatchNorm's `+ eps` under the root). `mean` and `variance` are buffers `[C]` (init 0 and 1),
/// never trained. Backward `dx = dy / max(√variance[c], 1e-7)`.
public final class ChannelStandardize: Layer {
    public let channels: Int
    public let mean: Parameter
    public let variance: Parameter
    /// Keras' `backend.epsilon()`.
    public static let floor: Float = 1e-7

    public init(channels: Int) {
        precondition(channels > 0, "Normalization needs a positive channel count")
        self.channels = channels
        mean = Parameter(name: "mean", value: Tensor.zeros([channels]), trainable: false)
        variance = Parameter(name: "variance", value: Tensor(shape: [channels], repeating: 1), trainable: false)
    }

    public var kind: String { "Normalization" }
    public var summary: String { "\(channels) channels, (x − mean) / max(√variance, 1e-7)" }
    public var parameters: [Parameter] { [mean, variance] }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try singleInputShape(inputShapes, kind)
        guard s.first == channels else {
            throw NNError.shape("", "Normalization has \(channels) channels, the input \(s)")
        }
        return s
    }

    private var divisors: [Float] { variance.value.data.map { max(sqrtf($0), Self.floor) } }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        let inner = x.count / max(x.shape[0] * channels, 1)
        let d = divisors, m = mean.value.data
        var y = Tensor(shape: x.shape)
        x.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                for plane in 0..<(x.shape[0] * channels) {
                    let c = plane % channels, o = plane * inner
                    // As Keras: a subtraction, then a division (not a multiply by 1/d).
                    for i in o..<(o + inner) { yp[i] = (xp[i] - m[c]) / d[c] }
                }
            }
        }
        return y
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let inner = gradOutput.count / max(gradOutput.shape[0] * channels, 1)
        let d = divisors
        var dx = Tensor(shape: gradOutput.shape)
        gradOutput.data.withUnsafeBufferPointer { gp in
            dx.data.withUnsafeMutableBufferPointer { dp in
                for plane in 0..<(gradOutput.shape[0] * channels) {
                    let c = plane % channels, o = plane * inner
                    for i in o..<(o + inner) { dp[i] = gp[i] / d[c] }
                }
            }
        }
        return [dx]
    }
}

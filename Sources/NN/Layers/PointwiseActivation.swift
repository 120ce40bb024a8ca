import Foundation
import Tensor

/// The element-wise activations beyond ReLU/sigmoid/tanh, each with the formula of the
/// framework it is named for (docs/keras-layers.md lists which Keras name maps to which).
///
/// Every function here reads its **input** in backward (`dx = dy · f'(x)`): several are not
/// invertible from `y` (ELU with any alpha, GELU, SiLU, the clipped ones at their flat parts).
/// Any per-sample shape; output shape = input shape. Each element is one scalar expression,
/// so a sample's result never depends on the rest of the batch.
public final class PointwiseActivation: Layer {
    /// The function and its constants.
    public enum Function: Equatable, Sendable {
        /// `min(max(x, 0), 6)` (PyTorch `ReLU6`, Keras `relu6`).
        case relu6
        /// `x` for `x > 0`, else `slope · x` (PyTorch `LeakyReLU`, Keras `LeakyReLU`/`leaky_relu`).
        case leakyReLU(slope: Float)
        /// Keras' `ReLU(max_value, negative_slope, threshold)`, as `keras.activations.relu`
        /// computes it: `a = x·[x > t]` (t ≠ 0) or `max(x, 0)` (t = 0), clipped to `[0, max]`
        /// when `max_value` is set, then `y = a − slope · max(t − x, 0)`.
        case kerasReLU(maxValue: Float?, negativeSlope: Float, threshold: Float)
        /// `x` for `x > 0`, else `α (eˣ − 1)` (PyTorch `ELU`, Keras `elu`/`ELU`).
        case elu(alpha: Float)
        /// `λ · elu(x, α)` with the fixed constants of Klambauer et al. (PyTorch `SELU`, Keras `selu`).
        case selu
        /// `½ x (1 + erf(x/√2))` (PyTorch `GELU()`, Keras `gelu` with `approximate=False`).
        case geluErf
        /// `½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))` (PyTorch `GELU(approximate='tanh')`,
        /// Keras `gelu(approximate=True)`).
        case geluTanh
        /// `x · σ(x)` (PyTorch `SiLU`, Keras `silu`/`swish`).
        case silu
        /// `x · min(max(x + 3, 0), 6) / 6` (PyTorch `Hardswish`, Keras 3 `hard_silu`/`hard_swish`).
        case hardswish
        /// `min(max(x + 3, 0), 6) / 6` (PyTorch `Hardsigmoid`; Keras 3's `hard_sigmoid` is the same).
        case hardsigmoidTorch
        /// `min(max(0.2 x + 0.5, 0), 1)` (tf.keras 2.x / Keras 2 `hard_sigmoid`).
        case hardsigmoidKeras2
    }

    public let function: Function

    public init(_ function: Function) {
        if case let .elu(a) = function { precondition(a.isFinite, "ELU alpha must be finite") }
        if case let .kerasReLU(m, _, _) = function, let m { precondition(m >= 0, "ReLU max_value must be ≥ 0") }
        self.function = function
    }

    public var backwardReads: BackwardReads { .inputs }

    public var kind: String {
        switch function {
        case .relu6: return "ReLU6"
        case .leakyReLU: return "LeakyReLU"
        case .kerasReLU: return "ReLU (Keras)"
        case .elu: return "ELU"
        case .selu: return "SELU"
        case .geluErf, .geluTanh: return "GELU"
        case .silu: return "SiLU"
        case .hardswish: return "Hardswish"
        case .hardsigmoidTorch: return "Hardsigmoid"
        case .hardsigmoidKeras2: return "Hardsigmoid (Keras 2)"
        }
    }

    public var summary: String {
        switch function {
        case let .leakyReLU(s): return "negative slope \(s)"
        case let .kerasReLU(m, s, t):
            return ["max_value \(m.map { "\($0)" } ?? "none")", "negative_slope \(s)", "threshold \(t)"].joined(separator: ", ")
        case let .elu(a): return "alpha \(a)"
        case .geluErf: return "erf form"
        case .geluTanh: return "tanh approximation"
        case .hardsigmoidTorch: return "relu6(x + 3) / 6"
        case .hardsigmoidKeras2: return "clip(0.2 x + 0.5, 0, 1)"
        default: return ""
        }
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try singleInputShape(inputShapes, kind) }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        switch function {
        case .relu6: return mapElements(inputs[0]) { min(max($0, 0), 6) }
        case let .leakyReLU(s): return mapElements(inputs[0]) { $0 > 0 ? $0 : s * $0 }
        case let .kerasReLU(m, s, t): return mapElements(inputs[0]) { Self.kerasReLU($0, m, s, t) }
        case let .elu(a): return mapElements(inputs[0]) { $0 > 0 ? $0 : a * expm1f($0) }
        case .selu: return mapElements(inputs[0]) { Self.seluScale * ($0 > 0 ? $0 : Self.seluAlpha * expm1f($0)) }
        case .geluErf: return mapElements(inputs[0]) { 0.5 * $0 * (1 + erff($0 * Self.invSqrt2)) }
        case .geluTanh: return mapElements(inputs[0]) { x in 0.5 * x * (1 + tanhf(Self.sqrt2OverPi * (x + 0.044715 * x * x * x))) }
        case .silu: return mapElements(inputs[0]) { $0 / (1 + expf(-$0)) }
        case .hardswish: return mapElements(inputs[0]) { $0 * min(max($0 + 3, 0), 6) / 6 }
        case .hardsigmoidTorch: return mapElements(inputs[0]) { min(max($0 + 3, 0), 6) / 6 }
        case .hardsigmoidKeras2: return mapElements(inputs[0]) { min(max(0.2 * $0 + 0.5, 0), 1) }
        }
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let x = record.inputs[0]
        let dx: Tensor
        switch function {
        case .relu6: dx = zipElements(gradOutput, x) { dy, x in x > 0 && x < 6 ? dy : 0 }
        case let .leakyReLU(s): dx = zipElements(gradOutput, x) { dy, x in x > 0 ? dy : s * dy }
        case let .kerasReLU(m, s, t): dx = zipElements(gradOutput, x) { dy, x in dy * Self.kerasReLUDerivative(x, m, s, t) }
        case let .elu(a): dx = zipElements(gradOutput, x) { dy, x in x > 0 ? dy : dy * a * expf(x) }
        case .selu:
            dx = zipElements(gradOutput, x) { dy, x in dy * Self.seluScale * (x > 0 ? 1 : Self.seluAlpha * expf(x)) }
        case .geluErf:
            // d/dx ½x(1 + erf(x/√2)) = ½(1 + erf(x/√2)) + x φ(x), φ the standard normal density.
            dx = zipElements(gradOutput, x) { dy, x in
                dy * (0.5 * (1 + erff(x * Self.invSqrt2)) + x * expf(-0.5 * x * x) * Self.invSqrt2Pi)
            }
        case .geluTanh:
            dx = zipElements(gradOutput, x) { dy, x in
                let th = tanhf(Self.sqrt2OverPi * (x + 0.044715 * x * x * x))
                return dy * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * Self.sqrt2OverPi * (1 + 3 * 0.044715 * x * x))
            }
        case .silu:
            dx = zipElements(gradOutput, x) { dy, x in
                let s = 1 / (1 + expf(-x))
                return dy * s * (1 + x * (1 - s))
            }
        case .hardswish: dx = zipElements(gradOutput, x) { dy, x in x <= -3 ? 0 : (x >= 3 ? dy : dy * (2 * x + 3) / 6) }
        case .hardsigmoidTorch: dx = zipElements(gradOutput, x) { dy, x in x > -3 && x < 3 ? dy / 6 : 0 }
        case .hardsigmoidKeras2:
            dx = zipElements(gradOutput, x) { dy, x in
                let u = 0.2 * x + 0.5
                return u > 0 && u < 1 ? 0.2 * dy : 0
            }
        }
        return [dx]
    }

    // Constants in Float as both frameworks round them.
    static let invSqrt2: Float = 0.70710678118654752440
    static let invSqrt2Pi: Float = 0.39894228040143267794
    static let sqrt2OverPi: Float = 0.79788456080286535588
    static let seluAlpha: Float = 1.6732632423543772848170429916717
    static let seluScale: Float = 1.0507009873554804934193349852946

    @inline(__always)
    static func kerasReLU(_ x: Float, _ maxValue: Float?, _ slope: Float, _ t: Float) -> Float {
        var a = t != 0 ? (x > t ? x : 0) : max(x, 0)
        if let m = maxValue { a = min(max(a, 0), m) }
        return slope != 0 ? a - slope * max(t - x, 0) : a
    }

    @inline(__always)
    static func kerasReLUDerivative(_ x: Float, _ maxValue: Float?, _ slope: Float, _ t: Float) -> Float {
        let raw: Float = t != 0 ? (x > t ? x : 0) : max(x, 0)
        var d: Float = (t != 0 ? x > t : x > 0) ? 1 : 0
        if let m = maxValue, !(raw > 0 && raw < m) { d = 0 }
        return d + (t - x > 0 ? slope : 0)
    }
}

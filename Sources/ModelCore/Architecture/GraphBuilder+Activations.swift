import NN

extension GraphBuilder {
    /// The `PointwiseActivation` function of an activation spec, with the defaults of the
    /// framework each type is named for (PyTorch's `LeakyReLU` slope 0.01, `ELU` alpha 1,
    /// `GELU` approximate "none"; Keras' `ReLU` no max_value, slope 0, threshold 0).
    static func activation(_ ls: LayerSpec, origin: String) throws -> PointwiseActivation.Function {
        switch ls.type {
        case "relu6": return .relu6
        case "leaky_relu": return .leakyReLU(slope: ls.negativeSlope ?? 0.01)
        case "relu_keras":
            return .kerasReLU(maxValue: ls.maxValue, negativeSlope: ls.negativeSlope ?? 0, threshold: ls.threshold ?? 0)
        case "elu": return .elu(alpha: ls.alpha ?? 1)
        case "selu": return .selu
        case "gelu":
            switch ls.approximate ?? "none" {
            case "none": return .geluErf
            case "tanh": return .geluTanh
            case let a:
                throw ModelIOError(.malformed, file: origin, location: "layer '\(ls.name)': field 'approximate'",
                                   "expected \"none\" or \"tanh\", found \"\(a)\"")
            }
        case "silu": return .silu
        case "hardswish": return .hardswish
        case "hardsigmoid_torch": return .hardsigmoidTorch
        case "hardsigmoid_keras2": return .hardsigmoidKeras2
        default: preconditionFailure("not an activation type: \(ls.type)")
        }
    }

    /// The spec of an activation layer (inverse of `activation(_:origin:)`), for specs derived from graphs.
    static func activationSpec(_ f: PointwiseActivation.Function, name: String) -> LayerSpec {
        var s: LayerSpec
        switch f {
        case .relu6: s = LayerSpec(name: name, type: "relu6")
        case let .leakyReLU(slope): s = LayerSpec(name: name, type: "leaky_relu"); s.negativeSlope = slope
        case let .kerasReLU(m, slope, t):
            s = LayerSpec(name: name, type: "relu_keras"); s.maxValue = m; s.negativeSlope = slope; s.threshold = t
        case let .elu(a): s = LayerSpec(name: name, type: "elu"); s.alpha = a
        case .selu: s = LayerSpec(name: name, type: "selu")
        case .geluErf: s = LayerSpec(name: name, type: "gelu"); s.approximate = "none"
        case .geluTanh: s = LayerSpec(name: name, type: "gelu"); s.approximate = "tanh"
        case .silu: s = LayerSpec(name: name, type: "silu")
        case .hardswish: s = LayerSpec(name: name, type: "hardswish")
        case .hardsigmoidTorch: s = LayerSpec(name: name, type: "hardsigmoid_torch")
        case .hardsigmoidKeras2: s = LayerSpec(name: name, type: "hardsigmoid_keras2")
        }
        return s
    }
}

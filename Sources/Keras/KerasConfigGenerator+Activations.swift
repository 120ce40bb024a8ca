import Foundation
import NN
import ModelCore

extension KerasConfigGenerator.Generator {
    /// The Keras 3 layer (class, config fields) computing `f`, or a refusal naming the node.
    static func keras(_ f: PointwiseActivation.Function, node: Int,
                      fail: (Int, String) -> ModelIOError) throws -> (String, [String: Any]) {
        func nonNegative(_ v: Float, _ what: String) throws -> Double {
            guard v >= 0 else { throw fail(node, "a \(what) of \(v): Keras layers accept only values ≥ 0") }
            return number(v)
        }
        switch f {
        case .relu6: return ("Activation", ["activation": "relu6"])
        case .selu: return ("Activation", ["activation": "selu"])
        case .geluErf: return ("Activation", ["activation": "gelu"])
        case .silu: return ("Activation", ["activation": "silu"])
        case .hardswish: return ("Activation", ["activation": "hard_silu"])
        // Keras 3's hard_sigmoid is relu6(x + 3)/6, PyTorch's formula (Fixtures/activations).
        case .hardsigmoidTorch: return ("Activation", ["activation": "hard_sigmoid"])
        case let .leakyReLU(s): return ("LeakyReLU", ["negative_slope": try nonNegative(s, "negative slope")])
        case let .elu(a): return ("ELU", ["alpha": number(a)])
        case let .kerasReLU(m, s, t):
            return ("ReLU", ["max_value": try m.map { try nonNegative($0, "max_value") } as Any? ?? NSNull(),
                             "negative_slope": try nonNegative(s, "negative slope"), "threshold": try nonNegative(t, "threshold")])
        case .geluTanh:
            throw fail(node, "GELU with the tanh approximation has no Keras 3 layer (Activation('gelu') is the erf form)")
        case .hardsigmoidKeras2:
            throw fail(node, "tf.keras 2's hard sigmoid (0.2 x + 0.5, clipped) has no Keras 3 layer (Keras 3's hard_sigmoid is relu6(x + 3)/6)")
        }
    }
}

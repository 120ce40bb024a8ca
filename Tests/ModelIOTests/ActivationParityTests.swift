import Foundation
import XCTest
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
import NN
import Tensor
import TestSupport

/// The activation spec types against PyTorch's modules and Keras 3's layers/activations, from
/// Fixtures/activations/activations.npz (Fixtures/scripts/make_activation_fixtures.py).
final class ActivationParityTests: XCTestCase {
    /// (npz key, spec JSON fields after name/type) for each reference array.
    static let cases: [(key: String, type: String, fields: String)] = [
        ("torch_relu6", "relu6", ""),
        ("torch_leaky_relu_0.1", "leaky_relu", #""negative_slope": 0.1"#),
        ("torch_elu_0.7", "elu", #""alpha": 0.7"#),
        ("torch_selu", "selu", ""),
        ("torch_gelu", "gelu", ""),
        ("torch_gelu_tanh", "gelu", #""approximate": "tanh""#),
        ("torch_silu", "silu", ""),
        ("torch_hardswish", "hardswish", ""),
        ("torch_hardsigmoid", "hardsigmoid_torch", ""),
        ("keras_relu_max4_slope0.2_t0.5", "relu_keras", #""max_value": 4, "negative_slope": 0.2, "threshold": 0.5"#),
        ("keras_relu_max6", "relu_keras", #""max_value": 6"#),
        ("keras_relu_slope0.3", "relu_keras", #""negative_slope": 0.3"#),
        ("keras_relu_t1", "relu_keras", #""threshold": 1"#),
        ("keras_leaky_relu_layer", "leaky_relu", #""negative_slope": 0.3"#),
        ("keras_elu_layer_0.7", "elu", #""alpha": 0.7"#),
        ("keras_relu6", "relu6", ""),
        ("keras_leaky_relu", "leaky_relu", #""negative_slope": 0.2"#),
        ("keras_elu", "elu", ""),
        ("keras_selu", "selu", ""),
        ("keras_gelu", "gelu", #""approximate": "none""#),
        ("keras_gelu_approximate", "gelu", #""approximate": "tanh""#),
        ("keras_swish", "silu", ""),
        ("keras_silu", "silu", ""),
        // Keras 3's hard_sigmoid is relu6(x + 3)/6, PyTorch's formula (not tf.keras 2's 0.2x + 0.5).
        ("keras_hard_sigmoid", "hardsigmoid_torch", ""),
        ("keras_hard_swish", "hardswish", ""),
        ("keras_hard_silu", "hardswish", ""),
    ]

    func testEveryActivationMatchesItsSourceFramework() throws {
        let ref = try Npz.readDictionary(URL(fileURLWithPath: fixture("activations/activations.npz")))
        let x = try XCTUnwrap(ref["x"]).tensor()
        let n = x.count
        for c in Self.cases {
            let comma = c.fields.isEmpty ? "" : ", "
            let json = #"{"input_shape": [\#(n)], "classes": \#(n), "layers": [{"name": "a", "type": "\#(c.type)"\#(comma)\#(c.fields)}]}"#
            let url = temporaryDirectory("act").appendingPathComponent("spec.json")
            try Data(json.utf8).write(to: url)
            let graph = try GraphBuilder.build(try ArchitectureSpec.load(url), origin: url.path)
            let y = graph.forward(Tensor(shape: [1, n], data: x.data), mode: .inference)
            let expected = try XCTUnwrap(ref[c.key], c.key).tensor().data
            assertAllClose(y.data, expected, atol: 2e-6, rtol: 2e-6, c.key)
            // The spec derived from the graph names the same function.
            let derived = try ArchitectureSpec.fromGraph(graph, name: "d")
            XCTAssertEqual(try GraphBuilder.build(derived, origin: "d").forward(Tensor(shape: [1, n], data: x.data), mode: .inference).data,
                           y.data, c.key)
        }
    }

    func testSpecRefusesBadActivationFields() throws {
        for (fields, message) in [(#""approximate": "erf""#, "expected \"none\" or \"tanh\""),
                                  (#""max_value": -1"#, "must be ≥ 0"),
                                  (#""negative_slope": "x""#, "expected a number")] {
            let json = #"{"input_shape": [4], "classes": 4, "layers": [{"name": "a", "type": "\#(fields.contains("approximate") ? "gelu" : "relu_keras")", \#(fields)}]}"#
            let url = temporaryDirectory("act").appendingPathComponent("bad.json")
            try Data(json.utf8).write(to: url)
            XCTAssertThrowsError(try ArchitectureSpec.load(url)) { e in
                XCTAssertTrue("\(e)".contains(message), "\(e)")
            }
        }
    }
}

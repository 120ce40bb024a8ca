import Foundation
import XCTest
@testable import Keras
@testable import ModelCore
@testable import ModelIO
import NN
import Tensor
import TestSupport

/// The activations and layers added to the Keras importer against Keras 3's own numbers
/// (Fixtures/scripts/make_keras_layer_fixtures.py), and their round trip through export.
final class KerasLayerImportTests: XCTestCase {
    func assertLogits(_ model: Model, _ ref: [String: NumpyArray], _ label: String,
                      file: StaticString = #filePath, line: UInt = #line) throws {
        try KerasFixtures.assertLogits(model, ref, label, file: file, line: line)
    }

    func testNewLayersMatchKeras() throws {
        let ref = try KerasFixtures.reference("keras/keras-layers-reference.npz")
        for ext in ["h5", "keras"] {
            let model = try KerasImport.load(KerasFixtures.url("keras/keras-layers.\(ext)"))
            try assertLogits(model, ref, ext)
            let kinds = Set(model.graph.nodes.map(\.layer.kind))
            for k in ["Rescaling", "Normalization", "LayerNorm", "Upsample2D", "ChannelDropout", "ReLU (Keras)", "LeakyReLU",
                      "ELU", "ReLU6", "SELU", "Hardswish", "Hardsigmoid", "SiLU", "GELU"] {
                XCTAssertTrue(kinds.contains(k), "\(ext): no \(k) node")
            }
            let text = model.conversions.joined(separator: "\n")
            XCTAssertTrue(text.contains("a 1x1 Conv2D"), text)
            XCTAssertTrue(text.contains("hard_sigmoid by the file's keras_version: gate/hard_sigmoid → relu6(x + 3)/6 (Keras 3)"), text)
            // The recorded spec rebuilds the same graph.
            let spec = try XCTUnwrap(model.spec)
            XCTAssertNoThrow(try SpecValidator.validate(spec, origin: "spec"))
        }
    }

    func testNormalizationFromConfigValues() throws {
        let ref = try KerasFixtures.reference("keras/keras-normconst-reference.npz")
        let model = try KerasImport.load(KerasFixtures.url("keras/keras-normconst.h5"))
        try assertLogits(model, ref, "normconst")
        XCTAssertTrue(model.conversions.joined().contains("Normalization with mean/variance in its config"))
    }

    /// Export writes the same config and weights back (Dense-as-conv kernel as [in, out],
    /// Normalization's count), and re-importing gives the same logits.
    func testRoundTrip() throws {
        let ref = try KerasFixtures.reference("keras/keras-layers-reference.npz")
        let model = try KerasImport.load(KerasFixtures.url("keras/keras-layers.h5"))
        for ext in ["h5", "keras"] {
            let out = temporaryDirectory("kl").appendingPathComponent("rt.\(ext)")
            try KerasExport.write(model, to: out)
            try assertLogits(try KerasImport.load(out), ref, "round trip \(ext)")
        }
    }

    /// A hard_sigmoid means different formulas in Keras 2 and 3; a file without keras_version is refused.
    func testHardSigmoidFollowsTheKerasVersion() throws {
        let config = KerasFixtures.functionalConfig(input: [4], layers: [("Activation", "hs", "\"activation\": \"hard_sigmoid\"", ["in"])],
                                                    output: "hs")
        let parsed = try KerasModelConfig.parse(try KerasJSON.parse(config, file: "x", what: "c"), file: "x")
        let v3 = try KerasGraphBuilder.build(parsed, file: "x", kerasVersion: "3.15.1")
        let v2 = try KerasGraphBuilder.build(parsed, file: "x", kerasVersion: "2.15.0")
        XCTAssertEqual((v3.graph.nodes[0].layer as? PointwiseActivation)?.function, .hardsigmoidTorch)
        XCTAssertEqual((v2.graph.nodes[0].layer as? PointwiseActivation)?.function, .hardsigmoidKeras2)
        XCTAssertThrowsError(try KerasGraphBuilder.build(parsed, file: "x")) { e in
            XCTAssertTrue("\(e)".contains("keras_version"), "\(e)")
        }
    }

    func testUnsupportedOptionsOfNewLayers() throws {
        let cases: [(String, String, String)] = [
            ("LayerNormalization", "\"axis\": [1, 2, 3]", "only the last (channel) axis"),
            ("LayerNormalization", "\"rms_scaling\": true", "rms_scaling"),
            ("UpSampling2D", "\"size\": 2, \"interpolation\": \"bicubic\"", "interpolation 'bicubic'"),
            ("Normalization", "\"invert\": true", "invert=True"),
            ("ReLU", "\"max_value\": -1", "'max_value' must be a number ≥ 0"),
        ]
        for (cls, fields, message) in cases {
            let config = KerasFixtures.functionalConfig(input: [4, 4, 2], layers: [(cls, "l", fields, ["in"]),
                                                                                   ("Flatten", "f", "", ["l"])], output: "f")
            let parsed = try KerasModelConfig.parse(try KerasJSON.parse(config, file: "x", what: "c"), file: "x")
            XCTAssertThrowsError(try KerasGraphBuilder.build(parsed, file: "m.h5", kerasVersion: "3")) { e in
                XCTAssertTrue("\(e)".contains(message) && "\(e)".contains("layer 'l'"), "\(cls): \(e)")
            }
        }
    }
}

/// Gradient checks and forward formulas of the layers Keras imports need.
final class KerasSupportLayerTests: XCTestCase {
    func testGradients() {
        let x = GradientCheck.randomTensor([2, 3, 4, 5], seed: 3)
        let ln = LayerNorm(channels: 3, eps: 1e-3)
        ln.weight.value = GradientCheck.randomTensor([3], seed: 4)
        ln.bias.value = GradientCheck.randomTensor([3], seed: 5)
        let norm = ChannelStandardize(channels: 3)
        norm.mean.value = Tensor(shape: [3], data: [0.1, -0.2, 0.3]); norm.variance.value = Tensor(shape: [3], data: [0.5, 2, 1e-16])
        let layers: [Layer] = [ln, LayerNorm(channels: 5, eps: 1e-5), norm, Rescaling(scale: [0.5, 2, -1], offset: [1]),
                               Upsample2D(factor: (2, 3), interpolation: .nearest), Upsample2D(factor: (3, 2), interpolation: .bilinear)]
        for (i, layer) in layers.enumerated() {
            let input = i == 1 ? GradientCheck.randomTensor([4, 5], seed: 6) : x
            let report = GradientCheck.check(layer, inputs: [input], mode: .inference)
            XCTAssertTrue(report.passed, "\(layer.kind): \(report.description)")
        }
    }

    func testChannelDropoutDropsWholeChannels() {
        let d = ChannelDropout(p: 0.5, generator: SeededGenerator(seed: 3))
        let x = Tensor(shape: [4, 8, 2, 2], repeating: 1)
        XCTAssertEqual(d.forward([x], mode: .inference).data, x.data)
        let y = d.forward([x], mode: .training)
        for plane in 0..<32 {
            let v = Array(y.data[(plane * 4)..<(plane * 4 + 4)])
            XCTAssertTrue(v == [0, 0, 0, 0] || v == [2, 2, 2, 2], "\(v)")
        }
        let dx = d.backward(Tensor(shape: x.shape, repeating: 1), ForwardRecord(inputs: [x], output: y), parameterGradients: false)[0]
        XCTAssertEqual(dx.data, y.data)
    }

    func testNormalizationFloorsTheStandardDeviation() {
        let n = ChannelStandardize(channels: 1)
        n.variance.value = Tensor(shape: [1], data: [0])
        XCTAssertEqual(n.forward([Tensor(shape: [1, 1], data: [1e-7])], mode: .inference).data, [1])
    }
}

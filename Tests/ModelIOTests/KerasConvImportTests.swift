import Foundation
import XCTest
@testable import Keras
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
import NN
import Tensor
import TestSupport

/// Keras' grouped, dilated, depthwise and separable convolutions, Concatenate, Multiply and
/// GlobalMaxPooling2D against Keras 3's own numbers (Fixtures/scripts/make_keras_conv_fixtures.py),
/// their round trip through export, and the options that are refused.
final class KerasConvImportTests: XCTestCase {
    func assertLogits(_ model: Model, _ ref: [String: NumpyArray], _ label: String,
                      file: StaticString = #filePath, line: UInt = #line) throws {
        try KerasFixtures.assertLogits(model, ref, label, file: file, line: line)
    }

    func testConvolutionsAndMergesMatchKeras() throws {
        let ref = try KerasFixtures.reference("keras/keras-convs-reference.npz")
        for ext in ["h5", "keras"] {
            let model = try KerasImport.load(KerasFixtures.url("keras/keras-convs.\(ext)"))
            try assertLogits(model, ref, ext)
            let g = model.graph
            func conv(_ name: String) throws -> Conv2D { try XCTUnwrap(g.nodes[try XCTUnwrap(g.index(of: name))].layer as? Conv2D, name) }
            XCTAssertEqual(try conv("gconv").groups, 2)
            XCTAssertEqual(try conv("dw").groups, 8); XCTAssertEqual(try conv("dw").outChannels, 16)
            XCTAssertEqual(try conv("sep/depthwise").groups, 16); XCTAssertFalse(try conv("sep/depthwise").hasBias)
            XCTAssertEqual(try conv("sep").kernel.0, 1); XCTAssertTrue(try conv("sep").hasBias)
            XCTAssertTrue(try conv("dil").dilation == (2, 2))
            XCTAssertTrue(try conv("sep_dil/depthwise").dilation == (2, 2))
            let kinds = Set(g.nodes.map(\.layer.kind))
            for k in ["Concat", "Multiply", "GlobalMaxPool"] { XCTAssertTrue(kinds.contains(k), "\(ext): no \(k) node") }
            let text = model.conversions.joined(separator: "\n")
            XCTAssertTrue(text.contains("DepthwiseConv2D → Conv2D with groups"), text)
            XCTAssertTrue(text.contains("SeparableConv2D → a depthwise Conv2D"), text)
            let spec = try XCTUnwrap(model.spec)
            XCTAssertNoThrow(try SpecValidator.validate(spec, origin: "spec"))
            // The recorded spec rebuilds a graph computing the same numbers.
            let rebuilt = try GraphBuilder.build(spec, origin: "spec")
            for (a, b) in zip(g.nodes, rebuilt.nodes) {
                for (p, q) in zip(a.layer.parameters, b.layer.parameters) { q.value = p.value }
            }
            let x = try KerasFixtures.engineInput(try XCTUnwrap(ref["x"]))
            XCTAssertEqual(rebuilt.predict(x, batchSize: 64).data, g.predict(x, batchSize: 64).data)
        }
    }

    /// Weights into the recorded spec by layer name, from a legacy full model (named
    /// variables) and a Keras 3 `.weights.h5` (arrays by position): a SeparableConv2D's arrays
    /// are split over its two nodes, depthwise kernels are recognised by name or shape.
    func testSpecWithKerasWeightsByName() throws {
        let ref = try KerasFixtures.reference("keras/keras-convs-reference.npz")
        let spec = try XCTUnwrap(try KerasImport.load(KerasFixtures.url("keras/keras-convs.keras")).spec)
        for file in ["keras-convs.h5", "keras-convs.weights.h5"] {
            let model = Model(graph: try GraphBuilder.build(spec, origin: "spec"), format: .architectureOnly, architectureName: "convs")
            try KerasImport.loadWeights(KerasFixtures.url("keras/\(file)"), into: model)
            try assertLogits(model, ref, file)
        }
    }

    /// Keras 3 operations with a number (`x + 3.0`, `x * (1/6)`: MobileNetV3's hard sigmoid)
    /// become Rescaling nodes; a tensor-times-tensor operation is a Multiply. Operations are
    /// not layers for Keras' weight layout, and export keeps them out of it.
    func testKerasOperationsWithNumbers() throws {
        let ref = try KerasFixtures.reference("keras/keras-ops-reference.npz")
        let model = try KerasImport.load(KerasFixtures.url("keras/keras-ops.keras"))
        try assertLogits(model, ref, "ops")
        XCTAssertEqual(model.graph.nodes.filter { $0.layer is Rescaling }.count, 2)
        XCTAssertTrue(model.conversions.joined().contains("arithmetic with a number"), model.conversions.joined())
        let out = temporaryDirectory("kops").appendingPathComponent("rt.keras")
        try KerasExport.write(model, to: out)
        try assertLogits(try KerasImport.load(out), ref, "ops round trip")
        let config = KerasFixtures.functionalConfig(input: [4], layers: [("Add", "l", "", ["in"])], output: "l")
            .replacingOccurrences(of: "\"class_name\": \"Add\"", with: "\"class_name\": \"Add\", \"module\": \"keras.src.ops.numpy\"")
            .replacingOccurrences(of: "\"keras_history\": [\"in\", 0, 0]}}]", with: "\"keras_history\": [\"in\", 0, 0]}}, 2.0, 3.0]")
        let parsed = try KerasModelConfig.parse(try KerasJSON.parse(config, file: "x", what: "c"), file: "x")
        XCTAssertEqual(parsed.layers.last?.constants.count, 2)
        XCTAssertThrowsError(try KerasGraphBuilder.build(parsed, file: "m.keras", kerasVersion: "3")) { e in
            XCTAssertTrue("\(e)".contains("only a tensor plus or times one number") && "\(e)".contains("layer 'l'"), "\(e)")
        }
    }

    /// Export writes depthwise, pointwise and grouped kernels back in Keras' layouts.
    func testRoundTrip() throws {
        let ref = try KerasFixtures.reference("keras/keras-convs-reference.npz")
        for source in ["h5", "keras"] {
            let model = try KerasImport.load(KerasFixtures.url("keras/keras-convs.\(source)"))
            for ext in ["h5", "keras"] {
                let out = temporaryDirectory("kc").appendingPathComponent("rt.\(ext)")
                try KerasExport.write(model, to: out)
                try assertLogits(try KerasImport.load(out), ref, "\(source) → \(ext)")
            }
        }
    }

    /// Keras itself loads the exported files and predicts the fixture's logits (optional: keras).
    func testKerasLoadsExportedFiles() throws {
        let model = try KerasImport.load(KerasFixtures.url("keras/keras-convs.keras"))
        let dir = temporaryDirectory("kck")
        try KerasExport.write(model, to: dir.appendingPathComponent("m.keras"))
        try KerasExport.write(model, to: dir.appendingPathComponent("m.h5"))
        let script = """
        import sys, numpy as np, keras
        ref = np.load(sys.argv[2])
        for name in ["m.keras", "m.h5"]:
            y = keras.models.load_model(sys.argv[1] + "/" + name).predict(ref["x"], verbose=0)
            assert np.abs(y - ref["probabilities"]).max() < 1e-5, (name, np.abs(y - ref["probabilities"]).max())
        print("ok")
        """
        let out = try runPythonScript(script, [dir.path, fixture("keras/keras-convs-reference.npz")], needs: "keras",
                                      environment: ["KERAS_BACKEND": "jax"])
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last, "ok")
    }

    /// A model built here (grouped, depthwise with PyTorch padding, dilated convolutions, Concat,
    /// Multiply, GlobalMaxPool) written through a generated Keras config: the importer reads
    /// the file back with the same numbers, and Keras itself too (optional: keras).
    func testGeneratedConfigWritesTheNewLayers() throws {
        let g = Graph(inputShape: [4, 6, 6])
        try g.add("grouped", Conv2D(inChannels: 4, outChannels: 6, kernel: (3, 3), padding: Padding2D(symmetric: 1, 1), groups: 2))
        let dw = try g.add("dw", Conv2D(inChannels: 6, outChannels: 12, kernel: (3, 3), stride: (2, 2),
                                        padding: Padding2D(symmetric: 1, 1), groups: 6))
        try g.add("dil", Conv2D(inChannels: 12, outChannels: 4, kernel: (3, 3), padding: Padding2D(symmetric: 2, 2),
                                dilation: (2, 2), groups: 2, bias: false))
        let cat = try g.add("cat", Concat(), inputs: [.node(dw), .node(g.nodes.count - 1)])
        try g.add("sq", Multiply(), inputs: [.node(cat), .node(cat)])
        let gmp = try g.add("gmp", GlobalMaxPool())
        let gap = try g.add("gap", GlobalAvgPool(), inputs: [.node(cat)])
        try g.add("vcat", Concat(), inputs: [.node(gmp), .node(gap)])
        try g.add("fc", Linear(inFeatures: 32, outFeatures: 3))
        for (i, p) in g.nodes.flatMap(\.layer.parameters).enumerated() {
            p.value = GradientCheck.randomTensor(p.value.shape, seed: UInt64(10 + i))
        }
        let model = Model(graph: g, format: .architectureOnly, architectureName: "convs")
        let x = GradientCheck.randomTensor([3, 4, 6, 6], seed: 5)
        let expected = g.forward(x, mode: .inference, keepForBackward: false)
        let dir = temporaryDirectory("kcg")
        for ext in ["keras", "h5"] {
            try ModelWriter.write(model, to: dir.appendingPathComponent("g.\(ext)"), as: .keras)
            let back = try KerasImport.load(dir.appendingPathComponent("g.\(ext)"))
            let y = back.graph.forward(x, mode: .inference, keepForBackward: false)
            assertAllClose(y.data, expected.data, atol: 1e-5, rtol: 0, ext)
        }
        let nhwc = Tensor(shape: [3, 6, 6, 4], data: (0..<x.data.count).map { k in
            let (n, rest) = k.quotientAndRemainder(dividingBy: 144)
            let (h, rest2) = rest.quotientAndRemainder(dividingBy: 24)
            let (w, c) = rest2.quotientAndRemainder(dividingBy: 4)
            return x.data[((n * 4 + c) * 6 + h) * 6 + w]
        })
        try Npz.write(["x": NumpyArray(nhwc), "y": NumpyArray(expected)], to: dir.appendingPathComponent("io.npz"))
        let script = """
        import sys, numpy as np, keras
        io = np.load(sys.argv[1] + "/io.npz")
        for name in ["g.keras", "g.h5"]:
            y = keras.models.load_model(sys.argv[1] + "/" + name).predict(io["x"], verbose=0)
            assert np.abs(y - io["y"]).max() < 1e-4, (name, np.abs(y - io["y"]).max())
        print("ok")
        """
        let out = try runPythonScript(script, [dir.path], needs: "keras", environment: ["KERAS_BACKEND": "jax"])
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last, "ok")
    }

    /// keras.applications.MobileNetV2 (alpha 0.35, from `.keras` and `.h5`) and MobileNetV3Small
    /// (alpha 0.75, preprocessing included, from `.keras`: Keras cannot read back its own `.h5`
    /// of it), 96x96, random weights and BatchNorm statistics: Keras' logits within 1e-4 of the
    /// largest. At 2.2 and 4.7 MB they are not committed; Keras builds them here (optional: keras).
    func testMobileNetsFromKerasApplications() throws {
        let dir = temporaryDirectory("kmn")
        let script = """
        import sys
        import make_keras_conv_fixtures as F
        F.save_mobilenet_v2(sys.argv[1])
        F.save_mobilenet_v3_small(sys.argv[1])
        print("ok")
        """
        let out = try runPythonScript(script, [dir.path], needs: "keras", environment: ["KERAS_BACKEND": "jax"])
        guard out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last == "ok" else {
            return XCTFail("the MobileNet script did not finish: \(out)")
        }
        for (name, exts, depthwise) in [("mobilenetv2", ["keras", "h5"], 17), ("mobilenetv3small", ["keras"], 11)] {
            let ref = try Npz.readDictionary(dir.appendingPathComponent("\(name)-reference.npz"))
            for ext in exts {
                let model = try KerasImport.load(dir.appendingPathComponent("\(name).\(ext)"))
                try assertLogits(model, ref, "\(name).\(ext)")
                XCTAssertEqual(model.graph.nodes.filter { ($0.layer as? Conv2D).map { $0.groups > 1 } ?? false }.count, depthwise, name)
            }
        }
    }

    /// What Keras cannot express is refused with one line naming the node, and no file is left:
    /// ceil-mode pooling (Keras pools in floor mode) and a strided dilated convolution.
    func testExportRefusesWhatKerasCannotExpress() throws {
        let cases: [(String, Layer, String)] = [
            ("pool", MaxPool2D(kernel: (3, 3), stride: (2, 2), ceilMode: true), "ceil-mode pooling"),
            ("avg", AvgPool2D(kernel: (2, 2), ceilMode: true), "ceil-mode pooling"),
            ("dil", Conv2D(inChannels: 2, outChannels: 2, kernel: (3, 3), stride: (2, 2), dilation: (2, 2)), "dilated convolution with stride 2x2"),
        ]
        let dir = temporaryDirectory("kx")
        for (name, layer, message) in cases {
            let g = Graph(inputShape: [2, 9, 9])
            try g.add(name, layer)
            try g.add("flat", Flatten())
            let model = Model(graph: g, format: .architectureOnly, architectureName: "m")
            for ext in ["h5", "keras"] {
                let out = dir.appendingPathComponent("\(name).\(ext)")
                XCTAssertThrowsError(try ModelWriter.write(model, to: out, as: .keras)) { e in
                    let text = "\(e)"
                    XCTAssertTrue(text.contains("layer '\(name)'") && text.contains(message), text)
                    XCTAssertFalse(text.contains("\n"), text)
                }
                XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), out.path)
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testUnsupportedOptions() throws {
        let cases: [([Int], String, String, [String], String)] = [
            ([4, 4, 2], "Concatenate", "\"axis\": 1", ["in", "in"], "concatenation along axis 1"),
            ([4, 4, 2], "Multiply", "", ["in", "in", "in"], "Multiply of 3 inputs"),
            ([4, 4, 2], "Conv2D", "\"filters\": 3, \"kernel_size\": 1, \"groups\": 2", ["in"], "'groups' 2 must divide"),
            ([4, 4, 2], "DepthwiseConv2D", "\"kernel_size\": 1, \"depth_multiplier\": 0", ["in"], "'depth_multiplier' must be positive"),
            ([4, 4, 2], "SeparableConv2D", "\"filters\": 2, \"kernel_size\": 1, \"data_format\": \"channels_first\"", ["in"], "data_format"),
        ]
        for (shape, cls, fields, inbound, message) in cases {
            let config = KerasFixtures.functionalConfig(input: shape, layers: [(cls, "l", fields, inbound), ("Flatten", "f", "", ["l"])],
                                                        output: "f")
            let parsed = try KerasModelConfig.parse(try KerasJSON.parse(config, file: "x", what: "c"), file: "x")
            XCTAssertThrowsError(try KerasGraphBuilder.build(parsed, file: "m.h5", kerasVersion: "3")) { e in
                XCTAssertTrue("\(e)".contains(message) && "\(e)".contains("layer 'l'"), "\(cls): \(e)")
            }
        }
    }

    /// Depthwise kernels: Keras' output channel i·m + j reads input i with kernel [.., i, j].
    func testDepthwiseKernelLayout() throws {
        let conv = Conv2D(inChannels: 2, outChannels: 6, kernel: (1, 2), groups: 2, bias: false)
        let values = (0..<12).map(Float.init)            // [1, 2, 2, 3]: (y, x, i, j)
        try KerasVariables.assign(values, shape: [1, 2, 2, 3], variable: "depthwise_kernel", to: conv, file: "f", location: "l")
        // weight [o = i·3 + j, 0, 0, x] = values[(x·2 + i)·3 + j]
        for i in 0..<2 { for j in 0..<3 { for x in 0..<2 {
            XCTAssertEqual(conv.weight.value.data[(i * 3 + j) * 2 + x], values[(x * 2 + i) * 3 + j])
        } } }
        XCTAssertEqual(KerasVariables.kerasValue("depthwise_kernel", of: conv)?.values, values)
        XCTAssertEqual(KerasVariables.kerasValue("depthwise_kernel", of: conv)?.shape, [1, 2, 2, 3])
    }
}

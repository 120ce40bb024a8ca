import Foundation
import XCTest
import ModelIO
import NN
import Tensor
import TestSupport

/// Shared helpers for the Keras tests.
enum KerasFixtures {
    static let models = ["functional-cnn", "conv-flatten", "sequential-mlp", "nested", "flatten-orders"]

    static func url(_ relative: String) -> URL { URL(fileURLWithPath: fixture(relative)) }

    /// A reference npz's arrays.
    static func reference(_ relative: String) throws -> [String: NumpyArray] {
        try Npz.readDictionary(url(relative))
    }

    /// Keras' NHWC images as our NCHW tensor; vectors unchanged.
    static func engineInput(_ x: NumpyArray) throws -> Tensor {
        let t = try x.tensor()
        guard t.rank == 4 else { return t }
        let (n, h, w, c) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        var out = Tensor(shape: [n, c, h, w])
        for i in 0..<n { for y in 0..<h { for xx in 0..<w { for ch in 0..<c {
            out.data[((i * c + ch) * h + y) * w + xx] = t.data[((i * h + y) * w + xx) * c + ch]
        } } } }
        return out
    }

    /// The model's logits on `ref["x"]` against `ref["logits"]`, within 1e-4 of the largest reference logit.
    static func assertLogits(_ model: Model, _ ref: [String: NumpyArray], _ label: String,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let logits = try KerasFixtures.logits(model, try XCTUnwrap(ref["x"]))
        let expected = try XCTUnwrap(ref["logits"]).tensor().data
        let scale = expected.map(abs).max() ?? 1
        XCTAssertLessThanOrEqual(maxAbsDiff(logits.data, expected), 1e-4 * scale, label, file: file, line: line)
    }

    static func logits(_ model: Model, _ x: NumpyArray) throws -> Tensor {
        model.graph.predict(try engineInput(x), batchSize: 64)
    }

    /// Writes a legacy Keras `.h5` by hand: `model_config` plus `model_weights` groups
    /// `(layer, [(weight name, shape, values)])` (weightless layers get an empty list).
    static func writeH5(_ url: URL, config: String, groups: [(String, [(String, [Int], [Float])])]) throws {
        let h5 = try HDF5File(creating: url)
        try h5.setAttribute("model_config", string: config, form: .variableASCII)
        try h5.setAttribute("keras_version", string: "3.15.1")
        try h5.setAttribute("backend", string: "jax")
        try h5.createGroup("model_weights")
        try h5.setAttribute("layer_names", strings: groups.map(\.0), at: "model_weights", form: .variableASCII)
        for (layer, weights) in groups {
            try h5.createGroup("model_weights/" + layer)
            try h5.setAttribute("weight_names", strings: weights.map(\.0), at: "model_weights/" + layer, form: .variableASCII)
            for (name, shape, values) in weights {
                try h5.write(floats: values, shape: shape, to: "model_weights/\(layer)/\(name)")
            }
        }
        try h5.close()
    }

    /// A Functional config: `layers` are `(class, name, config JSON fields, inbound names)`.
    static func functionalConfig(input: [Int], layers: [(String, String, String, [String])], output: String) -> String {
        let inputShape = (["null"] + input.map(String.init)).joined(separator: ", ")
        var parts = ["{\"class_name\": \"InputLayer\", \"name\": \"in\", \"inbound_nodes\": [], \"config\": {\"name\": \"in\", \"batch_shape\": [\(inputShape)]}}"]
        for (cls, name, fields, inbound) in layers {
            let args = inbound.map { "{\"class_name\": \"__keras_tensor__\", \"config\": {\"keras_history\": [\"\($0)\", 0, 0]}}" }
            let argText = args.count == 1 ? args[0] : "[" + args.joined(separator: ", ") + "]"
            let comma = fields.isEmpty ? "" : ", "
            parts.append("{\"class_name\": \"\(cls)\", \"name\": \"\(name)\", \"config\": {\"name\": \"\(name)\"\(comma)\(fields)}, \"inbound_nodes\": [{\"args\": [\(argText)], \"kwargs\": {}}]}")
        }
        return "{\"class_name\": \"Functional\", \"config\": {\"name\": \"hand\", \"layers\": [\(parts.joined(separator: ", "))], \"input_layers\": [\"in\", 0, 0], \"output_layers\": [\"\(output)\", 0, 0]}}"
    }
}

/// Keras fixtures (Keras 3 and tf.keras 2.15) give Keras' own logits and probabilities.
final class KerasImportTests: XCTestCase {
    /// Every Keras 3 fixture, as `.h5` and `.keras`: logits and probabilities within 1e-5.
    func testKeras3FixturesMatchKeras() throws {
        for name in KerasFixtures.models {
            let ref = try KerasFixtures.reference("keras/\(name)-reference.npz")
            for ext in ["h5", "keras"] {
                let model = try KerasImport.load(KerasFixtures.url("keras/\(name).\(ext)"))
                let logits = try KerasFixtures.logits(model, ref["x"]!)
                assertAllClose(logits.data, try ref["logits"]!.floats(), atol: 1e-5, rtol: 0, "\(name).\(ext) logits")
                assertAllClose(softmax(logits).data, try ref["probabilities"]!.floats(), atol: 1e-5, rtol: 0, "\(name).\(ext) probabilities")
                XCTAssertEqual(model.inputLayout, .nhwc)
                XCTAssertEqual(model.format, ext == "h5" ? .kerasH5 : .kerasArchive)
                XCTAssertEqual(model.softmaxSplitOff, name != "nested", name)
            }
        }
    }

    func testWeightsFileWithArchitectureFromKerasModel() throws {
        let ref = try KerasFixtures.reference("keras/functional-cnn-reference.npz")
        for arch in ["functional-cnn.keras", "functional-cnn.h5"] {
            let model = try KerasImport.load(KerasFixtures.url("keras/" + arch), weights: KerasFixtures.url("keras/functional-cnn.weights.h5"))
            assertAllClose(try KerasFixtures.logits(model, ref["x"]!).data, try ref["logits"]!.floats(), atol: 1e-5, rtol: 0, arch)
        }
        // The same through the loader: a weights file with --arch naming a Keras model.
        let viaLoader = try ModelLoader.load(fixture("keras/functional-cnn.weights.h5"), arch: fixture("keras/functional-cnn.keras"))
        assertAllClose(try KerasFixtures.logits(viaLoader, ref["x"]!).data, try ref["logits"]!.floats(), atol: 1e-5, rtol: 0, "loader")
    }

    /// tf.keras 2.15: `:0` weight names, old inbound-node lists, vlen and fixed-length (h5py 2
    /// style) name attributes, and the legacy `save_weights` root layout.
    func testTF2FilesMatchTensorFlow() throws {
        let ref = try KerasFixtures.reference("keras/conv-flatten-tf2-reference.npz")
        let cases: [(String, String?)] = [("conv-flatten-tf2.h5", nil), ("conv-flatten-tf2-handmade.h5", nil),
                                          ("conv-flatten.h5", "conv-flatten-tf2-weights.h5"),
                                          ("conv-flatten-tf2.h5", "conv-flatten-tf2-weights.h5")]
        for (arch, weights) in cases {
            let model = try KerasImport.load(KerasFixtures.url("keras/" + arch), weights: weights.map { KerasFixtures.url("keras/" + $0) })
            let logits = try KerasFixtures.logits(model, ref["x"]!)
            assertAllClose(logits.data, try ref["logits"]!.floats(), atol: 1e-5, rtol: 0, "\(arch) + \(weights ?? "-") logits")
            assertAllClose(softmax(logits).data, try ref["probabilities"]!.floats(), atol: 1e-5, rtol: 0, "\(arch) probabilities")
        }
    }

    func testDigitsTeacherAndStudent() throws {
        let test = try KerasFixtures.reference("digits/digits-test.npz")
        let teacherRef = try KerasFixtures.reference("digits/teacher-cnn-reference.npz")
        for ext in ["h5", "keras"] {
            let teacher = try KerasImport.load(KerasFixtures.url("digits/teacher-cnn.\(ext)"))
            let logits = try KerasFixtures.logits(teacher, test["x"]!)
            assertAllClose(logits.data, try teacherRef["logits"]!.floats(), atol: 1e-5, rtol: 0, "teacher.\(ext) logits")
            assertAllClose(softmax(logits).data, try teacherRef["probabilities"]!.floats(), atol: 1e-5, rtol: 0, "teacher.\(ext) probabilities")
            let labels = try test["y"]!.int64s()
            let correct = (0..<labels.count).filter { i in
                let row = logits.data[(i * 10)..<(i * 10 + 10)]
                return Int64(row.firstIndex(of: row.max()!)! - i * 10) == labels[i]
            }.count
            XCTAssertEqual(correct, 448, "Keras reports 448/450")
        }
        let studentRef = try KerasFixtures.reference("digits/student-mlp-reference.npz")
        let student = try KerasImport.load(KerasFixtures.url("digits/student-mlp.h5"))
        assertAllClose(try KerasFixtures.logits(student, studentRef["x"]!).data, try studentRef["logits"]!.floats(), atol: 1e-5, rtol: 0, "student")
    }

    /// Node names, parameter keys, per-side padding, BatchNorm conventions and the recorded conversions.
    func testStructureAndConversions() throws {
        let m = try KerasImport.load(KerasFixtures.url("keras/functional-cnn.h5"))
        let g = m.graph
        XCTAssertEqual(g.inputShape, [3, 12, 12])
        XCTAssertEqual(m.architectureName, "functional_cnn")
        let keys = m.stateDictParameters().map(\.key)
        XCTAssertTrue(keys.contains("stem_conv.weight") && keys.contains("stem_bn.running_var") && keys.contains("head.bias"), "\(keys)")
        XCTAssertFalse(keys.contains("stem_conv.bias"))
        let down = try XCTUnwrap(g.nodes[g.index(of: "down_conv")!].layer as? Conv2D)
        XCTAssertEqual(down.padding, Padding2D(top: 0, bottom: 1, left: 0, right: 1))
        XCTAssertEqual(down.weight.value.shape, [16, 8, 3, 3])
        let resBN = try XCTUnwrap(g.nodes[g.index(of: "res_bn")!].layer as? BatchNorm)
        XCTAssertEqual(resBN.eps, 1e-5)
        XCTAssertEqual(resBN.momentum, 0.01, accuracy: 1e-7)
        XCTAssertEqual((g.nodes[g.index(of: "stem_bn")!].layer as? BatchNorm)?.eps, 1e-3)
        XCTAssertEqual(g.nodes[g.output].name, "head", "the output is the Dense node, its softmax split off")
        XCTAssertEqual(g.outputShape, [5])
        let text = m.conversions.joined(separator: "\n")
        for needle in ["HWIO → OIHW (3 layers)", "[in, out] → [out, in] (1 layer)", "down_conv t0 b1 l0 r1",
                       "momentum 0.99 → 0.01", "0.001: stem_bn, down_bn; 1e-05: res_bn", "final softmax of 'head' split off",
                       "optimizer state in the file ignored"] {
            XCTAssertTrue(text.contains(needle), "missing '\(needle)' in:\n\(text)")
        }

        let nested = try KerasImport.load(KerasFixtures.url("keras/nested.keras"))
        XCTAssertNotNil(nested.graph.index(of: "block/block_conv"))
        XCTAssertNotNil(nested.graph.index(of: "block/block_relu"))
        XCTAssertNotNil(nested.graph.index(of: "squeeze/tanh"))
        XCTAssertTrue(nested.stateDictParameters().map(\.key).contains("block/block_conv.weight"))
        XCTAssertEqual((nested.graph.nodes[nested.graph.index(of: "pad")!].layer as? ZeroPad2D)?.padding,
                       Padding2D(top: 1, bottom: 2, left: 0, right: 1))
        XCTAssertFalse(nested.softmaxSplitOff)
        XCTAssertTrue(nested.conversions.joined().contains("nested Sequential 'block'"))

        let seq = try KerasImport.load(KerasFixtures.url("keras/sequential-mlp.h5"))
        XCTAssertNil(seq.graph.index(of: "activation"), "the output Activation('softmax') is split off")
        XCTAssertEqual(seq.graph.nodes.last?.name, "dense_2")
        XCTAssertTrue(seq.conversions.joined().contains("final softmax of 'activation' split off"))
    }

    /// Keras weights (Keras 3 `.weights.h5`, tf.keras 2 `save_weights`, a full model's
    /// `model_weights`) loaded by layer name into the spec a Keras import records.
    func testKerasWeightsIntoASpecByLayerName() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases = [("functional-cnn", "keras/functional-cnn.weights.h5", "keras/functional-cnn-reference.npz"),
                     ("conv-flatten", "keras/conv-flatten-tf2-weights.h5", "keras/conv-flatten-tf2-reference.npz"),
                     ("nested", "keras/nested.h5", "keras/nested-reference.npz")]
        for (name, weights, reference) in cases {
            let spec = try XCTUnwrap(try KerasImport.load(KerasFixtures.url("keras/\(name).keras")).spec)
            let specURL = dir.appendingPathComponent("\(name).json")
            try spec.jsonData().write(to: specURL)
            let model: Model
            if name == "nested" {
                // A full model given with a spec would use its own config; load its weights directly.
                let (s, origin) = try ModelLoader.architecture(specURL.path)
                model = Model(graph: try GraphBuilder.build(s, origin: origin), format: .kerasWeights,
                              architectureName: name, inputLayout: .nhwc, spec: s)
                try KerasImport.loadWeights(KerasFixtures.url(weights), into: model)
            } else {
                model = try ModelLoader.load(fixture(weights), arch: specURL.path)
                XCTAssertEqual(model.format, .kerasWeights)
            }
            let ref = try KerasFixtures.reference(reference)
            assertAllClose(try KerasFixtures.logits(model, ref["x"]!).data, try ref["logits"]!.floats(), atol: 1e-5, rtol: 0, name)
        }
        // Weights of another model: one error listing what is missing and what is extra.
        let specURL = dir.appendingPathComponent("conv-flatten.json")
        XCTAssertThrowsError(try ModelLoader.load(fixture("keras/functional-cnn.weights.h5"), arch: specURL.path)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("no weights for conv2d, dense, dense_1") && text.contains("lacks: down_bn"), text)
        }
    }

    /// The spec a Keras import records builds the same graph: spec + state dict give Keras' numbers
    /// (what `bss convert` relies on to turn a Keras model into `.npz` + spec).
    func testRecordedSpecReproducesTheModel() throws {
        for name in KerasFixtures.models {
            let m = try KerasImport.load(KerasFixtures.url("keras/\(name).h5"))
            let spec = try XCTUnwrap(m.spec, name)
            XCTAssertEqual(spec.inputLayout, "nhwc")
            let graph = try GraphBuilder.build(spec, origin: name)
            let copy = Model(graph: graph, format: .architectureOnly, architectureName: name, inputLayout: .nhwc, spec: spec)
            try StateDict(model: m).load(into: copy, file: name)
            let ref = try KerasFixtures.reference("keras/\(name)-reference.npz")
            let x = try KerasFixtures.engineInput(ref["x"]!)
            XCTAssertEqual(copy.graph.predict(x).data, m.graph.predict(x).data, name)
        }
    }
}

import Foundation
import XCTest
@testable import HDF5
@testable import Keras
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
import NN
import Tensor
import TestSupport

/// Bad Keras input: each case is one `ModelIOError` naming the file and what was expected.
final class KerasMalformedTests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("bss-keras-bad") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    private func expectError(_ url: URL, weights: URL? = nil, _ kind: ModelIOError.Kind, mentions: [String],
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try KerasImport.load(url, weights: weights), file: file, line: line) { e in
            guard let e = e as? ModelIOError else { return XCTFail("not a ModelIOError: \(e)", file: file, line: line) }
            XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
            let text = "\(e)"
            XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
            for m in mentions { XCTAssertTrue(text.contains(m), "'\(m)' missing from: \(text)", file: file, line: line) }
        }
    }

    func testNotHDF5AndTruncatedFiles() throws {
        expectError(KerasFixtures.url("hdf5/not_hdf5.h5"), .malformed, mentions: ["not_hdf5.h5", "not an HDF5 file"])
        expectError(KerasFixtures.url("hdf5/truncated.h5"), .malformed, mentions: ["truncated.h5"])
        // A Keras model cut in half keeps its signature but not its data.
        let bytes = try Data(contentsOf: KerasFixtures.url("keras/conv-flatten.h5"))
        let cut = dir.appendingPathComponent("cut.h5")
        try bytes.prefix(bytes.count / 2).write(to: cut)
        XCTAssertThrowsError(try KerasImport.load(cut)) { e in
            XCTAssertTrue("\(e)".contains("cut.h5"), "\(e)")
        }
        let cutArchive = dir.appendingPathComponent("cut.keras")
        let archive = try Data(contentsOf: KerasFixtures.url("keras/conv-flatten.keras"))
        try archive.prefix(archive.count - 100).write(to: cutArchive)
        expectError(cutArchive, .malformed, mentions: ["cut.keras"])
    }

    func testMissingModelConfig() {
        expectError(KerasFixtures.url("hdf5/datasets.h5"), .notFound, mentions: ["datasets.h5", "model_config", "--arch"])
    }

    func testUnknownLayerClass() throws {
        let config = KerasFixtures.functionalConfig(input: [4], layers: [("LSTM", "memory", "\"units\": 3", ["in"])], output: "memory")
        let url = dir.appendingPathComponent("lstm.h5")
        try KerasFixtures.writeH5(url, config: config, groups: [("in", []), ("memory", [])])
        expectError(url, .unsupported, mentions: ["lstm.h5", "memory (LSTM)", "supported classes:", "Conv2D", "Dense"])
    }

    /// Every unsupported layer of a model (nested ones included) is named in one error.
    func testEveryUnsupportedLayerInOneError() throws {
        let config = KerasFixtures.functionalConfig(input: [8, 8, 3], layers: [
            ("Conv2D", "c", "\"filters\": 2, \"kernel_size\": 3, \"activation\": \"mish\"", ["in"]),
            ("Cropping2D", "crop", "\"cropping\": 1", ["c"]),
            ("GlobalAveragePooling2D", "gap", "", ["crop"]),
            ("LSTM", "memory", "\"units\": 3", ["gap"])], output: "memory")
        let url = dir.appendingPathComponent("many.h5")
        try KerasFixtures.writeH5(url, config: config, groups: [])
        expectError(url, .unsupported, mentions: ["3 unsupported layers", "c (Conv2D, activation 'mish')", "crop (Cropping2D)",
                                                   "memory (LSTM)"])
    }

    func testUnsupportedOptionsAreNamed() throws {
        let cases: [(String, String)] = [
            ("\"units\": 3, \"activation\": \"mish\"", "activation 'mish'"),
            ("\"units\": 0", "'units' must be positive"),
        ]
        for (fields, message) in cases {
            let config = KerasFixtures.functionalConfig(input: [4], layers: [("Dense", "fc", fields, ["in"])], output: "fc")
            let url = dir.appendingPathComponent("dense.h5")
            try KerasFixtures.writeH5(url, config: config, groups: [("in", []), ("fc", [])])
            XCTAssertThrowsError(try KerasImport.load(url)) { e in XCTAssertTrue("\(e)".contains(message), "\(e)") }
        }
        let conv = KerasFixtures.functionalConfig(input: [8, 8, 3], layers: [
            ("Conv2D", "c", "\"filters\": 2, \"kernel_size\": [3, 3], \"padding\": \"causal\"", ["in"]),
            ("Flatten", "f", "", ["c"]), ("Dense", "d", "\"units\": 2", ["f"])], output: "d")
        let url = dir.appendingPathComponent("conv.h5")
        try KerasFixtures.writeH5(url, config: conv, groups: [])
        expectError(url, .unsupported, mentions: ["layer 'c'", "padding 'causal'"])
    }

    func testWeightShapeDisagreeingWithConfig() throws {
        let source = try HDF5File(reading: KerasFixtures.url("keras/conv-flatten.h5"))
        let config = try source.stringAttribute("model_config")
        var groups: [(String, [(String, [Int], [Float])])] = []
        for layer in try source.stringArrayAttribute("layer_names", at: "model_weights") {
            var weights: [(String, [Int], [Float])] = []
            for name in try source.stringArrayAttribute("weight_names", at: "model_weights/" + layer) {
                let (shape, values) = try source.readFloats("model_weights/\(layer)/\(name)")
                weights.append((name, shape, values))
            }
            groups.append((layer, weights))
        }
        let url = dir.appendingPathComponent("shape.h5")
        let wrongShape = groups.map { g in (g.0, g.1.map { w in w.0 == "dense/kernel" ? (w.0, [150, 15], Array(w.2.prefix(150 * 15))) : w }) }
        try KerasFixtures.writeH5(url, config: config, groups: wrongShape)
        expectError(url, .mismatch, mentions: ["shape.h5", "layer 'dense'", "dense/kernel", "(150, 15)", "(150, 16)"])

        // A layer with one weight too few.
        let missing = groups.map { ($0.0, $0.0 == "dense_1" ? Array($0.1.prefix(1)) : $0.1) }
        try KerasFixtures.writeH5(url, config: config, groups: missing)
        expectError(url, .mismatch, mentions: ["layer 'dense_1'", "1 weights", "implies 2"])
    }

    func testArchiveWithoutConfig() throws {
        // A zip that is not a Keras archive: one .npy member, no config.json.
        let url = dir.appendingPathComponent("noconfig.keras")
        try Npz.write([("model.weights", NumpyArray(float32s: [1, 2], shape: [2]))], to: url)
        expectError(url, .malformed, mentions: ["noconfig.keras", "config.json"])
        let text = dir.appendingPathComponent("text.keras")
        try "hello".write(to: text, atomically: true, encoding: .utf8)
        expectError(text, .malformed, mentions: ["text.keras", "zip"])
    }

    func testBadJSONAndGraphs() throws {
        let url = dir.appendingPathComponent("json.h5")
        try KerasFixtures.writeH5(url, config: "{\"class_name\": \"Functional\", \"config\": {", groups: [])
        expectError(url, .malformed, mentions: ["json.h5", "model_config", "not valid JSON"])
        let cycle = KerasFixtures.functionalConfig(input: [4], layers: [
            ("Dense", "a", "\"units\": 4", ["b"]), ("Dense", "b", "\"units\": 4", ["a"])], output: "b")
        try KerasFixtures.writeH5(url, config: cycle, groups: [])
        expectError(url, .malformed, mentions: ["cycle"])
        let unknown = KerasFixtures.functionalConfig(input: [4], layers: [("Dense", "a", "\"units\": 4", ["nowhere"])], output: "a")
        try KerasFixtures.writeH5(url, config: unknown, groups: [])
        expectError(url, .malformed, mentions: ["layer 'a'", "'nowhere'"])
        let rnn = KerasFixtures.functionalConfig(input: [4, 5], layers: [("Dense", "a", "\"units\": 4", ["in"])], output: "a")
        try KerasFixtures.writeH5(url, config: rnn, groups: [])
        expectError(url, .unsupported, mentions: ["input shape (4, 5)"])
        try KerasFixtures.writeH5(url, config: "{\"class_name\": \"MyModel\", \"config\": {}}", groups: [])
        expectError(url, .unsupported, mentions: ["'MyModel'", "Functional and Sequential"])
    }

    func testLoaderRoutesBadKerasFilesToOneLineErrors() {
        for path in ["hdf5/not_hdf5.h5", "hdf5/datasets.h5"] {
            XCTAssertThrowsError(try ModelLoader.load(fixture(path))) { e in
                XCTAssertTrue(e is ModelIOError, "\(e)")
                XCTAssertTrue("\(e)".contains(path.split(separator: "/").last!), "\(e)")
            }
        }
    }

    // MARK: Pieces

    func testSamePaddingMatchesTensorFlow() {
        // (size, kernel, stride) → (before, after), as tf.nn.conv2d pads.
        let cases: [((Int, Int, Int), (Int, Int))] = [((12, 3, 1), (1, 1)), ((12, 3, 2), (0, 1)), ((13, 3, 2), (1, 1)),
                                                      ((8, 2, 2), (0, 0)), ((7, 2, 1), (0, 1)), ((6, 5, 3), (1, 1)), ((7, 4, 1), (1, 2)), ((5, 1, 2), (0, 0))]
        for ((size, k, s), (b, a)) in cases {
            let p = KerasLayerTranslator.samePadding(size: size, kernel: k, stride: s)
            XCTAssertEqual(p.before, b, "\(size) \(k) \(s)")
            XCTAssertEqual(p.after, a, "\(size) \(k) \(s)")
        }
    }

    func testSnakeCaseLikeKeras() {
        let cases = ["Conv2D": "conv2d", "BatchNormalization": "batch_normalization", "ReLU": "re_lu",
                     "GlobalAveragePooling2D": "global_average_pooling2d", "InputLayer": "input_layer",
                     "MaxPooling2D": "max_pooling2d", "ZeroPadding2D": "zero_padding2d", "Sequential": "sequential",
                     "Functional": "functional", "Dense": "dense", "PReLU": "p_re_lu"]
        for (cls, snake) in cases { XCTAssertEqual(KerasWeightLayout.snakeCase(cls), snake, cls) }
    }

    /// Keras' class-derived group names (used for files without `vars` name attributes, and
    /// for exports) equal the groups the fixtures' name attributes point at.
    func testDerivedKeras3GroupsMatchTheNamedOnes() throws {
        for name in KerasFixtures.models + ["../digits/teacher-cnn", "../digits/student-mlp"] {
            let url = KerasFixtures.url("keras/\(name).keras")
            let contents = try KerasArchive.read(url, needWeights: true)
            let config = try KerasModelConfig.parse(try KerasJSON.parse(contents.config, file: name, what: "config"), file: name)
            let built = try KerasGraphBuilder.build(config, file: name)
            let h5 = try HDF5File(image: contents.weights!, name: name)
            let named = try KerasWeightReader.readKeras3(h5, model: config, weighted: built.weighted, graph: built.graph, file: name)
            let derived = KerasWeightLayout.derivedVarsGroups(config, weighted: built.weighted)
            XCTAssertEqual(named.map(\.path), derived.map(\.path), name)
            XCTAssertEqual(named.map(\.node), derived.map(\.node), name)
            XCTAssertTrue(derived.contains { $0.path.hasSuffix("re_lu") || $0.path.hasSuffix("conv2d") || $0.path.hasSuffix("dense") })
        }
    }

    func testJSONKeepsOrderNumbersAndPythonExtensions() throws {
        let text = #"{"b": 1e-05, "a": [0.0, NaN, -Infinity, true, null], "s": "caf\u00e9 \"q\" \\ \n"}"#
        let v = try KerasJSON.parse(text, file: "t", what: "w")
        XCTAssertEqual(v["b"], .number("1e-05"))
        XCTAssertEqual(v["a"]?.arrayValue?.count, 5)
        XCTAssertTrue(v["a"]!.arrayValue![1].doubleValue!.isNaN)
        XCTAssertEqual(v["s"]?.stringValue, "café \"q\" \\ \n")
        XCTAssertEqual(v.serialized, #"{"b": 1e-05, "a": [0.0, NaN, -Infinity, true, null], "s": "caf\u00e9 \"q\" \\ \n"}"#)
        XCTAssertEqual(try KerasJSON.parse(v.serialized, file: "t", what: "w"), v)
        for bad in ["{", "[1,]", "{\"a\" 1}", "\"open", "01x", String(repeating: "[", count: 1000)] {
            XCTAssertThrowsError(try KerasJSON.parse(bad, file: "t", what: "w"), bad)
        }
    }

    /// Keras' Reshape on channels-last data: Permute to (h, w, c), Reshape, Permute back, checked
    /// against the NHWC element order.
    func testChannelsLastReshape() throws {
        let config = KerasFixtures.functionalConfig(input: [3, 2, 4], layers: [
            ("Reshape", "r", "\"target_shape\": [3, 4, -1]", ["in"]),
            ("Flatten", "f", "", ["r"])], output: "f")
        let url = dir.appendingPathComponent("reshape-only.h5")
        try KerasFixtures.writeH5(url, config: config, groups: [("in", []), ("r", []), ("f", [])])
        let m = try KerasImport.load(url)
        XCTAssertEqual(m.graph.nodes.map(\.name), ["r/nhwc", "r", "r/nchw", "f/nhwc", "f"])
        XCTAssertEqual(m.graph.nodes.map(\.layer.kind), ["Permute", "Reshape", "Permute", "Permute", "Flatten"])
        // Keras' numbers: the output is the NHWC input's row-major elements, unchanged.
        let nhwc = NumpyArray(float32s: (0..<24).map(Float.init), shape: [1, 3, 2, 4])
        XCTAssertEqual(m.graph.predict(try KerasFixtures.engineInput(nhwc)).data, (0..<24).map(Float.init))
        XCTAssertTrue(m.conversions.contains { $0.contains("Reshape to (h, w, c)") && $0.contains(": r") }, "\(m.conversions)")
        XCTAssertTrue(m.conversions.contains { $0.contains("Permute [1, 2, 0]") && $0.contains(": f") }, "\(m.conversions)")
    }

    /// A Keras Reshape to (h, w, c) in a model: our numbers equal a direct NHWC computation.
    func testReshapeToImageInsideAModel() throws {
        let config = KerasFixtures.functionalConfig(input: [2, 2, 3], layers: [
            ("Reshape", "r", "\"target_shape\": [3, 2, 2]", ["in"]),
            ("Conv2D", "c", "\"filters\": 1, \"kernel_size\": [1, 1], \"use_bias\": false", ["r"]),
            ("Flatten", "f", "", ["c"])], output: "f")
        let url = dir.appendingPathComponent("reshape.h5")
        try KerasFixtures.writeH5(url, config: config, groups: [("in", []), ("r", []), ("c", [("c/kernel", [1, 1, 2, 1], [1, 10])]), ("f", [])])
        let m = try KerasImport.load(url)
        let spec = try XCTUnwrap(m.spec, "Permute and Reshape have spec types")
        // NHWC input 0..11: Keras reshapes the flat (row-major NHWC) vector to (3, 2, 2), then the
        // 1x1 conv gives v[2k] + 10·v[2k+1] per position k.
        let nhwc = NumpyArray(float32s: (0..<12).map(Float.init), shape: [1, 2, 2, 3])
        let out = m.graph.predict(try KerasFixtures.engineInput(nhwc))
        XCTAssertEqual(out.data, (0..<6).map { Float(2 * $0) + 10 * Float(2 * $0 + 1) })
        // The spec rebuilds the same graph (the conv's weights copied over).
        let rebuilt = try GraphBuilder.build(spec, origin: "spec")
        for (a, b) in zip(m.graph.nodes, rebuilt.nodes) {
            XCTAssertEqual(a.layer.kind, b.layer.kind)
            for (p, q) in zip(a.layer.parameters, b.layer.parameters) { q.value = p.value }
        }
        XCTAssertEqual(rebuilt.predict(try KerasFixtures.engineInput(nhwc)).data, out.data)
    }
}

import Foundation
import XCTest
@testable import DataSets
@testable import Keras
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
import NN
import Tensor
import TestSupport

/// `ModelWriter` and `ArchitectureSpec.fromGraph`: state-dict round trips that change no bit,
/// Keras models written as state dict + spec that keep Keras' numbers, refusals that write
/// nothing, and (optional, needs torch) PyTorch's `load_state_dict(strict=True)` on our exports.
final class ConvertTests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("convert") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func files() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted() }

    func assertSameEntries(_ a: [(key: String, array: NumpyArray)], _ b: [(key: String, array: NumpyArray)],
                           file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.map(\.key), b.map(\.key), "keys in order", file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x.array, y.array, "\(x.key) bit for bit", file: file, line: line) }
    }

    /// The round trip: `.npz` state dict → `.h5` state dict → `.npz`, bit for bit —
    /// through the model (strict load into the preset) and as a pure format change.
    func testNpzToH5ToNpzIsBitwiseEqual() throws {
        let source = URL(fileURLWithPath: fixture("torch/cifar-resnet8.npz"))
        let original = try Npz.read(source)
        let h5 = dir.appendingPathComponent("r8.h5"), back = dir.appendingPathComponent("r8.npz")

        let model = try ModelLoader.load(source.path, arch: "heo2019-resnet8")
        let report = try ModelWriter.write(model, to: h5)
        XCTAssertEqual(report.files.map(\.path), [h5.relativePath], "a preset needs no spec file")
        let reloaded = try ModelLoader.load(h5.path, arch: "heo2019-resnet8")
        try ModelWriter.write(reloaded, to: back)
        assertSameEntries(try Npz.read(back), original)
        XCTAssertEqual(files(), ["r8.h5", "r8.npz"])

        // Without an architecture: the arrays themselves, and our npz writer is deterministic.
        let h5b = dir.appendingPathComponent("v.h5"), backB = dir.appendingPathComponent("v.npz")
        try StateDict.read(from: source).write(to: h5b)
        try StateDict.read(from: h5b).write(to: backB)
        assertSameEntries(try Npz.read(backB), original)
        XCTAssertEqual(try Data(contentsOf: backB), try Data(contentsOf: back), "same arrays, same bytes")
    }

    /// `fromGraph` is a fixed point: spec → graph → spec gives the same spec, and the rebuilt
    /// graph computes the same logits.
    func testSpecFromGraphRebuildsTheSameModel() throws {
        for (arch, state) in [("heo2019-resnet8", "torch/cifar-resnet8.npz"), (fixture("torch/small-cnn.json"), "torch/small-cnn.npz")] {
            let model = try ModelLoader.load(fixture(state), arch: arch)
            let derived = try ArchitectureSpec.fromGraph(model.graph, name: "derived")
            let rebuilt = try GraphBuilder.build(derived, origin: "derived")
            XCTAssertEqual(try ArchitectureSpec.fromGraph(rebuilt, name: "derived"), derived, arch)
            XCTAssertEqual(rebuilt.nodes.map(\.name), model.graph.nodes.map(\.name))
            XCTAssertEqual(rebuilt.nodes.map(\.outputShape), model.graph.nodes.map(\.outputShape))
            XCTAssertEqual(rebuilt.namedParameters().map(\.key), model.graph.namedParameters().map(\.key))
            // Same weights, same numbers.
            for (p, q) in zip(rebuilt.namedParameters(), model.graph.namedParameters()) { p.parameter.value = q.parameter.value }
            for (l, m) in zip(rebuilt.nodes, model.graph.nodes) {
                if let a = l.layer as? BatchNorm, let b = m.layer as? BatchNorm { a.numBatchesTracked = b.numBatchesTracked }
            }
            let x = Tensor(shape: [2] + model.graph.inputShape, data: (0..<(2 * model.graph.inputShape.reduce(1, *))).map { Float(($0 * 37) % 101) / 50 - 1 })
            XCTAssertEqual(rebuilt.forward(x, mode: .inference), model.graph.forward(x, mode: .inference), arch)
        }
    }

    /// Key overrides and a node called `input` survive the trip through a derived spec.
    func testDerivedSpecKeepsStateDictKeys() throws {
        let graph = Graph(inputShape: [4])
        try graph.add("input", Linear(inFeatures: 4, outFeatures: 3))
        try graph.add("act", ReLU())
        try graph.add("head", Linear(inFeatures: 3, outFeatures: 2))
        let spec = try ArchitectureSpec.fromGraph(graph, name: "t", inputLayout: .nhwc,
                                                  keyOverrides: ["head.weight": "classifier.weight"])
        XCTAssertEqual(spec.layers.map(\.name), ["input_", "act", "head"])
        XCTAssertEqual(spec.layers[0].keys, ["weight": "input.weight", "bias": "input.bias"])
        XCTAssertEqual(spec.layers[2].keys, ["weight": "classifier.weight"])
        XCTAssertEqual(spec.inputLayout, "nhwc")
        let model = Model(graph: try GraphBuilder.build(spec, origin: "t"), format: .architectureOnly,
                          architectureName: "t", spec: spec)
        XCTAssertEqual(model.stateDictParameters().map(\.key), ["input.weight", "input.bias", "classifier.weight", "head.bias"])

        let odd = Graph(inputShape: [2])
        try odd.add("r", Reshape(shape: [2, 1]))
        XCTAssertThrowsError(try ArchitectureSpec.fromGraph(odd, name: "odd")) { e in
            XCTAssertTrue("\(e)".contains("output has shape [2, 1]"), "\(e)")
        }
    }

    /// A model with no spec (as a Keras import may be) gets a derived spec next to its state
    /// dict; the pair loads back with `--arch` and computes the same logits.
    func testModelWithoutSpecIsWrittenWithDerivedSpec() throws {
        let source = try ModelLoader.load(fixture("torch/small-cnn.npz"), arch: fixture("torch/small-cnn.json"))
        let model = Model(graph: source.graph, format: .architectureOnly, architectureName: "no-spec", inputLayout: .nhwc)
        let out = dir.appendingPathComponent("m.npz")
        let report = try ModelWriter.write(model, to: out)
        XCTAssertEqual(report.files.map(\.path), [out.relativePath, dir.appendingPathComponent("m.json").relativePath])
        let spec = try ArchitectureSpec.load(dir.appendingPathComponent("m.json"))
        XCTAssertEqual(spec.inputLayout, "nhwc")
        let back = try ModelLoader.load(out.path, arch: dir.appendingPathComponent("m.json").path)
        XCTAssertEqual(back.inputLayout, .nhwc)
        let x = Tensor(shape: [3, 3, 12, 12], data: (0..<(3 * 432)).map { Float(($0 * 13) % 29) / 14 - 1 })
        XCTAssertEqual(back.graph.forward(x, mode: .inference), source.graph.forward(x, mode: .inference))
        // --spec-out elsewhere, for a model that has a spec.
        let custom = dir.appendingPathComponent("custom-arch.json")
        try ModelWriter.write(source, to: dir.appendingPathComponent("s.h5"), specURL: custom)
        XCTAssertEqual(try ArchitectureSpec.load(custom), source.spec)
    }

    /// A Keras model → `.npz` + spec → back: our engine gives Keras' logits from the pair.
    func testKerasModelToStateDictAndSpecKeepsKerasNumbers() throws {
        for name in ["conv-flatten", "functional-cnn", "sequential-mlp"] {
            let keras = try KerasImport.load(URL(fileURLWithPath: fixture("keras/\(name).h5")))
            let out = dir.appendingPathComponent("\(name).npz")
            let report = try ModelWriter.write(keras, to: out)
            XCTAssertEqual(report.files.count, 2, "state dict + spec")
            XCTAssertTrue(report.conversions.joined().contains("NHWC"), "\(report.conversions)")
            let back = try ModelLoader.load(out.path, arch: dir.appendingPathComponent("\(name).json").path)
            XCTAssertEqual(back.inputLayout, .nhwc)
            let ref = try Npz.readDictionary(URL(fileURLWithPath: fixture("keras/\(name)-reference.npz")))
            let x = DataSet.convert(try ref["x"]!.tensor, from: .nhwc, to: .nchw)
            let logits = back.graph.forward(x, mode: .inference)
            assertAllClose(logits.data, try ref["logits"]!.floats(), atol: 1e-5, rtol: 0, "\(name) logits from npz + spec")
            // And the same through a spec derived from the graph alone.
            keras.spec = nil
            let derived = dir.appendingPathComponent("\(name)-derived.h5")
            try ModelWriter.write(keras, to: derived, as: .stateDict)
            let again = try ModelLoader.load(derived.path, arch: dir.appendingPathComponent("\(name)-derived.json").path)
            assertAllClose(again.graph.forward(x, mode: .inference).data, try ref["logits"]!.floats(), atol: 1e-5, rtol: 0,
                           "\(name) logits from h5 + derived spec")
        }
    }

    /// Where the target format cannot hold the model: a one-line reason and no file at all.
    func testRefusalsWriteNothing() throws {
        let model = try ModelLoader.load(fixture("torch/cifar-resnet8.npz"), arch: "heo2019-resnet8")
        let cases: [(URL, ModelWriter.Target?, String)] = [
            (dir.appendingPathComponent("m.keras"), nil, "layer 'layer2.0.shortcut': cannot be written as a Keras file"),
            (dir.appendingPathComponent("m.h5"), .keras, "option-A shortcut"),
            (dir.appendingPathComponent("m.npz"), .keras, "holds a state dict"),
            (dir.appendingPathComponent("m.tflite"), nil, "cannot write '.tflite'"),  // .onnx is registered by Sources/ONNX when linked
            (URL(fileURLWithPath: fixture("torch/cifar-resnet8.npz")).appendingPathComponent("m.npz"), nil, "is a file, not a directory"),
        ]
        for (url, target, message) in cases {
            XCTAssertThrowsError(try ModelWriter.write(model, to: url, as: target)) { e in
                XCTAssertTrue("\(e)".contains(message), "\(e)")
                XCTAssertFalse("\(e)".contains("\n"))
            }
            XCTAssertEqual(files(), [], "nothing written for \(url.lastPathComponent)")
        }
        // A layer with no spec type: the state dict is not written either.
        let graph = Graph(inputShape: [2, 2, 1])
        try graph.add("reshape", NoSpecLayer())
        try graph.add("fc", Linear(inFeatures: 4, outFeatures: 2))
        let odd = Model(graph: graph, format: .kerasH5, architectureName: "odd", inputLayout: .nhwc)
        XCTAssertThrowsError(try ModelWriter.write(odd, to: dir.appendingPathComponent("odd.npz"))) { e in
            XCTAssertTrue("\(e)".contains("layer 'reshape'"), "\(e)")
            XCTAssertTrue("\(e)".contains("no architecture-spec type"), "\(e)")
        }
        XCTAssertEqual(files(), [])
    }

    /// Spec models → Keras files through a generated config: the Keras importer reads them back
    /// with the same numbers (PyTorch's), the Flatten→Dense rows permuted for Keras' order.
    func testSpecModelsExportToKerasWithGeneratedConfig() throws {
        let cases = [("small-cnn", fixture("torch/small-cnn.json")), ("mlp-64-48-10", "mlp:64-48-10")]
        for (name, arch) in cases {
            let model = try ModelLoader.load(fixture("torch/\(name).npz"), arch: arch)
            let io = try Npz.readDictionary(URL(fileURLWithPath: fixture("torch/\(name)-io.npz")))
            for ext in ["keras", "h5"] {
                let out = dir.appendingPathComponent("\(name).\(ext)")
                let report = try ModelWriter.write(model, to: out, as: .keras)
                XCTAssertTrue(report.files[0].what.contains("generated"), report.files[0].what)
                let keras = try KerasImport.load(out)
                XCTAssertEqual(keras.inputLayout, .nhwc)
                let logits = keras.graph.forward(try io["x"]!.tensor, mode: .inference)
                assertAllClose(logits.data, try io["logits_eval"]!.floats(), atol: 1e-5, rtol: 0, "\(name).\(ext) read back")
            }
        }
    }

    func testGeneratedKerasConfigRefusesWhatKerasCannotExpress() throws {
        // PyTorch-order flattened features feeding a BatchNorm: no Keras layer absorbs the order.
        let graph = Graph(inputShape: [2, 2, 2])
        try graph.add("flat", Flatten())
        try graph.add("bn", BatchNorm(channels: 8))
        try graph.add("fc", Linear(inFeatures: 8, outFeatures: 3))
        let model = Model(graph: graph, format: .architectureOnly, architectureName: "odd")
        XCTAssertThrowsError(try ModelWriter.write(model, to: dir.appendingPathComponent("odd.keras"))) { e in
            XCTAssertTrue("\(e)".contains("layer 'flat'"), "\(e)")
            XCTAssertTrue("\(e)".contains("feed 'bn'"), "\(e)")
        }
        let pool = Graph(inputShape: [1, 4, 4])
        try pool.add("pool", MaxPool2D(kernel: (2, 2), padding: Padding2D(symmetric: 1, 1)))
        try pool.add("gap", GlobalAvgPool())
        let padded = Model(graph: pool, format: .architectureOnly, architectureName: "pool")
        XCTAssertThrowsError(try ModelWriter.write(padded, to: dir.appendingPathComponent("pool.keras"))) { e in
            XCTAssertTrue("\(e)".contains("padded max pooling"), "\(e)")
        }
        XCTAssertEqual(files(), [])
    }

    /// Keras itself loads the generated files and predicts PyTorch's logits (optional: keras).
    func testKerasLoadsGeneratedFiles() throws {
        let model = try ModelLoader.load(fixture("torch/small-cnn.npz"), arch: fixture("torch/small-cnn.json"))
        try ModelWriter.write(model, to: dir.appendingPathComponent("sc.keras"))
        try ModelWriter.write(model, to: dir.appendingPathComponent("sc.h5"), as: .keras)
        let script = """
        import sys, numpy as np, keras
        io = np.load(sys.argv[2])
        x = io["x"].transpose(0, 2, 3, 1)
        for name in ["sc.keras", "sc.h5"]:
            y = keras.models.load_model(sys.argv[1] + "/" + name).predict(x, verbose=0)
            assert np.abs(y - io["logits_eval"]).max() < 1e-5, (name, np.abs(y - io["logits_eval"]).max())
        print("ok")
        """
        let out = try runPythonScript(script, [dir.path, fixture("torch/small-cnn-io.npz")], needs: "keras",
                                environment: ["KERAS_BACKEND": "jax"])
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last, "ok")
    }

    /// PyTorch's strict loading accepts our exports for the matching nn.Module (optional: torch).
    func testPyTorchStrictLoadAcceptsExports() throws {
        let small = try ModelLoader.load(fixture("torch/small-cnn.npz"), arch: fixture("torch/small-cnn.json"))
        try ModelWriter.write(small, to: dir.appendingPathComponent("small.npz"))
        try ModelWriter.write(small, to: dir.appendingPathComponent("small.h5"))
        let fresh = try ModelLoader.fresh(arch: "heo2019-resnet20")
        var generator = SeededGenerator(seed: 3)
        initialiseLikePyTorch(fresh.graph, generator: &generator)
        try ModelWriter.write(fresh, to: dir.appendingPathComponent("r20.npz"))
        let mlp = try ModelLoader.fresh(arch: "mlp:64-48-10")
        try ModelWriter.write(mlp, to: dir.appendingPathComponent("mlp.h5"))
        let script = """
        import sys, h5py, numpy as np, torch
        from torch_models import SmallCNN, cifar_resnet, mlp
        def load(path):
            if path.endswith(".npz"):
                return {k: torch.from_numpy(v) for k, v in np.load(path).items()}
            with h5py.File(path) as f:
                return {k: torch.from_numpy(np.asarray(f[k][()])) for k in f.attrs["keys"]}
        d = sys.argv[1]
        for module, name in [(SmallCNN(), "small.npz"), (SmallCNN(), "small.h5"), (cifar_resnet(20), "r20.npz"), (mlp([64, 48, 10]), "mlp.h5")]:
            sd = load(d + "/" + name)
            module.load_state_dict(sd, strict=True)
            assert all(sd[k].dtype == v.dtype for k, v in module.state_dict().items()), name
        print("ok")
        """
        let out = try runPythonScript(script, [dir.path], needs: "torch, h5py")
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "ok")
    }
}

/// A layer no spec type describes (flattens without a spec form), for the writers' refusals.
private final class NoSpecLayer: Layer {
    var kind: String { "NoSpec" }
    func outputShape(for inputShapes: [[Int]]) throws -> [Int] { [inputShapes[0].reduce(1, *)] }
    func forward(_ inputs: [Tensor], mode: Mode) -> Tensor { inputs[0].reshaped([inputs[0].batch, inputs[0].sampleCount]) }
    func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        [gradOutput.reshaped(record.inputShapes[0])]
    }
}

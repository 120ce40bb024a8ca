import Foundation
import XCTest
import ModelIO
import NN
import Tensor
import TestSupport

/// `bss convert` and the data-set options end to end: what is written and printed, and for
/// every bad input one `bss: error:` line, a non-zero exit and no file left behind.
final class ConvertCommandTests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("convert-cli") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    func files() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted() }
    func data(_ name: String) -> String { fixture("data-formats/" + name) }

    func testNpzToH5ToNpzThroughTheCLI() throws {
        let source = fixture("torch/cifar-resnet8.npz")
        var r = try runBSS(["convert", source, path("r8.h5"), "--arch", "heo2019-resnet8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("wrote \(path("r8.h5")): PyTorch state dict (HDF5): 44 arrays"), r.stderr)
        r = try runBSS(["convert", path("r8.h5"), path("r8.npz"), "--arch", "heo2019-resnet8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let a = try Npz.read(URL(fileURLWithPath: source)), b = try Npz.read(URL(fileURLWithPath: path("r8.npz")))
        XCTAssertEqual(a.map(\.key), b.map(\.key))
        for (x, y) in zip(a, b) { XCTAssertEqual(x.array, y.array, x.key) }
        // Without --arch: a verbatim copy, said so.
        r = try runBSS(["convert", path("r8.npz"), path("copy.h5")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("bit for bit"), r.stderr)
        XCTAssertEqual(files(), ["copy.h5", "r8.h5", "r8.npz"])
        let i = try runBSS(["inspect", path("copy.h5"), "--arch", "heo2019-resnet8"])
        XCTAssertEqual(i.status, 0, i.stderr)
        XCTAssertTrue(i.stdout.contains("PyTorch state dict (.h5)"), i.stdout)
    }

    func testKerasModelToStateDictWritesSpecToo() throws {
        let r = try runBSS(["convert", fixture("keras/conv-flatten.h5"), path("cf.npz")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("wrote \(path("cf.json")): architecture spec"), r.stderr)
        XCTAssertTrue(r.stderr.contains("conversions:\n  - on import"), r.stderr)
        XCTAssertEqual(files(), ["cf.json", "cf.npz"])
        // The pair predicts Keras' logits on Keras' NHWC data.
        let ref = try Npz.readDictionary(URL(fileURLWithPath: fixture("keras/conv-flatten-reference.npz")))
        try Npz.write([("x", ref["x"]!)], to: URL(fileURLWithPath: path("x.npz")))
        let p = try runBSS(["predict", path("cf.npz"), "--arch", path("cf.json"), "--data", path("x.npz"), "--out", path("logits.npz")])
        XCTAssertEqual(p.status, 0, p.stderr)
        let logits = try Npz.readDictionary(URL(fileURLWithPath: path("logits.npz")))["logits"]!
        assertAllClose(try logits.floats(), try ref["logits"]!.floats(), atol: 1e-5, rtol: 0, "conv-flatten logits")
    }

    func testConversionErrorsAreOneLineAndWriteNothing() throws {
        let r8 = fixture("torch/cifar-resnet8.npz")
        let cases: [([String], [String])] = [
            (["convert", r8, path("out.keras"), "--arch", "heo2019-resnet8"], ["out.keras", "layer2.0.shortcut", "no Keras layer"]),
            (["convert", r8, path("out.h5"), "--arch", "heo2019-resnet8", "--to", "keras"], ["option-A shortcut"]),
            (["convert", r8, path("out.npz"), "--arch", "heo2019-resnet14"], ["missing keys"]),
            (["convert", r8, path("out.tflite"), "--arch", "heo2019-resnet8"], ["cannot write '.tflite'", ".onnx"]),
            (["convert", path("missing.npz"), path("out.npz")], ["missing.npz", "no such file"]),
            (["convert", r8, r8], ["the output is the input"]),
            (["convert", fixture("hdf5/truncated.h5"), path("out.npz")], ["truncated or corrupt"]),
            (["convert", fixture("keras/functional-cnn.weights.h5"), path("out.npz"), "--arch", "heo2019-resnet8"], ["Keras weights"]),
            (["convert", r8, path("out.h5"), "--to", "onnx"], ["--to", "state-dict", "keras"]),
        ]
        for (args, mentions) in cases {
            let r = try runBSS(args)
            assertCleanFailure(r, mentions: mentions)
            XCTAssertEqual(files(), [], "nothing written for \(args)")
        }
    }

    /// A model for the data fixtures: [3, 4, 4] inputs, 10 classes, zero weights + a bias.
    func tinyModel() throws -> (weights: String, spec: String) {
        let spec = """
        {"format": "bss-architecture", "input_shape": [3, 4, 4], "classes": 10,
         "layers": [{"name": "flat", "type": "flatten"}, {"name": "fc", "type": "linear", "in_features": 48, "out_features": 10}]}
        """
        try spec.write(toFile: path("tiny.json"), atomically: true, encoding: .utf8)
        let model = try ModelLoader.fresh(arch: path("tiny.json"))
        try ModelWriter.write(model, to: URL(fileURLWithPath: path("tiny.npz")))
        return (path("tiny.npz"), path("tiny.json"))
    }

    func testDataFormatsThroughEval() throws {
        let m = try tinyModel()
        var r = try runBSS(["eval", m.weights, "--arch", m.spec, "--data", data("xy.h5"), "--normalize", "cifar10", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"samples\" : 4"), r.stdout)
        // CIFAR and MNIST through a flat model (images flattened to its input).
        try ModelWriter.write(try ModelLoader.fresh(arch: "mlp:3072-10"), to: URL(fileURLWithPath: path("c.npz")))
        r = try runBSS(["eval", path("c.npz"), "--arch", "mlp:3072-10", "--data", data("cifar"), "--scale", "1/255"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("(5 samples)"), r.stdout)
        try ModelWriter.write(try ModelLoader.fresh(arch: "mlp:784-10"), to: URL(fileURLWithPath: path("m.npz")))
        r = try runBSS(["eval", path("m.npz"), "--arch", "mlp:784-10", "--data", data("mnist/train-images-idx3-ubyte.gz"), "--normalize", "mnist"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("(5 samples)"), r.stdout)
    }

    /// Every malformed data file: one error line naming it, non-zero exit, no --out file.
    func testMalformedDataFailsCleanly() throws {
        let m = try tinyModel()
        let before = files()
        let cases: [(String, [String])] = [
            ("bad-xy-length.h5", ["bad-xy-length.h5", "3 labels for 4 samples"]),
            ("bad-xy-length.npz", ["5 labels for 4 samples"]),
            ("bad-labels-range.npz", ["label 10 at row 2"]),
            ("bad-empty.npz", ["empty"]),
            ("bad-rank.npz", ["at least 2 axes"]),
            ("bad-no-x.h5", ["no dataset 'x'"]),
            ("cifar-bad/truncated_batch.bin", ["truncated CIFAR batch"]),
            ("cifar-bad/bad_label_batch.bin", ["label byte 12"]),
            ("idx-bad/badmagic-images-idx3-ubyte", ["bad IDX magic number"]),
            ("idx-bad/truncated-images-idx3-ubyte", ["truncated IDX file"]),
            ("idx-bad/count-images-idx3-ubyte", ["3 labels for the 4 images"]),
            ("idx-bad/corrupt-images-idx3-ubyte.gz", ["truncated gzip data"]),
        ]
        for (name, mentions) in cases {
            let r = try runBSS(["predict", m.weights, "--arch", m.spec, "--data", data(name), "--out", path("out.npz")])
            // predict needs no labels, but labels present are still checked against the model.
            assertCleanFailure(r, mentions: mentions)
            XCTAssertEqual(files(), before, "no output for \(name)")
        }
        let bad = try runBSS(["eval", m.weights, "--arch", m.spec, "--data", data("xy.h5"), "--normalize", "1,2:3"])
        assertCleanFailure(bad, mentions: ["--normalize", "2 means but 1 stds"])
        let scale = try runBSS(["eval", m.weights, "--arch", m.spec, "--data", data("xy.h5"), "--scale", "x"])
        assertCleanFailure(scale, mentions: ["--scale"])
    }

    func testHelpDocumentsFormatsAndNormalisation() throws {
        let r = try runBSS(["eval", "--help"])
        XCTAssertEqual(r.status, 0)
        for s in ["--normalize", "cifar10", "0.4914", "idx3-ubyte", "data_batch", "--scale"] {
            XCTAssertTrue(r.stdout.contains(s), "help should mention \(s)")
        }
        let c = try runBSS(["convert", "--help"])
        XCTAssertTrue(c.stdout.contains("--spec-out"), c.stdout)
    }
}

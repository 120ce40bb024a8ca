import Foundation
import XCTest
import ModelIO
import Tensor
import TestSupport

/// `bss` on Keras files: the digits teacher's accuracy, `inspect`'s account of the import,
/// predictions from archives and weights files, and one-line errors for bad files.
final class KerasCommandTests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("bss-keras-cli") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// Keras' `model.evaluate` on the bundled test split: 0.995556 (448/450).
    func testEvalDigitsTeacherMatchesKeras() throws {
        for ext in ["h5", "keras"] {
            let r = try runBSS(["eval", fixture("digits/teacher-cnn.\(ext)"), "--data", fixture("digits/digits-test.npz"), "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            let accuracy = try XCTUnwrap(obj?["accuracy"] as? Double, r.stdout)
            XCTAssertEqual(accuracy, 448.0 / 450.0, accuracy: 1e-12)
            XCTAssertEqual(String(format: "%.6f", accuracy), "0.995556")
        }
        let text = try runBSS(["eval", fixture("digits/teacher-cnn.h5"), "--data", fixture("digits/digits-test.npz")])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("448/450"), text.stdout)
    }

    func testInspectExplainsTheImport() throws {
        let r = try runBSS(["inspect", fixture("keras/functional-cnn.h5")])
        XCTAssertEqual(r.status, 0, r.stderr)
        for needle in ["Keras model (.h5)", "split off", "HWIO → OIHW", "down_conv t0 b1 l0 r1", "momentum 0.99 → 0.01", "NHWC",
                       "total parameters: 2117"] {
            XCTAssertTrue(r.stdout.contains(needle), "'\(needle)' missing:\n\(r.stdout)")
        }
        // Keras' flatten order: folded into the Dense it feeds, or a Permute, each named.
        let f = try runBSS(["inspect", fixture("keras/flatten-orders.keras")])
        XCTAssertEqual(f.status, 0, f.stderr)
        for needle in ["fold_flat → fold_dense", "rows permuted from Keras' (h, w, c) to (c, h, w)", "Permute [1, 2, 0]", "bn_flat/nhwc"] {
            XCTAssertTrue(f.stdout.contains(needle), "'\(needle)' missing:\n\(f.stdout)")
        }
        let j = try runBSS(["inspect", fixture("keras/nested.keras"), "--json"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(obj?["softmax_split_off"] as? Bool, false)
        XCTAssertEqual(obj?["input_layout"] as? String, "nhwc")
        let names = (obj?["layers"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        XCTAssertTrue(names.contains("block/block_conv"), "\(names)")
    }

    /// `predict` reads NHWC data for a Keras model by default and reproduces Keras' numbers,
    /// from an archive and from a `.weights.h5` with `--arch` naming the Keras model.
    func testPredictMatchesKeras() throws {
        let ref = try Npz.readDictionary(URL(fileURLWithPath: fixture("keras/functional-cnn-reference.npz")))
        let data = dir.appendingPathComponent("x.npz")
        try Npz.write([("x", ref["x"]!)], to: data)
        let runs: [[String]] = [[fixture("keras/functional-cnn.keras")],
                                [fixture("keras/functional-cnn.weights.h5"), "--arch", fixture("keras/functional-cnn.h5")]]
        for (i, model) in runs.enumerated() {
            let out = dir.appendingPathComponent("p\(i).npz")
            let r = try runBSS(["predict"] + model + ["--data", data.path, "--out", out.path, "--probabilities"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let got = try Npz.readDictionary(out)
            assertAllClose(try got["logits"]!.floats(), try ref["logits"]!.floats(), atol: 1e-5, rtol: 0, "logits \(model)")
            assertAllClose(try got["probabilities"]!.floats(), try ref["probabilities"]!.floats(), atol: 1e-5, rtol: 0, "probabilities")
        }
    }

    /// Each bad file: non-zero exit, one error line naming the file, and no output file.
    func testBadKerasFilesFailCleanly() throws {
        let data = dir.appendingPathComponent("x.npz")
        try Npz.write([("x", NumpyArray(float32s: [Float](repeating: 0, count: 2 * 12 * 12 * 3), shape: [2, 12, 12, 3]))], to: data)

        let lstm = dir.appendingPathComponent("lstm.h5")
        try writeH5(lstm, config: #"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "InputLayer", "config": {"name": "i", "batch_shape": [null, 12, 12, 3]}}, {"class_name": "LSTM", "config": {"name": "memory", "units": 4}}]}}"#,
                    groups: [("memory", [])])
        let source = try HDF5File(reading: URL(fileURLWithPath: fixture("keras/conv-flatten.h5")))
        var groups: [(String, [(String, [Int], [Float])])] = []
        for layer in try source.stringArrayAttribute("layer_names", at: "model_weights") {
            var weights: [(String, [Int], [Float])] = []
            for name in try source.stringArrayAttribute("weight_names", at: "model_weights/" + layer) {
                let (shape, values) = try source.readFloats("model_weights/\(layer)/\(name)")
                weights.append(name == "conv2d/kernel" ? (name, [3, 3, 3, 5], Array(values.prefix(135))) : (name, shape, values))
            }
            groups.append((layer, weights))
        }
        let badShape = dir.appendingPathComponent("badshape.h5")
        try writeH5(badShape, config: try source.stringAttribute("model_config"), groups: groups)
        let noConfig = dir.appendingPathComponent("noconfig.keras")
        try Npz.write([("model.weights", NumpyArray(float32s: [1], shape: [1]))], to: noConfig)

        let cases: [(String, [String])] = [
            (fixture("hdf5/not_hdf5.h5"), ["not_hdf5.h5", "not an HDF5 file"]),
            (fixture("hdf5/truncated.h5"), ["truncated.h5"]),
            (fixture("hdf5/datasets.h5"), ["datasets.h5", "model_config"]),
            (lstm.path, ["lstm.h5", "memory", "LSTM", "supported"]),
            (badShape.path, ["badshape.h5", "conv2d", "(3, 3, 3, 5)", "(3, 3, 3, 6)"]),
            (noConfig.path, ["noconfig.keras", "config.json"]),
        ]
        for (model, mentions) in cases {
            let out = dir.appendingPathComponent("out.npz")
            let r = try runBSS(["predict", model, "--data", data.path, "--out", out.path])
            assertCleanFailure(r, mentions: mentions)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "no output for \(model)")
        }
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "no temporary files left")
    }

    private func writeH5(_ url: URL, config: String, groups: [(String, [(String, [Int], [Float])])]) throws {
        let h5 = try HDF5File(creating: url)
        try h5.setAttribute("model_config", string: config, form: .variableASCII)
        try h5.createGroup("model_weights")
        try h5.setAttribute("layer_names", strings: groups.map(\.0), at: "model_weights", form: .variableASCII)
        for (layer, weights) in groups {
            try h5.createGroup("model_weights/" + layer)
            try h5.setAttribute("weight_names", strings: weights.map(\.0), at: "model_weights/" + layer, form: .variableASCII)
            for (name, shape, values) in weights { try h5.write(floats: values, shape: shape, to: "model_weights/\(layer)/\(name)") }
        }
        try h5.close()
    }
}

import Foundation
import XCTest
import ModelIO
import NN
import Tensor
import TestSupport

/// `bss similarity` end to end: the PyTorch reference pair, a model against itself and
/// against a copy with doubled logits, Keras against a PyTorch preset, BSS data sets from
/// `bss generate`, the JSON report, the SVG plot, and one-line errors.
final class SimilarityCommandTests: XCTestCase {
    var dir: URL!
    let spec = fixture("torch/similarity-model.json")
    var modelA: String { fixture("torch/similarity-a.npz") }
    var modelB: String { fixture("torch/similarity-b.npz") }

    override func setUpWithError() throws { dir = temporaryDirectory("bss-similarity") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// The reference's 16 base samples with their labels (`shift` relabels them).
    func referenceData(shift: Int64 = 0) throws -> String {
        let ref = try Npz.readDictionary(URL(fileURLWithPath: fixture("torch/similarity.npz")))
        let y = try ref["labels"]!.int64s().map { ($0 + shift) % 5 }
        let url = dir.appendingPathComponent("data-\(shift).npz")
        try Npz.write([("x", ref["x"]!), ("y", NumpyArray(int64s: y, shape: [y.count]))], to: url)
        return url.path
    }

    func json(_ r: CLIResult, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout, file: file, line: line)
    }

    func testReferencePairMatchesPyTorch() throws {
        let data = try referenceData()
        let plot = dir.appendingPathComponent("similarity.svg")
        let r = try runBSS(["similarity", modelA, modelB, "--a-arch", spec, "--b-arch", spec, "--data", data,
                            "--json", "--plot", plot.path, "--batch-size", "20"])
        let o = try json(r)
        XCTAssertEqual(o["pairs_compared"] as? Int, 19)
        XCTAssertEqual(o["pairs_attempted"] as? Int, 64)
        XCTAssertEqual(o["accepted_a"] as? Int, 28)
        XCTAssertEqual(o["accepted_b"] as? Int, 28)
        XCTAssertEqual(o["magsim"] as! Double, 0.646974, accuracy: 1e-3)
        XCTAssertEqual(o["angsim"] as! Double, 0.403065, accuracy: 1e-3)
        XCTAssertEqual(o["format"] as? String, "bss-similarity-report")
        XCTAssertEqual((o["per_class"] as? [[String: Any]])?.map { $0["pairs_attempted"] as! Int }.reduce(0, +), 64)
        XCTAssertEqual((o["algorithm"] as? [String: Any])?["mode"] as? String, "paper")
        XCTAssertTrue(r.stderr.contains("similarity"), "progress on stderr: \(r.stderr)")
        let svg = try String(contentsOf: plot, encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, 19)
    }

    func testModelAgainstItselfScoresOneAndOne() throws {
        let r = try runBSS(["similarity", modelB, modelB, "--a-arch", spec, "--b-arch", spec, "--data", try referenceData()])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("MagSim:          1.000000"), r.stdout)
        XCTAssertTrue(r.stdout.contains("AngSim:          1.000000"), r.stdout)
        XCTAssertTrue(r.stdout.contains("per base class:"), r.stdout)
        // Every search flag of `bss generate` applies, e.g. the authors' code with a custom clip.
        let o = try json(try runBSS(["similarity", modelB, modelB, "--a-arch", spec, "--b-arch", spec, "--data", try referenceData(),
                                     "--bss-mode", "official", "--bss-clip", "-3,3", "--bss-max-steps", "12", "--json"]))
        let algorithm = try XCTUnwrap(o["algorithm"] as? [String: Any])
        XCTAssertEqual(algorithm["mode"] as? String, "official")
        XCTAssertEqual(algorithm["clip"] as? [Double], [-3, 3])
        XCTAssertEqual(algorithm["max_steps"] as? Int, 12)
        XCTAssertEqual(o["magsim"] as! Double, 1, accuracy: 1e-12)
        XCTAssertEqual(o["angsim"] as! Double, 1, accuracy: 1e-12)
    }

    /// A copy whose logits are all doubled (fc2 weight and bias × 2) has the same boundaries.
    func testDoubledLogitsGiveOneAndOne() throws {
        let sd = try Npz.read(URL(fileURLWithPath: modelA))
        let doubled = try sd.map { key, array -> (key: String, array: NumpyArray) in
            guard key.hasPrefix("fc2.") else { return (key, array) }
            return (key, NumpyArray(float32s: try array.floats().map { $0 * 2 }, shape: array.shape))
        }
        let copy = dir.appendingPathComponent("doubled.npz")
        try Npz.write(doubled, to: copy)
        let o = try json(try runBSS(["similarity", modelA, copy.path, "--a-arch", spec, "--b-arch", spec,
                                     "--data", try referenceData(), "--json"]))
        XCTAssertGreaterThan(o["pairs_compared"] as! Int, 10)
        XCTAssertEqual(o["magsim"] as! Double, 1, accuracy: 1e-3)
        XCTAssertEqual(o["angsim"] as! Double, 1, accuracy: 1e-3)
    }

    /// Seeded target sampling: the same seed gives the same report, per-sample counts add up.
    func testSampledTargetsAreReproducible() throws {
        let data = try referenceData()
        let args = ["similarity", modelA, modelB, "--a-arch", spec, "--b-arch", spec, "--data", data,
                    "--targets", "sampled", "--per-sample", "2", "--limit", "10", "--json"]
        var first = try json(try runBSS(args + ["--seed", "3"]))
        var second = try json(try runBSS(args + ["--seed", "3"]))
        XCTAssertEqual(first["pairs_attempted"] as? Int, 20)
        first["seconds"] = 0
        second["seconds"] = 0
        XCTAssertEqual(NSDictionary(dictionary: first), NSDictionary(dictionary: second))
        let runnerUp = try json(try runBSS(["similarity", modelA, modelB, "--a-arch", spec, "--b-arch", spec, "--data", data,
                                            "--targets", "runner-up", "--json"]))
        XCTAssertEqual(runnerUp["pairs_attempted"] as? Int, 16)
    }

    /// The Keras digits teacher (NHWC, [1, 8, 8]) against the `mlp:64-48-10` preset ([64])
    /// on the same digits file, straight from their files.
    func testKerasAgainstPyTorchPreset() throws {
        let keras = fixture("digits/teacher-cnn.h5")
        let o = try json(try runBSS(["similarity", keras, fixture("similarity/digits-mlp.npz"), "--b-arch", "mlp:64-48-10",
                                     "--data", fixture("digits/digits-test.npz"), "--limit", "40", "--json"]))
        let a = try XCTUnwrap(o["a"] as? [String: Any]), b = try XCTUnwrap(o["b"] as? [String: Any])
        XCTAssertEqual(a["input_layout"] as? String, "nhwc")
        XCTAssertEqual(b["input_shape"] as? [Int], [64])
        XCTAssertEqual(o["pairs_attempted"] as? Int, 360)
        let compared = o["pairs_compared"] as! Int
        XCTAssertGreaterThan(compared, 50)
        let magsim = o["magsim"] as! Double, angsim = o["angsim"] as! Double
        XCTAssertTrue(magsim > 0.3 && magsim < 1, "\(magsim)")
        XCTAssertTrue(angsim > 0 && angsim < 1, "\(angsim)")
        // The teacher against itself, once as Keras .h5 and once as .keras: 1 and 1.
        let same = try json(try runBSS(["similarity", keras, fixture("digits/teacher-cnn.keras"),
                                        "--data", fixture("digits/digits-test.npz"), "--limit", "10", "--json"]))
        XCTAssertEqual(same["magsim"] as! Double, 1, accuracy: 1e-4)
        XCTAssertEqual(same["angsim"] as! Double, 1, accuracy: 1e-4)
    }

    /// Two data sets from `bss generate` give what searching the models gives.
    func testBSSDatasetsFromGenerate() throws {
        let data = try referenceData()
        let fa = dir.appendingPathComponent("a.npz").path, fb = dir.appendingPathComponent("b.h5").path
        for (model, out) in [(modelA, fa), (modelB, fb)] {
            let g = try runBSS(["generate", "--teacher", model, "--teacher-arch", spec, "--data", data, "--out", out, "--targets", "all"])
            XCTAssertEqual(g.status, 0, g.stderr)
        }
        let o = try json(try runBSS(["similarity", "--a-bss", fa, "--b-bss", fb, "--json"]))
        XCTAssertEqual(o["source"] as? String, "bss-datasets")
        XCTAssertEqual(o["pairs_compared"] as? Int, 19)
        XCTAssertEqual(o["magsim"] as! Double, 0.646974, accuracy: 1e-3)
        XCTAssertEqual(o["angsim"] as! Double, 0.403065, accuracy: 1e-3)
        XCTAssertTrue(o["selection"] is NSNull)
        // Built from different base samples: a clear error.
        let short = dir.appendingPathComponent("short.npz").path
        XCTAssertEqual(try runBSS(["generate", "--teacher", modelB, "--teacher-arch", spec, "--data", data, "--out", short,
                                   "--targets", "all", "--limit", "8"]).status, 0)
        assertCleanFailure(try runBSS(["similarity", "--a-bss", fa, "--b-bss", short]), mentions: ["short.npz", "not built from the same"])
    }

    func testBadInputsGiveOneLineErrors() throws {
        let data = try referenceData()
        // Different class counts.
        assertCleanFailure(try runBSS(["similarity", modelA, fixture("similarity/digits-mlp.npz"), "--a-arch", spec,
                                       "--b-arch", "mlp:64-48-10", "--data", data]), mentions: ["5 classes", "10", "same classes"])
        // Same classes, different inputs.
        let small = dir.appendingPathComponent("mlp.npz")
        try Npz.write([("fc1.weight", NumpyArray(float32s: [Float](repeating: 0.1, count: 8 * 64), shape: [8, 64])),
                       ("fc1.bias", NumpyArray(float32s: [Float](repeating: 0, count: 8), shape: [8])),
                       ("fc2.weight", NumpyArray(float32s: [Float](repeating: 0.1, count: 5 * 8), shape: [5, 8])),
                       ("fc2.bias", NumpyArray(float32s: [Float](repeating: 0, count: 5), shape: [5]))], to: small)
        assertCleanFailure(try runBSS(["similarity", modelA, small.path, "--a-arch", spec, "--b-arch", "mlp:64-8-5", "--data", data]),
                           mentions: ["inputs do not match", "[3, 12, 12]", "[64]"])
        // No sample both get right.
        assertCleanFailure(try runBSS(["similarity", modelA, modelB, "--a-arch", spec, "--b-arch", spec,
                                       "--data", try referenceData(shift: 1)]),
                           mentions: ["no sample is classified correctly by both", "A: 0 of 16"])
        // No labels.
        let unlabelled = dir.appendingPathComponent("x.npz")
        try Npz.write([("x", try Npz.readDictionary(URL(fileURLWithPath: data))["x"]!)], to: unlabelled)
        assertCleanFailure(try runBSS(["similarity", modelA, modelB, "--a-arch", spec, "--b-arch", spec, "--data", unlabelled.path]),
                           mentions: ["x.npz", "labels"])
        // Flag combinations.
        let plot = dir.appendingPathComponent("p.png").path
        let cases: [([String], [String])] = [
            (["similarity", modelA, modelB, "--a-arch", spec, "--b-arch", spec], ["--data"]),
            (["similarity", "--a-bss", "a.npz"], ["--b-bss"]),
            (["similarity", "--a-bss", "a.npz", "--b-bss", "b.npz", "--data", data], ["--data", "cannot be used"]),
            (["similarity", "--a-bss", "a.npz", "--b-bss", "b.npz", "--bss-eta", "0.5"], ["--bss-eta"]),
            (["similarity", "--a-bss", "a.npz", "--b-bss", "b.npz", "--label", "fine"], ["--label", "cannot be used"]),
            (["similarity", modelA, modelB, "--a-arch", spec, "--b-arch", spec, "--data", data, "--plot", plot], [".svg"]),
            (["similarity", modelA, modelB, "--a-arch", spec, "--b-arch", spec, "--data", data, "--targets", "some"], ["--targets"]),
            (["similarity", modelA, modelB, "--a-arch", spec, "--b-arch", spec, "--data", data, "--bss-eta", "0"], ["--bss-eta"]),
            (["similarity", "--a-bss", dir.appendingPathComponent("none.npz").path, "--b-bss", "b.npz"], ["none.npz"]),
            (["similarity", modelA, modelB, "--a-arch", spec, "--b-arch", spec, "--data", data, "--plot", data + "/p.svg"],
             ["is a file, not a directory"]),
        ]
        for (args, mentions) in cases {
            assertCleanFailure(try runBSS(args), mentions: mentions)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: plot))
    }
}

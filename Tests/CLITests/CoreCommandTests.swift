import Foundation
import XCTest
import ModelIO
import NN
import Tensor
import TestSupport

/// `bss inspect`, `predict`, `eval`, `doctor` end to end, and their one-line errors.
final class CoreCommandTests: XCTestCase {
    func testDoctorNamesTheKernel() throws {
        let r = try runBSS(["doctor", "--no-timing"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("OpenBLAS core:"), r.stdout)
        XCTAssertFalse(r.stdout.contains("GFLOP/s"), r.stdout)
        let v = try runBSS(["--version"])
        XCTAssertEqual(v.status, 0)
    }

    func testDoctorRespectsTheUsersCoreType() throws {
        let r = try runBSS(["doctor", "--threads", "1"], environment: ["OPENBLAS_CORETYPE": "Haswell"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("set by the user"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Haswell"), r.stdout)
        XCTAssertTrue(r.stdout.contains("GFLOP/s with Haswell"), r.stdout)
        // What the setting costs: the tool's own choice for this CPU, with its measured rate
        // (measured in a child process, since OpenBLAS picks its kernels once per process).
        if let own = BLAS.preferredCoreType(), own != "Haswell" {
            XCTAssertTrue(r.stdout.contains("the tool would choose"), r.stdout)
            XCTAssertTrue(r.stdout.contains("GFLOP/s (unset OPENBLAS_CORETYPE to use it)"), r.stdout)
        }
    }

    func testInspectShowsLayersAndParameterCount() throws {
        let r = try runBSS(["inspect", fixture("torch/cifar-resnet8.npz"), "--arch", "heo2019-resnet8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("total parameters: 75290"), r.stdout)
        XCTAssertTrue(r.stdout.contains("layer3.0.shortcut"), r.stdout)
        let j = try runBSS(["inspect", fixture("torch/cifar-resnet8.npz"), "--arch", "heo2019-resnet8", "--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(obj?["parameters"] as? Int, 75290)
    }

    /// The acceptance check: the heo2019-resnet26 preset on a PyTorch state dict
    /// reproduces PyTorch's logits within 1e-4 through the CLI.
    func testPredictResNet26MatchesPyTorch() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let io = try Npz.readDictionary(URL(fileURLWithPath: fixture("torch/cifar-resnet26-io.npz")))
        let data = dir.appendingPathComponent("x.npz")
        try Npz.write([("x", io["x"]!)], to: data)
        let out = dir.appendingPathComponent("logits.npz")
        let r = try runBSS(["predict", fixture("torch/cifar-resnet26.npz"), "--arch", "heo2019-resnet26",
                            "--data", data.path, "--out", out.path, "--batch-size", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let logits = try Npz.readDictionary(out)["logits"]!
        XCTAssertEqual(logits.shape, [4, 10])
        assertAllClose(try logits.floats(), try io["logits_eval"]!.floats(), atol: 1e-4, rtol: 0, "resnet26 logits")
    }

    func testEvalReportsAccuracyAndConfusion() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let io = try Npz.readDictionary(URL(fileURLWithPath: fixture("torch/small-cnn-io.npz")))
        // Labels = the teacher's own argmax, so accuracy must be exactly 1.
        let logits = try io["logits_eval"]!.tensor
        let y: [Int64] = argmax(rows: logits).map { Int64($0) }
        let data = dir.appendingPathComponent("d.npz")
        try Npz.write([("x", io["x"]!), ("y", NumpyArray(int64s: y, shape: [y.count]))], to: data)
        let r = try runBSS(["eval", fixture("torch/small-cnn.npz"), "--arch", fixture("torch/small-cnn.json"),
                            "--data", data.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(obj?["accuracy"] as? Double, 1.0)
        XCTAssertEqual((obj?["confusion_matrix"] as? [[Int]])?.count, 5)
    }

    func testMalformedFilesGiveOneLineErrors() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.npz").path
        let cases: [(String, [String])] = [
            ("numpy/bad_crc.npz", ["bad_crc.npz", "CRC"]),
            ("numpy/not_a_zip.npz", ["not_a_zip.npz"]),
            ("numpy/truncated_member.npz", ["truncated_member.npz"]),
        ]
        for (file, mentions) in cases {
            // As the model ...
            let r = try runBSS(["predict", fixture(file), "--arch", "mlp:4-3-2", "--data", fixture(file), "--out", out])
            assertCleanFailure(r, mentions: mentions)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
        // ... and as the data, with a valid model.
        for (file, mentions) in cases {
            let r = try runBSS(["eval", fixture("torch/small-cnn.npz"), "--arch", fixture("torch/small-cnn.json"), "--data", fixture(file)])
            assertCleanFailure(r, mentions: mentions)
        }
        assertCleanFailure(try runBSS(["inspect", dir.appendingPathComponent("nope.npz").path, "--arch", "mlp:4-3-2"]),
                           mentions: ["nope.npz", "no such file"])
        assertCleanFailure(try runBSS(["inspect", fixture("torch/small-cnn.npz")]), mentions: ["small-cnn.npz", "--arch"])
        assertCleanFailure(try runBSS(["inspect", fixture("torch/small-cnn.npz"), "--arch", "heo2019-resnet8"]),
                           mentions: ["small-cnn.npz", "missing keys", "unexpected keys"])
    }

    func testDataThatDoesNotFitTheModelIsRefused() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.npz")
        try Npz.write([("x", NumpyArray(Tensor(shape: [2, 7]))), ("y", NumpyArray(int64s: [0, 9], shape: [2]))], to: bad)
        let weights = mlpWeights(dir)
        assertCleanFailure(try runBSS(["eval", weights, "--arch", "mlp:7-3-2", "--data", bad.path]),
                           mentions: ["bad.npz", "y", "label 9"])
        assertCleanFailure(try runBSS(["eval", mlpWeights(dir), "--arch", "mlp:7-3-2", "--data", fixture("torch/small-cnn-io.npz")]),
                           mentions: ["small-cnn-io.npz", "x"])
    }

    /// A state dict for `mlp:7-3-2` with zero weights.
    func mlpWeights(_ dir: URL) -> String {
        let url = dir.appendingPathComponent("mlp.npz")
        if !FileManager.default.fileExists(atPath: url.path) {
            let m = try! ModelLoader.fresh(arch: "mlp:7-3-2")
            try! Npz.write(StateDict(model: m).entries, to: url)
        }
        return url.path
    }
}

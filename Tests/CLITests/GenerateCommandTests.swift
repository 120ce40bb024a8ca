import Foundation
import XCTest
import ModelIO
import Tensor
import TestSupport

/// `bss generate` end to end: the PyTorch reference pairs through the CLI (paper and official
/// mode, .npz and .h5), seeds, --accepted-only / --limit, the JSON summary, progress on stderr,
/// one-line errors without partial files, and (optionally) PyTorch reading the result.
final class GenerateCommandTests: XCTestCase {
    var dir: URL!
    let teacher = ["--teacher", fixture("torch/bss-teacher.npz"), "--teacher-arch", fixture("torch/bss-teacher.json")]

    override func setUpWithError() throws { dir = temporaryDirectory("bss-generate") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// The 16 distinct base samples of the BSS fixtures with their labels (pair j of a fixture is
    /// sample j / 4 with its j % 4-th other class, i.e. exactly `--targets all`).
    func fixtureData(labels: Bool = true) throws -> (path: String, reference: [String: NumpyArray]) {
        let ref = try Npz.readDictionary(URL(fileURLWithPath: fixture("torch/bss-paper.npz")))
        let x = try ref["x_base"]!.tensor
        let rows = Array(stride(from: 0, to: x.batch, by: 4))
        let y = try ref["base_class"]!.int64s()
        var entries: [(key: String, array: NumpyArray)] = [("x", NumpyArray(x.gather(rows: rows)))]
        if labels { entries.append(("y", NumpyArray(int64s: rows.map { y[$0] }, shape: [rows.count]))) }
        let url = dir.appendingPathComponent(labels ? "data.npz" : "unlabelled.npz")
        try Npz.write(entries, to: url)
        return (url.path, ref)
    }

    func ints(_ a: [String: NumpyArray], _ key: String) throws -> [Int64] { try a[key]!.int64s() }

    func testPaperModeThroughTheCLIMatchesPyTorch() throws {
        let (data, ref) = try fixtureData()
        let out = dir.appendingPathComponent("bss.npz")
        let r = try runBSS(["generate"] + teacher + ["--data", data, "--out", out.path, "--targets", "all", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let a = try Npz.readDictionary(out)
        XCTAssertEqual(try ints(a, "base_index"), (0..<64).map { Int64($0 / 4) })
        XCTAssertEqual(try ints(a, "base_class"), try ints(ref, "base_class"))
        XCTAssertEqual(try ints(a, "target_class"), try ints(ref, "target_class"))
        XCTAssertEqual(try ints(a, "status"), try ints(ref, "status"))
        XCTAssertEqual(try ints(a, "steps"), try ints(ref, "steps"))
        assertAllClose(try a["x_bss"]!.floats(), try ref["x_bss"]!.floats(), atol: 1e-4, rtol: 1e-4, "x_bss")
        XCTAssertEqual(a["teacher_logits"]?.shape, [64, 5])
        XCTAssertEqual(a["perturbation_norm"]?.shape, [64])

        let summary = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(summary["pairs_tried"] as? Int, 64)
        XCTAssertEqual(summary["accepted"] as? Int, 29)
        XCTAssertEqual(summary["rejected"] as? [String: Int], ["rejected_other_class": 35, "rejected_step_limit": 0])
        XCTAssertEqual(summary["steps_histogram"] as? [Int], [0, 25, 21, 11, 6, 0, 1, 0, 0, 0, 0])
        let table = summary["acceptance_table"] as! [String: Any]
        XCTAssertEqual((table["tried"] as! [[Int]]).flatMap { $0 }.reduce(0, +), 64)
        XCTAssertEqual((table["accepted"] as! [[Int]]).flatMap { $0 }.reduce(0, +), 29)
        XCTAssertNotNil(summary["pairs_per_second"] as? Double)

        let meta = try JSONSerialization.jsonObject(with: Data(a["meta"]!.stringValue!.utf8)) as! [String: Any]
        XCTAssertEqual(meta["format"] as? String, "bss-dataset")
        XCTAssertEqual((meta["algorithm"] as! [String: Any])["mode"] as? String, "paper")
        XCTAssertTrue((meta["algorithm"] as! [String: Any])["clip"] is NSNull)
        XCTAssertEqual(((meta["teacher"] as! [String: Any])["sha256"] as? String)?.count, 64)
        XCTAssertEqual((meta["counts"] as! [String: Any])["accepted"] as? Int, 29)
        XCTAssertEqual(meta["input_layout"] as? String, "nchw")
        // Progress went to stderr as plain lines (stderr is a pipe here), the summary to stdout.
        XCTAssertTrue(r.stderr.contains("generate: 64/64 pairs"), r.stderr)
        XCTAssertTrue(r.stderr.contains("29 accepted"), r.stderr)
        XCTAssertFalse(r.stderr.contains("\u{1B}["), "no terminal control codes when not a TTY")
    }

    func testOfficialModeWritesHDF5WithMeta() throws {
        let (data, _) = try fixtureData()
        let ref = try Npz.readDictionary(URL(fileURLWithPath: fixture("torch/bss-official.npz")))
        let out = dir.appendingPathComponent("bss.h5")
        let r = try runBSS(["generate"] + teacher + ["--data", data, "--out", out.path, "--targets", "all",
                                                      "--bss-mode", "official", "--bss-clip", "-2.5,2.5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("crossed into the target class"), r.stdout)
        XCTAssertTrue(r.stdout.contains("pairs/s"), r.stdout)
        let f = try HDF5File(reading: out)
        defer { try? f.close() }
        XCTAssertEqual(try f.readInts("status").values, try ints(ref, "status"))
        XCTAssertEqual(try f.readInts("steps").values, try ints(ref, "steps"))
        assertAllClose(try f.readFloats("x_bss").values, try ref["x_bss"]!.floats(), atol: 1e-4, rtol: 1e-4, "x_bss")
        let meta = try JSONSerialization.jsonObject(with: Data(try f.stringAttribute("meta").utf8)) as! [String: Any]
        let algorithm = meta["algorithm"] as! [String: Any]
        XCTAssertEqual(algorithm["mode"] as? String, "official")
        XCTAssertEqual(algorithm["step_norm"] as? String, "l2")
        XCTAssertEqual(algorithm["clip"] as? [Double], [-2.5, 2.5])
        XCTAssertEqual((meta["status_codes"] as? [String: String])?["3"], "did not cross")
    }

    func testSeedReproducibilityAndSampledTargets() throws {
        let (data, _) = try fixtureData()
        func run(_ seed: String, _ name: String, extra: [String] = []) throws -> URL {
            let out = dir.appendingPathComponent(name)
            let r = try runBSS(["generate"] + teacher + ["--data", data, "--out", out.path, "--seed", seed] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return out
        }
        let a = try run("7", "a.npz"), b = try run("7", "b.npz"), c = try run("8", "c.npz")
        XCTAssertEqual(try Data(contentsOf: a), try Data(contentsOf: b), "same seed, same bytes")
        let ta = try ints(try Npz.readDictionary(a), "target_class"), tc = try ints(try Npz.readDictionary(c), "target_class")
        XCTAssertEqual(ta.count, 16)
        XCTAssertNotEqual(ta, tc, "another seed draws other targets")
        let two = try Npz.readDictionary(try run("7", "two.npz", extra: ["--per-sample", "3"]))
        let base = try ints(two, "base_index"), target = try ints(two, "target_class"), label = try ints(two, "base_class")
        XCTAssertEqual(base.count, 48)
        for s in 0..<16 {
            let ks = Set(target[(3 * s)..<(3 * s + 3)])
            XCTAssertEqual(ks.count, 3, "distinct targets for sample \(s)")
            XCTAssertFalse(ks.contains(label[3 * s]))
        }
        // Targets are drawn with p_t(k) / (1 - p_t(b)): each recorded probability is in (0, 1].
        XCTAssertTrue(try two["target_prob"]!.floats().allSatisfy { $0 > 0 && $0 <= 1 })
        let runner = try Npz.readDictionary(try run("0", "runner.npz", extra: ["--targets", "runner-up"]))
        XCTAssertEqual(runner["target_class"]?.shape, [16])
    }

    func testAcceptedOnlyAndLimit() throws {
        let (data, _) = try fixtureData()
        let out = dir.appendingPathComponent("acc.npz")
        let r = try runBSS(["generate"] + teacher + ["--data", data, "--out", out.path, "--targets", "all", "--limit", "5",
                                                      "--accepted-only", "--batch-size", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let a = try Npz.readDictionary(out)
        XCTAssertTrue(try ints(a, "status").allSatisfy { $0 == 1 })
        XCTAssertTrue(try ints(a, "base_index").allSatisfy { $0 < 5 })
        let meta = try JSONSerialization.jsonObject(with: Data(a["meta"]!.stringValue!.utf8)) as! [String: Any]
        let counts = meta["counts"] as! [String: Int]
        XCTAssertEqual(counts["pairs_tried"], 20)
        XCTAssertEqual(counts["base_samples"], 5)
        XCTAssertEqual(counts["pairs_written"], a["status"]!.count)
        XCTAssertEqual(counts["pairs_written"], counts["accepted"])
        XCTAssertEqual((meta["selection"] as! [String: Any])["accepted_only"] as? Bool, true)
    }

    func testUserErrorsAreOneLineAndLeaveNoFile() throws {
        let (data, _) = try fixtureData()
        let (unlabelled, _) = try fixtureData(labels: false)
        let out = dir.appendingPathComponent("never.npz")
        let cases: [([String], [String])] = [
            (teacher + ["--data", unlabelled, "--out", out.path], ["unlabelled.npz", "--base all"]),
            (teacher + ["--data", data, "--out", dir.appendingPathComponent("x.csv").path], [".h5 or .npz"]),
            (teacher + ["--data", data, "--out", out.path, "--per-sample", "5"], ["--per-sample 5", "5"]),
            (teacher + ["--data", data, "--out", out.path, "--bss-clip", "3,2"], ["--bss-clip"]),
            (teacher + ["--data", data, "--out", out.path, "--bss-mode", "fast"], ["--bss-mode"]),
            (teacher + ["--data", data, "--out", out.path, "--bss-eta", "0"], ["--bss-eta"]),
            (["--teacher", dir.appendingPathComponent("missing.npz").path, "--teacher-arch", "mlp:4-3", "--data", data, "--out", out.path],
             ["missing.npz"]),
            (["--teacher", fixture("torch/bss-teacher.npz"), "--teacher-arch", "heo2019-resnet8", "--data", data, "--out", out.path],
             ["bss-teacher.npz"]),
        ]
        for (args, mentions) in cases {
            let r = try runBSS(["generate"] + args)
            assertCleanFailure(r, mentions: mentions)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "no output after: \(args)")
        }
        // Unlabelled data works with --base all (base class = the teacher's prediction).
        let r = try runBSS(["generate"] + teacher + ["--data", unlabelled, "--out", out.path, "--base", "all"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [])
    }

    /// The README's promise: x_bss feeds straight back into the original PyTorch teacher and
    /// gives the logits bss recorded. Skipped without python3 + torch + numpy.
    func testPyTorchTeacherReadsXBSS() throws {
        let (data, _) = try fixtureData()
        let out = dir.appendingPathComponent("bss.npz")
        let r = try runBSS(["generate"] + teacher + ["--data", data, "--out", out.path, "--targets", "all"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let script = """
        import json, sys
        try:
            import numpy as np, torch
        except ImportError as e:
            print("SKIP", e); sys.exit(0)
        sys.path.insert(0, sys.argv[3])
        import torch_models as tm
        teacher = tm.SmallCNN()
        teacher.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in np.load(sys.argv[2]).items()})
        teacher.eval()
        d = np.load(sys.argv[1]); meta = json.loads(str(d["meta"]))
        with torch.no_grad():
            logits = teacher(torch.from_numpy(d["x_bss"])).numpy()
        err = float(np.abs(logits - d["teacher_logits"]).max())
        assert err < 1e-4, err
        accepted = d["status"] == 1
        assert (logits[accepted].argmax(1) == d["target_class"][accepted]).all()
        print("OK")
        """
        try runPythonCheck(script, [out.path, fixture("torch/bss-teacher.npz"), fixture("scripts")])
    }

    /// The same for a Keras teacher: x_bss is stored NHWC and `model.predict` takes it as it is,
    /// giving softmax(teacher_logits). Skipped without python3 + keras + h5py.
    func testKerasTeacherReadsXBSS() throws {
        let out = dir.appendingPathComponent("keras-bss.h5")
        let model = fixture("digits/teacher-cnn.keras")
        let r = try runBSS(["generate", "--teacher", model, "--data", fixture("digits/digits-test.npz"), "--out", out.path,
                            "--limit", "12", "--targets", "runner-up"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let script = """
        import json, os, sys
        os.environ["KERAS_BACKEND"] = "numpy"   # inference only: the lightest backend to import
        try:
            import h5py, numpy as np, keras
        except ImportError as e:
            print("SKIP", e); sys.exit(0)
        f = h5py.File(sys.argv[1], "r"); meta = json.loads(f.attrs["meta"])
        assert meta["input_layout"] == "nhwc" and f["x_bss"].shape == (12, 8, 8, 1), f["x_bss"].shape
        p = keras.saving.load_model(sys.argv[2]).predict(f["x_bss"][()], verbose=0)
        l = f["teacher_logits"][()]; q = np.exp(l - l.max(1, keepdims=True)); q /= q.sum(1, keepdims=True)
        assert np.abs(p - q).max() < 1e-5, np.abs(p - q).max()
        ok = f["status"][()] == 1
        assert ok.any() and (p[ok].argmax(1) == f["target_class"][()][ok]).all()
        print("OK")
        """
        try runPythonCheck(script, [out.path, model])
    }

    /// Runs `python3 -c script args...` (the first python3 on PATH); the script prints "OK", or
    /// "SKIP reason" when a module is missing, which skips the test.
    func runPythonCheck(_ script: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let python = ProcessInfo.processInfo.environment["PATH"].flatMap { path in
            path.split(separator: ":").map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
        guard let python else { throw XCTSkip("python3 is not installed") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script] + args
        let pipe = Pipe()
        // stderr goes to a file, so a chatty child cannot block on a second full pipe.
        let errFile = dir.appendingPathComponent("python-stderr.txt")
        FileManager.default.createFile(atPath: errFile.path, contents: nil)
        p.standardOutput = pipe
        p.standardError = try FileHandle(forWritingTo: errFile)
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let errors = (try? Data(contentsOf: errFile)) ?? Data()
        if text.hasPrefix("SKIP") { throw XCTSkip(text) }
        XCTAssertEqual(text.trimmingCharacters(in: .whitespacesAndNewlines), "OK", String(decoding: errors, as: UTF8.self),
                       file: file, line: line)
    }
}

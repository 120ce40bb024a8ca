import Distill
import Foundation
import ModelIO
import NN
import Tensor
import TestSupport
import XCTest

/// The trained student goes back where it came from: a Keras student to `.h5`/`.keras` that
/// loads back with the same predictions, a preset/spec student to a state dict whose keys,
/// shapes and dtypes are exactly the PyTorch module's `state_dict()` (from
/// `Fixtures/distill/state-dict-keys.json`; with python3 + torch installed, also
/// `load_state_dict(strict=True)` itself).
final class ExportTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("distill-export") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// `[[key, shape, dtype]]` per model, as torch lists them.
    func torchKeys(_ model: String) throws -> [(String, [Int], String)] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture("distill/state-dict-keys.json")))
        let all = try JSONSerialization.jsonObject(with: data) as! [String: [[Any]]]
        return all[model]!.map { ($0[0] as! String, $0[1] as! [Int], $0[2] as! String) }
    }

    func npzKeys(_ path: String) throws -> [(String, [Int], String)] {
        try Npz.read(URL(fileURLWithPath: path)).map { k, a in
            (k, a.shape, a.dtype == .float32 ? "float32" : (a.dtype == .int64 ? "int64" : a.dtype.descr))
        }
    }

    func assertSameKeys(_ a: [(String, [Int], String)], _ b: [(String, [Int], String)], _ what: String) {
        XCTAssertEqual(a.map(\.0), b.map(\.0), "\(what): keys")
        XCTAssertEqual(a.map(\.1), b.map(\.1), "\(what): shapes")
        XCTAssertEqual(a.map(\.2), b.map(\.2), "\(what): dtypes")
    }

    func train(_ c: RunConfig) throws -> DistillRun {
        let run = try DistillRun.prepare(c)
        try run.distiller.run()
        try run.export()
        return run
    }

    func testPresetAndSpecStudentsExportPyTorchStateDicts() throws {
        // A fresh preset student (initialised from the seed).
        var c = DistillFixtures.digitsConfig(dir, method: .hinton, epochs: 1, fraction: 0.1)
        c.student = "mlp:64-48-10"
        c.studentArch = nil
        c.out = dir.appendingPathComponent("mlp.npz").path
        _ = try train(c)
        assertSameKeys(try npzKeys(c.out!), try torchKeys("mlp:64-48-10"), "mlp:64-48-10")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("mlp.json").path),
                       "a preset needs no spec next to it")

        // A spec student with BatchNorm: running statistics and num_batches_tracked (int64, 0-d).
        c.student = DistillFixtures.bnStudent
        c.studentArch = DistillFixtures.bnStudentSpec
        c.method = .bss
        c.out = dir.appendingPathComponent("bn.npz").path
        let run = try train(c)
        assertSameKeys(try npzKeys(c.out!), try torchKeys("digits-student-bn"), "BN student")
        let entries = try Npz.readDictionary(URL(fileURLWithPath: c.out!))
        XCTAssertEqual(entries["bn1.num_batches_tracked"]!.shape, [])
        XCTAssertEqual(try entries["bn1.num_batches_tracked"]!.int64s()[0], run.distiller.student.batchNormLayers()[0].layer.numBatchesTracked)
        XCTAssertGreaterThan(try entries["bn1.num_batches_tracked"]!.int64s()[0], 0)

        // The file loads back strictly and predicts what the trained student predicts.
        let back = try ModelLoader.load(c.out!, arch: DistillFixtures.bnStudentSpec)
        let x = try run.distiller.val!.gather(Array(0..<32))
        XCTAssertEqual(back.graph.predict(x).data, run.distiller.student.graph.predict(x).data)

        try torchStrictLoad([(dir.appendingPathComponent("mlp.npz").path, "tm.mlp([64, 48, 10])"),
                             (c.out!, "BNStudent()")])
    }

    func testKerasStudentGoesBackToH5AndKeras() throws {
        var c = DistillFixtures.digitsConfig(dir, method: .bss, epochs: 1, fraction: 0.1)
        c.teacher = fixture("digits/teacher-cnn.h5"); c.teacherArch = nil
        c.student = fixture("digits/student-mlp.h5"); c.studentArch = nil
        for ext in ["h5", "keras"] {
            c.out = dir.appendingPathComponent("student.\(ext)").path
            let run = try train(c)
            let back = try ModelLoader.load(c.out!)
            XCTAssertEqual(back.format, ext == "h5" ? .kerasH5 : .kerasArchive)
            let test = try DataLoader.load(DistillFixtures.test, stored: .nhwc)
            let ours = run.distiller.student.graph.predict(test.x), theirs = back.graph.predict(test.x)
            assertAllClose(theirs.data, ours.data, atol: 1e-6, rtol: 0, "\(ext): reloaded predictions")
        }
        try kerasPredictionCheck(dir.appendingPathComponent("student.h5").path)
    }

    // MARK: - Optional cross-checks with the real frameworks

    func python(_ script: String, env: [String: String] = [:]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script]
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        do { try p.run() } catch { throw XCTSkip("python3 is not available") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `load_state_dict(strict=True)` into the PyTorch modules (skipped without torch).
    func torchStrictLoad(_ files: [(path: String, module: String)]) throws {
        let scripts = fixturesURL.appendingPathComponent("scripts").path
        var lines = ["import sys, numpy as np, torch", "sys.dont_write_bytecode = True", "sys.path.insert(0, '\(scripts)')",
                     "import torch_models as tm", "from make_distill_fixtures import BNStudent"]
        for f in files {
            lines.append("m = \(f.module); sd = {k: torch.from_numpy(v) for k, v in np.load('\(f.path)').items()}")
            lines.append("print(m.load_state_dict(sd, strict=True))")
        }
        let (status, out) = try python(lines.joined(separator: "\n"))
        if status != 0 && out.contains("No module named") { throw XCTSkip("torch is not installed: \(out)") }
        XCTAssertEqual(status, 0, out)
        XCTAssertEqual(out.components(separatedBy: "<All keys matched successfully>").count - 1, files.count, out)
    }

    /// `keras.models.load_model` opens the exported file and predicts what `bss predict` does
    /// on it (skipped without keras).
    func kerasPredictionCheck(_ model: String) throws {
        let env = ["KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"]
        let logits = dir.appendingPathComponent("ours.npz").path
        let r = try runBSS(["predict", model, "--data", DistillFixtures.test, "--out", logits, "--probabilities"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let (status, out) = try python("""
            import numpy as np, keras
            m = keras.models.load_model('\(model)', compile=False)
            x = np.load('\(DistillFixtures.test)')['x']
            p = np.asarray(m.predict(x, verbose=0))
            ours = np.load('\(logits)')['probabilities']
            print('maxdiff', float(np.abs(p - ours).max()))
            assert np.abs(p - ours).max() <= 1e-5
            """, env: env)
        if status != 0 && out.contains("No module named") { throw XCTSkip("keras is not installed: \(out)") }
        XCTAssertEqual(status, 0, out)
    }
}

import Foundation
import XCTest
import ModelIO
import NN
import Tensor
import TestSupport

/// Keras → ours → Keras: the written files hold the same numbers, in Keras' own layout.
final class KerasExportTests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("bss-keras-export") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// `.h5 → ours → .h5` and `.keras → ours → .keras`: the same config and every weight
    /// dataset bit for bit at the same path (optimizer state dropped), so the numbers are unchanged.
    func testRoundTripKeepsConfigAndWeightsExactly() throws {
        for name in KerasFixtures.models + ["../digits/teacher-cnn"] {
            // .h5
            let h5In = KerasFixtures.url("keras/\(name).h5")
            let h5Out = dir.appendingPathComponent("\(name.replacingOccurrences(of: "/", with: "_")).h5")
            try KerasExport.write(try KerasImport.load(h5In), to: h5Out)
            let a = try HDF5File(reading: h5In), b = try HDF5File(reading: h5Out)
            XCTAssertEqual(try b.stringAttribute("model_config"), try a.stringAttribute("model_config"), name)
            XCTAssertEqual(try b.stringArrayAttribute("layer_names", at: "model_weights"),
                           try a.stringArrayAttribute("layer_names", at: "model_weights"), name)
            XCTAssertFalse(b.exists("optimizer_weights"))
            let datasets = try a.descendants(of: "model_weights").filter { $0.kind == .dataset }
            XCTAssertFalse(datasets.isEmpty)
            for d in datasets {
                let (sa, va) = try a.readFloats("model_weights/" + d.name), (sb, vb) = try b.readFloats("model_weights/" + d.name)
                XCTAssertEqual(sb, sa, "\(name) \(d.name)")
                XCTAssertEqual(vb, va, "\(name) \(d.name)")
            }
            // .keras
            let kIn = KerasFixtures.url("keras/\(name).keras")
            let kOut = dir.appendingPathComponent("\(name.replacingOccurrences(of: "/", with: "_")).keras")
            let original = try KerasImport.load(kIn)
            try KerasExport.write(original, to: kOut)
            let again = try KerasImport.load(kOut)
            for (p, q) in zip(original.stateDictParameters(), again.stateDictParameters()) {
                XCTAssertEqual(p.key, q.key)
                XCTAssertEqual(p.parameter.value, q.parameter.value, "\(name).keras \(p.key)")
            }
        }
    }

    /// New weights are what gets written: perturb, export to both formats (including across
    /// formats), read back, and get the perturbed model's numbers.
    func testExportWritesTheCurrentWeights() throws {
        let ref = try KerasFixtures.reference("keras/nested-reference.npz")
        for source in ["nested.h5", "nested.keras", "functional-cnn.h5", "conv-flatten-tf2.h5"] {
            let model = try KerasImport.load(KerasFixtures.url("keras/" + source))
            var k: Float = 0
            for (_, p) in model.stateDictParameters() where p.isTrainable {
                for i in p.value.data.indices { p.value.data[i] += 0.01 * sin(k); k += 1 }
            }
            let x = source.hasPrefix("nested") ? ref["x"]! : try KerasFixtures.reference("keras/conv-flatten-reference.npz")["x"]!
            let expected = try KerasFixtures.logits(model, x)
            for ext in ["h5", "keras"] {
                let out = dir.appendingPathComponent("perturbed-\(source).\(ext)")
                try KerasExport.write(model, to: out)
                let back = try KerasImport.load(out)
                XCTAssertEqual(try KerasFixtures.logits(back, x).data, expected.data, "\(source) → .\(ext)")
                XCTAssertEqual(back.softmaxSplitOff, model.softmaxSplitOff)
            }
        }
    }

    func testRefusesModelsNotFromKerasAndWritesNothing() throws {
        let preset = try ModelLoader.fresh(arch: "mlp:4-3-2")
        let out = dir.appendingPathComponent("mlp.h5")
        XCTAssertThrowsError(try KerasExport.write(preset, to: out)) { e in
            XCTAssertEqual((e as? ModelIOError)?.kind, .unsupported)
            XCTAssertTrue("\(e)".contains("not a model imported from Keras"), "\(e)")
        }
        let keras = try KerasImport.load(KerasFixtures.url("keras/conv-flatten.h5"))
        XCTAssertThrowsError(try KerasExport.write(keras, to: dir.appendingPathComponent("m.npz")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "nothing written, no temporary left")
    }

    /// BatchNormalization with center=False, scale=False: γ = 1 and β = 0 are constants; an
    /// export refuses a model whose γ changed, since Keras cannot hold it.
    func testBatchNormWithoutScaleAndCenter() throws {
        let config = KerasFixtures.functionalConfig(input: [3], layers: [
            ("BatchNormalization", "bn", "\"center\": false, \"scale\": false, \"epsilon\": 0.5", ["in"]),
            ("Dense", "fc", "\"units\": 2, \"activation\": \"softmax\"", ["bn"]),
        ], output: "fc")
        let src = dir.appendingPathComponent("bn.h5")
        try KerasFixtures.writeH5(src, config: config, groups: [
            ("in", []),
            ("bn", [("bn/moving_mean", [3], [1, 2, 3]), ("bn/moving_variance", [3], [3.5, 1.5, 0.5])]),
            ("fc", [("fc/kernel", [3, 2], [1, 0, 0, 1, 1, 1]), ("fc/bias", [2], [0.5, -0.5])]),
        ])
        let m = try KerasImport.load(src)
        let y = m.graph.predict(Tensor(shape: [1, 3], data: [3, 3, 3]))
        // x̂ = (x − μ)/√(σ² + ε) = ((3−1)/2, (3−2)/√2, (3−3)/1); then x̂ · kernel + bias.
        let xh: [Float] = [1, 1 / 2.0.squareRoot(), 0].map(Float.init)
        assertAllClose(y.data, [xh[0] + xh[2] + 0.5, xh[1] + xh[2] - 0.5], atol: 1e-6, rtol: 0, "bn without scale/center")
        try KerasExport.write(m, to: dir.appendingPathComponent("ok.h5"))
        (m.graph.nodes[m.graph.index(of: "bn")!].layer as! BatchNorm).weight.value.data[0] = 2
        let refused = dir.appendingPathComponent("refused.keras")
        XCTAssertThrowsError(try KerasExport.write(m, to: refused)) { e in
            XCTAssertTrue("\(e)".contains("scale=False"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: refused.path))
    }

    /// Optional cross-check with Keras itself (skipped without python3 + keras): every export
    /// opens with `keras.models.load_model` without a Python warning and predicts our
    /// probabilities within 1e-5.
    func testKerasLoadsOurExports() throws {
        try requireKeras()
        var rows: [String] = []
        // Both source formats (tf.keras 2.15 included), both targets, residual/BatchNorm/'same'
        // padding and a nested model, in 5 Keras loads (each costs seconds of CPU).
        let sources = [("functional-cnn", "functional-cnn.h5", ["h5", "keras"]), ("functional-cnn", "functional-cnn.keras", ["h5"]),
                       ("conv-flatten", "conv-flatten-tf2.h5", ["keras"]), ("nested", "nested.keras", ["h5"])]
        for (name, source, targets) in sources {
            let ref = try KerasFixtures.reference("keras/\(name)-reference.npz")
            let model = try KerasImport.load(KerasFixtures.url("keras/" + source))
            for (_, p) in model.stateDictParameters() {   // BatchNorm statistics included
                for i in p.value.data.indices { p.value.data[i] *= 1.01 }
            }
            let logits = try KerasFixtures.logits(model, ref["x"]!)
            // The Keras model's output: probabilities, or the logits for `nested`.
            let ours = model.softmaxSplitOff ? softmax(logits) : logits
            let io = dir.appendingPathComponent("io-\(source).npz")
            try Npz.write([("x", ref["x"]!), ("expected", NumpyArray(ours))], to: io)
            for ext in targets {
                let out = dir.appendingPathComponent("\(source)-export.\(ext)")
                try KerasExport.write(model, to: out)
                rows.append("\(out.path)\t\(io.path)")
            }
        }
        let list = dir.appendingPathComponent("list.tsv")
        try rows.joined(separator: "\n").write(to: list, atomically: true, encoding: .utf8)
        let script = """
        import os, sys, warnings, numpy as np
        os.environ["KERAS_BACKEND"] = "jax"
        import keras
        worst = 0.0
        for line in open(sys.argv[1]):
            model_path, io_path = line.strip().split("\\t")
            io = np.load(io_path)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                got = np.asarray(keras.models.load_model(model_path)(io["x"], training=False))
            d = float(np.abs(got - io["expected"]).max())
            worst = max(worst, d)
            print(f"{d:.3g} {model_path} warnings: {[str(w.message) for w in caught]}")
            if caught: worst = max(worst, 1.0)
        print(f"worst {worst:.3g}")
        """
        let output = try python(["-c", script, list.path])
        let worst = output.split(separator: "\n").last { $0.hasPrefix("worst ") }.flatMap { Double($0.dropFirst(6)) }
        XCTAssertNotNil(worst, output)
        XCTAssertLessThanOrEqual(worst ?? 1, 1e-5, output)
    }

    /// Throws XCTSkip unless `python3` can import keras (JAX backend) and h5py.
    private func requireKeras() throws {
        if (try? python(["-c", "import keras, h5py"])) == nil {
            throw XCTSkip("python3 with keras (JAX backend) is not available")
        }
    }

    /// Runs `python3 arguments` (through /usr/bin/env) and returns its stdout; throws on failure.
    @discardableResult
    private func python(_ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + arguments
        var env = ProcessInfo.processInfo.environment
        env["KERAS_BACKEND"] = "jax"
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw NSError(domain: "python3", code: Int(p.terminationStatus), userInfo: [NSLocalizedDescriptionKey: text])
        }
        return text
    }
}

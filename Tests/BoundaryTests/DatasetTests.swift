import Foundation
import XCTest
import Boundary
import ModelIO
import NN
import Tensor
import TestSupport

/// BSS data sets: .npz and .h5 round trips, the layout conversion for Keras teachers, the meta
/// JSON against Schemas/bss-dataset.schema.json, reader errors, and (optionally) numpy/h5py.
final class DatasetTests: XCTestCase {
    static let schemaURL = fixturesURL.deletingLastPathComponent().appendingPathComponent("Schemas/bss-dataset.schema.json")

    /// 64 pairs of the paper-mode fixture run through the fixture teacher.
    func makeDataset(layout: DataLayout = .nchw) throws -> BSSDataset {
        let a = try Npz.readDictionary(URL(fileURLWithPath: fixture("torch/bss-paper.npz")))
        let teacher = try ModelLoader.load(fixture("torch/bss-teacher.npz"), arch: fixture("torch/bss-teacher.json"))
        let x = try a["x_base"]!.tensor
        var pairs = BSSPairs()
        pairs.baseIndex = Array(0..<x.batch)
        pairs.baseClass = try a["base_class"]!.int64s().map { Int($0) }
        pairs.targetClass = try a["target_class"]!.int64s().map { Int($0) }
        let probabilities = softmax(teacher.graph.forward(x, mode: .inference))
        pairs.targetProbability = (0..<x.batch).map {
            TargetSelection.targetProbability(probabilities: probabilities, base: pairs.baseClass[$0], target: pairs.targetClass[$0], row: $0)
        }
        pairs.baseSamples = x.batch / 4
        let result = BSSGenerator(teacher: teacher.graph, parameters: .paper).run(x: x, base: pairs.baseClass, target: pairs.targetClass)
        let meta = BSSMetadata(
            tool: "bss 0.1.0", createdBy: "bss generate",
            teacher: .init(file: "bss-teacher.npz", sha256: try SHA256.file(fixture("torch/bss-teacher.npz")),
                           architecture: "bss-teacher.json", format: teacher.format.rawValue, inputShape: [3, 12, 12], classes: 5),
            data: .init(file: "bss-paper.npz", sha256: try SHA256.file(fixture("torch/bss-paper.npz")), samples: x.batch,
                        storedLayout: "nchw", scale: nil),
            inputLayout: layout.rawValue, inputShape: [3, 12, 12], algorithm: .init(.paper),
            selection: .init(base: "correct", limit: nil, targets: "all", perSample: 1, acceptedOnly: false),
            seed: 0, counts: .init(baseSamples: pairs.baseSamples, result: result))
        return BSSDataset(pairs: pairs, result: result, source: x, meta: meta)
    }

    func assertSame(_ a: BSSDataset, _ b: BSSDataset, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.baseIndex, b.baseIndex, file: file, line: line)
        XCTAssertEqual(a.baseClass, b.baseClass, file: file, line: line)
        XCTAssertEqual(a.targetClass, b.targetClass, file: file, line: line)
        XCTAssertEqual(a.status, b.status, file: file, line: line)
        XCTAssertEqual(a.steps, b.steps, file: file, line: line)
        XCTAssertEqual(a.x, b.x, file: file, line: line)
        XCTAssertEqual(a.teacherLogits, b.teacherLogits, file: file, line: line)
        XCTAssertEqual(a.targetProbability, b.targetProbability, file: file, line: line)
        XCTAssertEqual(a.perturbationNorm, b.perturbationNorm, file: file, line: line)
    }

    func testRoundTripsThroughNpzAndHDF5() throws {
        let d = try makeDataset()
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["set.npz", "set.h5"] {
            let url = dir.appendingPathComponent(name)
            try d.write(to: url)
            let back = try BSSDataset.read(url)
            assertSame(back, d)
            XCTAssertEqual(back.meta.counts.pairsWritten, 64)
            XCTAssertEqual(back.meta.arrays["x_bss"], .init(dtype: "float32", shape: [64, 3, 12, 12]))
            XCTAssertEqual(back.meta.algorithm.parameters, .paper)
            XCTAssertEqual(back.meta.statusCodes["2"], "rejected: entered another class")
        }
        // Stored dtypes are the documented ones.
        let npz = try Npz.readDictionary(dir.appendingPathComponent("set.npz"))
        XCTAssertEqual(npz["status"]?.dtype, .int8)
        XCTAssertEqual(npz["steps"]?.dtype, .int32)
        XCTAssertEqual(npz["base_index"]?.dtype, .int64)
        XCTAssertEqual(npz["x_bss"]?.dtype, .float32)
        XCTAssertNotNil(npz["meta"]?.stringValue)
        let h5 = try HDF5File(reading: dir.appendingPathComponent("set.h5"))
        XCTAssertEqual(try h5.datasetInfo("status").dtype, .int8)
        XCTAssertEqual(try h5.datasetInfo("steps").dtype, .int32)
        XCTAssertEqual(try h5.datasetInfo("target_class").dtype, .int64)
        XCTAssertEqual(try h5.datasetInfo("teacher_logits").shape, [64, 5])
        try h5.close()
    }

    func testPerturbationNormsAndAcceptedRows() throws {
        let d = try makeDataset()
        let a = try Npz.readDictionary(URL(fileURLWithPath: fixture("torch/bss-paper.npz")))
        let x = try a["x_base"]!.tensor
        let per = x.sampleCount
        for j in [0, 17, 63] {
            var sum: Double = 0
            for e in 0..<per {
                let diff = Double(d.x.data[j * per + e]) - Double(x.data[j * per + e])
                sum += diff * diff
            }
            let norm = sum.squareRoot()
            XCTAssertEqual(Double(d.perturbationNorm[j]), norm, accuracy: 1e-5 * max(1, norm))
        }
        let accepted = d.status.indices.filter { d.status[$0] == .accepted }
        let only = d.rows(accepted)
        XCTAssertEqual(only.count, 29)
        XCTAssertEqual(only.meta.counts.pairsWritten, 29)
        XCTAssertEqual(only.meta.counts.pairsTried, 64)
        XCTAssertTrue(only.status.allSatisfy { $0 == .accepted })
    }

    /// A Keras (NHWC) teacher's data set stores x_bss as NHWC; reading converts back to NCHW.
    func testKerasLayoutIsStoredChannelsLast() throws {
        let d = try makeDataset(layout: .nhwc)
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("keras.h5")
        try d.write(to: url)
        let h5 = try HDF5File(reading: url)
        let stored = try h5.readFloats("x_bss")
        try h5.close()
        XCTAssertEqual(stored.shape, [64, 12, 12, 3])
        // Element (n=1, c=2, y=3, x=4) in NCHW is at (1, 3, 4, 2) in NHWC.
        let nhwc: Int = ((1 * 12 + 3) * 12 + 4) * 3 + 2, nchw: Int = ((1 * 3 + 2) * 12 + 3) * 12 + 4
        XCTAssertEqual(stored.values[nhwc], d.x.data[nchw])
        let back = try BSSDataset.read(url)
        XCTAssertEqual(back.meta.inputShape, [12, 12, 3])
        assertSame(back, d)
    }

    func testMetaMatchesTheSchema() throws {
        let validator = try JSONSchemaValidator(schemaAt: Self.schemaURL)
        let d = try makeDataset()
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("set.npz")
        try d.rows([0, 1, 2]).write(to: url)
        let text = try Npz.readDictionary(url)["meta"]!.stringValue!
        let meta = try JSONSerialization.jsonObject(with: Data(text.utf8))
        XCTAssertEqual(validator.errors(meta), [])
        // Every array the file holds is listed with its true dtype and shape.
        let arrays = try Npz.readDictionary(url)
        let listed = (meta as! [String: Any])["arrays"] as! [String: [String: Any]]
        XCTAssertEqual(Set(listed.keys), Set(arrays.keys).subtracting(["meta"]))
        for (key, info) in listed {
            XCTAssertEqual(info["shape"] as? [Int], arrays[key]!.shape, key)
            let dtype: [NumpyArray.DType: String] = [.int8: "int8", .int32: "int32", .int64: "int64", .float32: "float32"]
            XCTAssertEqual(info["dtype"] as? String, dtype[arrays[key]!.dtype], key)
        }
        // The validator does reject what the schema forbids.
        var broken = meta as! [String: Any]
        broken["format_version"] = 2
        broken["seed"] = -1
        broken.removeValue(forKey: "counts")
        XCTAssertEqual(validator.errors(broken).count, 3, "\(validator.errors(broken))")
        var algorithm = broken["algorithm"] as! [String: Any]
        algorithm["clip"] = [1]
        algorithm["step_norm"] = "l1"
        broken["algorithm"] = algorithm
        XCTAssertEqual(validator.errors(broken).count, 5, "\(validator.errors(broken))")
    }

    func testReaderErrorsNameFileAndKey() throws {
        let d = try makeDataset()
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.npz")
        try d.write(to: good)
        var arrays = try Npz.read(good)
        func expectError(_ entries: [(key: String, array: NumpyArray)], _ mentions: [String], line: UInt = #line) throws {
            let url = dir.appendingPathComponent("bad.npz")
            try Npz.write(entries, to: url)
            XCTAssertThrowsError(try BSSDataset.read(url), line: line) { error in
                let text = "\(error)"
                XCTAssertTrue(error is ModelIOError, text, line: line)
                XCTAssertTrue(text.contains("bad.npz"), text, line: line)
                for m in mentions { XCTAssertTrue(text.contains(m), text, line: line) }
            }
        }
        try expectError(arrays.filter { $0.key != "steps" }, ["steps"])
        let i = arrays.firstIndex { $0.key == "status" }!
        arrays[i].array = NumpyArray(int8s: [Int8](repeating: 7, count: 64), shape: [64])
        try expectError(arrays, ["status", "7"])
        arrays[i].array = NumpyArray(int8s: [1, 2], shape: [2])
        try expectError(arrays, ["status", "2 rows"])
        arrays = try Npz.read(good)
        let m = arrays.firstIndex { $0.key == "meta" }!
        arrays[m].array = NumpyArray(string: "{\"format\": 1}")
        try expectError(arrays, ["meta"])
        XCTAssertThrowsError(try BSSDataset.read(dir.appendingPathComponent("missing.h5"))) { XCTAssertTrue("\($0)".contains("missing.h5")) }
        XCTAssertThrowsError(try d.write(to: dir.appendingPathComponent("set.csv"))) { XCTAssertTrue("\($0)".contains(".h5 or .npz")) }
        // Missing folders are created; a file where a folder should be is refused.
        XCTAssertNoThrow(try d.write(to: dir.appendingPathComponent("no/such/dir.h5")))
        XCTAssertThrowsError(try d.write(to: good.appendingPathComponent("dir.h5"))) { XCTAssertTrue("\($0)".contains("is a file, not a directory")) }
    }

    /// numpy reads the .npz without allow_pickle, h5py reads the .h5, and jsonschema accepts the
    /// meta of both. Skipped when python3 with numpy, h5py and jsonschema is not installed.
    func testNumpyAndH5pyReadTheFiles() throws {
        let d = try makeDataset()
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try d.write(to: dir.appendingPathComponent("set.npz"))
        try d.write(to: dir.appendingPathComponent("set.h5"))
        let script = """
        import json, sys
        try:
            import numpy as np, h5py, jsonschema
        except ImportError as e:
            print("SKIP", e); sys.exit(0)
        schema = json.load(open(sys.argv[3]))
        z = np.load(sys.argv[1])
        meta = json.loads(str(z["meta"]))
        jsonschema.validate(meta, schema)
        assert z["x_bss"].dtype == np.float32 and z["x_bss"].shape == (64, 3, 12, 12), z["x_bss"].shape
        assert z["status"].dtype == np.int8 and z["steps"].dtype == np.int32 and z["base_index"].dtype == np.int64
        with h5py.File(sys.argv[2], "r") as f:
            meta2 = json.loads(f.attrs["meta"])
            jsonschema.validate(meta2, schema)
            assert meta2 == meta
            for k in meta["arrays"]:
                assert f[k].dtype == np.dtype(meta["arrays"][k]["dtype"]), k
                assert list(f[k].shape) == meta["arrays"][k]["shape"], k
                assert np.array_equal(f[k][()], z[k]), k
        print("OK", int((z["status"] == 1).sum()))
        """
        let out = try runPython(script, [dir.appendingPathComponent("set.npz").path, dir.appendingPathComponent("set.h5").path,
                                         Self.schemaURL.path])
        if out.hasPrefix("SKIP") { throw XCTSkip(out) }
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "OK 29")
    }
}

/// Runs `python3 -c script args...` and returns stdout; skips the test when python3 is absent.
func runPython(_ script: String, _ args: [String]) throws -> String {
    // The first python3 on PATH, as a user's shell would pick it.
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin"
    let python = path.split(separator: ":").map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    guard let python else { throw XCTSkip("python3 is not installed") }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = ["-c", script] + args
    let out = Pipe()
    // stderr goes to a file, so a chatty child cannot block on a second full pipe.
    let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("python-stderr-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: errFile.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errFile) }
    p.standardOutput = out
    p.standardError = try FileHandle(forWritingTo: errFile)
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let errors = (try? Data(contentsOf: errFile)) ?? Data()
    XCTAssertEqual(p.terminationStatus, 0, String(decoding: errors, as: UTF8.self))
    return String(decoding: data, as: UTF8.self)
}

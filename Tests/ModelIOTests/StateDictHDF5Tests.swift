import Foundation
import XCTest
@testable import HDF5
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
import NN
import Tensor
import TestSupport

/// PyTorch state dicts stored as HDF5 (`StateDictHDF5`): the file layout h5py users expect,
/// bit-exact round trips for every dtype, foreign files without our attributes, loading
/// through `ModelLoader`, and one-line errors that leave no file behind.
final class StateDictHDF5Tests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("sd-h5") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// Every dtype a state dict may hold, keys with dots and one with a slash, in a non-sorted order.
    func sampleStateDict() -> StateDict {
        StateDict(entries: [
            ("conv1.weight", NumpyArray(float32s: [1.5, -2.25, .pi, -0.0, .leastNonzeroMagnitude, 3e38], shape: [1, 2, 3, 1])),
            ("bn1.running_var", NumpyArray(float32s: [0.5, 2], shape: [2])),
            ("bn1.num_batches_tracked", NumpyArray(int64s: [Int64.max - 7], shape: [])),
            ("a.double", NumpyArray(float64s: [1.0 / 3.0, -1e-300], shape: [2])),
            ("half", NumpyArray(dtype: .float16, shape: [2], bytes: [0x00, 0x3C, 0x00, 0xC0])),   // 1, -2
            ("ints.i32", NumpyArray(int32s: [-5, Int32.max], shape: [2, 1])),
            ("bytes.u8", NumpyArray(uint8s: [0, 255, 7], shape: [3])),
            ("mask", NumpyArray(bools: [true, false], shape: [2])),
            ("block/inner.weight", NumpyArray(float32s: [9], shape: [1, 1])),
            ("empty", NumpyArray(float32s: [], shape: [0, 4])),
        ])
    }

    func assertSameEntries(_ a: StateDict, _ b: StateDict, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.entries.map(\.key), b.entries.map(\.key), "keys and their order", file: file, line: line)
        for (x, y) in zip(a.entries, b.entries) {
            XCTAssertEqual(x.array, y.array, "\(x.key): dtype, shape and bytes", file: file, line: line)
        }
    }

    func testRoundTripKeepsKeysOrderDtypesAndBits() throws {
        let url = dir.appendingPathComponent("w.h5")
        let sd = sampleStateDict()
        try StateDictHDF5.write(sd, to: url)
        assertSameEntries(try StateDictHDF5.read(url), sd)
    }

    /// What h5py's `f[key] = arr` makes: datasets at the root named by the key verbatim,
    /// `num_batches_tracked` a 0-d int64, plus the `format` and `keys` attributes.
    func testFileLayoutIsWhatH5pyUsersExpect() throws {
        let url = dir.appendingPathComponent("w.h5")
        try StateDictHDF5.write(sampleStateDict(), to: url)
        let f = try HDF5File(reading: url)
        defer { try? f.close() }
        XCTAssertEqual(try f.stringAttribute("format"), "pytorch-state-dict")
        XCTAssertEqual(try f.stringArrayAttribute("keys"), sampleStateDict().entries.map(\.key))
        XCTAssertEqual(f.kind(of: "conv1.weight"), .dataset)
        XCTAssertEqual(try f.datasetInfo("conv1.weight"), HDF5DatasetInfo(shape: [1, 2, 3, 1], dtype: .float32, chunks: nil, filters: []))
        XCTAssertEqual(try f.datasetInfo("bn1.num_batches_tracked").shape, [])
        XCTAssertEqual(try f.datasetInfo("bn1.num_batches_tracked").dtype, .int64)
        XCTAssertEqual(f.kind(of: "block"), .group, "a '/' in a key makes a group, as in h5py")
        XCTAssertEqual(f.kind(of: "block/inner.weight"), .dataset)
    }

    /// A file written by someone else (no `keys` attribute, nested groups): every dataset,
    /// in name order, keys joined with '.'.
    func testForeignFileIsReadByWalkingGroups() throws {
        let url = dir.appendingPathComponent("foreign.h5")
        let f = try HDF5File(creating: url)
        try f.write(floats: [1, 2], shape: [2], to: "layer1/0/conv1/weight")
        try f.write(floats: [3], shape: [1], to: "fc.bias")
        try f.write(ints: [4], shape: [], to: "bn.num_batches_tracked")
        try f.close()
        let sd = try StateDictHDF5.read(url)
        XCTAssertEqual(sd.entries.map(\.key), ["bn.num_batches_tracked", "fc.bias", "layer1.0.conv1.weight"])
        XCTAssertEqual(try sd.entries[2].array.floats(), [1, 2])
        XCTAssertEqual(sd.entries[0].array.dtype, .int64)
    }

    /// The PyTorch fixture through .h5 loads into the preset and gives the same weights.
    func testModelLoaderReadsHDF5StateDicts() throws {
        let npz = URL(fileURLWithPath: fixture("torch/cifar-resnet8.npz"))
        let h5 = dir.appendingPathComponent("r8.h5")
        try StateDictHDF5.write(StateDict(entries: try Npz.read(npz)), to: h5)
        let a = try ModelLoader.load(npz.path, arch: "heo2019-resnet8")
        let b = try ModelLoader.load(h5.path, arch: "heo2019-resnet8")
        XCTAssertEqual(b.format, .stateDictHDF5)
        for (p, q) in zip(a.stateDictParameters(), b.stateDictParameters()) {
            XCTAssertEqual(p.key, q.key)
            XCTAssertEqual(p.parameter.value, q.parameter.value, p.key)
        }
        XCTAssertThrowsError(try ModelLoader.load(h5.path)) { e in
            XCTAssertTrue("\(e)".contains("--arch"), "\(e)")
        }
        XCTAssertThrowsError(try ModelLoader.load(h5.path, arch: "heo2019-resnet14")) { e in
            XCTAssertTrue("\(e)".contains("missing keys: layer1.1.conv1.weight"), "\(e)")
        }
    }

    func testKerasFilesAreNotMistakenForStateDicts() throws {
        XCTAssertThrowsError(try StateDictHDF5.read(URL(fileURLWithPath: fixture("keras/functional-cnn.weights.h5")))) { e in
            XCTAssertTrue("\(e)".contains("Keras weights"), "\(e)")
        }
        XCTAssertThrowsError(try StateDictHDF5.read(URL(fileURLWithPath: fixture("keras/conv-flatten-tf2-weights.h5")))) { e in
            XCTAssertTrue("\(e)".contains("Keras weights"), "\(e)")
        }
        XCTAssertThrowsError(try StateDictHDF5.read(URL(fileURLWithPath: fixture("keras/functional-cnn.h5")))) { e in
            XCTAssertTrue("\(e)".contains("Keras full model"), "\(e)")
        }
        XCTAssertTrue(StateDictHDF5.isKerasModel(URL(fileURLWithPath: fixture("keras/functional-cnn.h5"))))
        XCTAssertFalse(StateDict.isStateDictFile(URL(fileURLWithPath: fixture("keras/functional-cnn.h5"))))
    }

    func testBrokenFilesGiveOneLineErrors() throws {
        for (name, expected) in [("hdf5/not_hdf5.h5", "not an HDF5 file"), ("hdf5/truncated.h5", "truncated or corrupt")] {
            XCTAssertThrowsError(try StateDictHDF5.read(URL(fileURLWithPath: fixture(name)))) { e in
                XCTAssertTrue("\(e)".contains(expected), "\(e)")
                XCTAssertFalse("\(e)".contains("\n"))
            }
        }
        let emptyFile = dir.appendingPathComponent("empty.h5")
        try HDF5File(creating: emptyFile).close()
        XCTAssertThrowsError(try StateDictHDF5.read(emptyFile)) { e in XCTAssertTrue("\(e)".contains("no datasets"), "\(e)") }
        let groupsOnly = dir.appendingPathComponent("groups.h5")
        let f = try HDF5File(creating: groupsOnly)
        try f.createGroup("g/h")
        try f.close()
        XCTAssertThrowsError(try StateDictHDF5.read(groupsOnly)) { e in XCTAssertTrue("\(e)".contains("no datasets"), "\(e)") }
    }

    /// Keys that cannot be HDF5 paths, duplicates and strings: an error naming the key and no file.
    func testUnwritableStateDictsLeaveNoFile() throws {
        let one = NumpyArray(float32s: [1], shape: [1])
        let cases: [(StateDict, String)] = [
            (StateDict(entries: [("", one)]), "cannot name an HDF5 dataset"),
            (StateDict(entries: [("a//b", one)]), "cannot name an HDF5 dataset"),
            (StateDict(entries: [("a", one), ("a/b", one)]), "both a key and a group"),
            (StateDict(entries: [("w", one), ("w", one)]), "more than once"),
            (StateDict(entries: [("name", NumpyArray(string: "x"))]), "string array"),
        ]
        for (sd, message) in cases {
            let url = dir.appendingPathComponent("bad.h5")
            XCTAssertThrowsError(try StateDictHDF5.write(sd, to: url)) { e in
                XCTAssertTrue("\(e)".contains(message), "\(e)")
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "nothing left behind")
        }
    }

    /// h5py reads our file with PyTorch's dtypes (optional: needs python3 with h5py).
    func testH5pyReadsTheFile() throws {
        let url = dir.appendingPathComponent("w.h5")
        try StateDictHDF5.write(StateDict(entries: try Npz.read(URL(fileURLWithPath: fixture("torch/cifar-resnet8.npz")))), to: url)
        let script = """
        import sys, h5py, numpy as np
        a = np.load(sys.argv[2])
        with h5py.File(sys.argv[1]) as f:
            keys = list(f.attrs["keys"])
            assert keys == list(a.keys()), (keys[:3], list(a.keys())[:3])
            assert f.attrs["format"] == "pytorch-state-dict"
            for k in a.keys():
                v = f[k][()]
                assert v.dtype == a[k].dtype and v.shape == a[k].shape and v.tobytes() == a[k].tobytes(), k
        print("ok")
        """
        let r = try runPythonScript(script, [url.path, fixture("torch/cifar-resnet8.npz")], needs: "h5py")
        XCTAssertEqual(r.trimmingCharacters(in: .whitespacesAndNewlines), "ok")
    }
}

/// Runs `python3 -c script args`, skipping the test when python3 or `module` is missing.
func runPythonScript(_ script: String, _ arguments: [String], needs module: String,
               environment: [String: String] = [:]) throws -> String {
    func run(_ args: [String]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + args
        var env = ProcessInfo.processInfo.environment
        env["PYTHONPATH"] = fixture("scripts")
        for (k, v) in environment { env[k] = v }
        p.environment = env
        // stderr goes to a file so neither pipe can fill up while the other is read.
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("py-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errURL) }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = try FileHandle(forWritingTo: errURL)
        do { try p.run() } catch { throw XCTSkip("python3 is not available") }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let errData = (try? Data(contentsOf: errURL)) ?? Data()
        return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }
    // One interpreter start (imports of torch/keras take seconds): the script skips itself
    // when the module is missing.
    let guardCode = "import sys\ntry:\n    import \(module)\nexcept Exception as e:\n    print('__SKIP__', e)\n    sys.exit(0)\n"
    let (status, out, err) = try run(["-c", guardCode + script] + arguments)
    if out.hasPrefix("__SKIP__") { throw XCTSkip("python3 with \(module) is not available") }
    if status == 127 { throw XCTSkip("python3 is not available") }
    guard status == 0 else {
        XCTFail("python failed: \(err)")
        return out
    }
    return out
}

import Foundation
import XCTest
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
@testable import SafeTensors
import NN
import Tensor
import TestSupport

/// `.safetensors` state dicts against files the reference library wrote
/// (`Fixtures/scripts/make_safetensors_fixtures.py`): the same models and logits as the `.npz`
/// route and PyTorch, every dtype converted as `.npz` arrays are (bfloat16 and the 8-bit floats
/// widened exactly), strict header validation with one-line errors, and a writer whose bytes
/// equal the reference library's.
final class SafeTensorsTests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("safetensors") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func st(_ name: String) -> String { fixture("safetensors/" + name) }

    // MARK: - Parity

    func testLogitsEqualTheNpzRouteAndPyTorch() throws {
        for (name, arch) in [("small-cnn", fixture("torch/small-cnn.json")), ("cifar-resnet8", "heo2019-resnet8")] {
            let a = try ModelLoader.load(fixture("torch/\(name).npz"), arch: arch)
            let b = try ModelLoader.load(st("\(name).safetensors"), arch: arch)
            XCTAssertEqual(b.format, .stateDictSafeTensors)
            XCTAssertEqual(SafeTensors.metadata(of: b), ["format": "pt"])
            for (p, q) in zip(a.stateDictParameters(), b.stateDictParameters()) {
                XCTAssertEqual(p.key, q.key)
                XCTAssertEqual(p.parameter.value, q.parameter.value, "\(name) \(p.key)")
            }
            XCTAssertEqual(a.batchNormLayers().map(\.layer.numBatchesTracked), b.batchNormLayers().map(\.layer.numBatchesTracked))
            let io = try Npz.readDictionary(URL(fileURLWithPath: fixture("torch/\(name)-io.npz")))
            let x = try io["x"]!.tensor
            let logits = b.graph.forward(x, mode: .inference)
            XCTAssertEqual(logits.data, a.graph.forward(x, mode: .inference).data, "\(name): same logits as the .npz route")
            assertAllClose(logits.data, try io["logits_eval"]!.floats(), atol: 1e-5, rtol: 0, "\(name) logits vs PyTorch")
        }
    }

    /// float16 and bfloat16 state dicts: every value widened exactly as torch's `.float()`,
    /// num_batches_tracked still int64, and the model's logits equal PyTorch's for those weights.
    func testHalfAndBFloat16StateDictsWidenExactly() throws {
        let expected = try Npz.readDictionary(URL(fileURLWithPath: st("small-cnn-lowp.npz")))
        let io = try Npz.readDictionary(URL(fileURLWithPath: fixture("torch/small-cnn-io.npz")))
        for tag in ["f16", "bf16"] {
            let contents = try SafeTensors.read(URL(fileURLWithPath: st("small-cnn-\(tag).safetensors")))
            XCTAssertEqual(contents.entries.count, expected.keys.filter { $0.hasPrefix(tag + ".") }.count)
            for (key, array) in contents.entries {
                let want = try XCTUnwrap(expected["\(tag).\(key)"], key)
                if key.hasSuffix("num_batches_tracked") {
                    XCTAssertEqual(array, want, key)
                } else {
                    XCTAssertEqual(array.dtype, tag == "f16" ? .float16 : .float32, key)
                    XCTAssertEqual(try array.floats(), try want.floats(), "\(tag) \(key)")
                }
            }
            XCTAssertEqual(contents.widened.count, tag == "bf16" ? contents.entries.count - 3 : 0)
            let model = try ModelLoader.load(st("small-cnn-\(tag).safetensors"), arch: fixture("torch/small-cnn.json"))
            let logits = model.graph.forward(try io["x"]!.tensor, mode: .inference)
            assertAllClose(logits.data, try expected["logits_\(tag)"]!.floats(), atol: 1e-5, rtol: 0, "\(tag) logits")
            if tag == "bf16" {
                XCTAssertTrue(model.conversions.contains { $0.contains("21 BF16 tensors widened to float32") }, "\(model.conversions)")
                XCTAssertEqual(SafeTensors.metadata(of: model), ["format": "pt", "source": "make_safetensors_fixtures.py"])
            }
        }
    }

    /// One tensor of every dtype torch saves, against numpy's reading (torch's `.float()` for
    /// BF16 and all 256 codes of each 8-bit float).
    func testEveryConvertibleDtype() throws {
        let contents = try SafeTensors.read(URL(fileURLWithPath: st("dtypes.safetensors")))
        let expected = try Npz.readDictionary(URL(fileURLWithPath: st("dtypes.npz")))
        XCTAssertEqual(Set(contents.entries.map(\.key)), Set(expected.keys))
        for (key, array) in contents.entries {
            let want = expected[key]!
            XCTAssertEqual(array.shape, want.shape, key)
            XCTAssertEqual(array.dtype, want.dtype, key)
            if key.hasPrefix("F8") || key == "BF16" {
                for (i, (a, b)) in zip(try array.floats(), try want.floats()).enumerated() {
                    XCTAssertTrue(a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN), "\(key)[\(i)]: \(a) vs \(b)")
                }
            } else {
                XCTAssertEqual(array.bytes, want.bytes, key)
            }
        }
        XCTAssertEqual(Set(contents.widened.map(\.dtype)), ["BF16", "F8_E4M3", "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F8_E8M0"])
        XCTAssertEqual(contents.metadata, ["format": "pt"])
    }

    func testUnconvertibleDtypesAreRefusedByName() throws {
        for (name, words) in [("f4", ["'w'", "F4", "packed 4-bit float"]), ("c64", ["'z'", "C64", "complex"])] {
            XCTAssertThrowsError(try SafeTensors.read(URL(fileURLWithPath: st("unsupported/\(name).safetensors")))) { e in
                let text = "\(e)"
                XCTAssertEqual((e as? ModelIOError)?.kind, .unsupported, text)
                XCTAssertFalse(text.contains("\n"), text)
                for w in words.map({ $0.replacingOccurrences(of: "'", with: "") }) { XCTAssertTrue(text.contains(w), text) }
            }
        }
    }

    // MARK: - Malformed headers

    func testMalformedFilesGiveOneLineErrorsNamingFileAndKey() throws {
        // (file, key the error names or nil, words of the message)
        let cases: [(String, String?, [String])] = [
            ("truncated", "b", ["run past the end of the data section"]),
            ("short", nil, ["truncated", "5 bytes"]),
            ("huge-length", nil, ["1099511627776", "over the format's limit"]),
            ("length-past-end", nil, ["truncated", "header length says"]),
            ("overlap", "b", ["overlap those of 'w'"]),
            ("hole", "b", ["16..<20", "belong to no tensor"]),
            ("trailing-bytes", nil, ["last 8 bytes", "belong to no tensor"]),
            ("wrong-byte-count", "b", ["hold 8 bytes", "shape [3] of F32 needs 12 bytes"]),
            ("unknown-dtype", "w", ["unknown dtype 'F31'"]),
            ("not-object", "header", ["expected a JSON object"]),
            ("bad-json", "header", ["not valid JSON"]),
            ("extra-field", "w", ["unexpected field 'extra'"]),
            ("negative-shape", "w", ["shape must be a list of non-negative integers"]),
            ("metadata-not-string", "__metadata__", ["'n' is not a string"]),
            // The strict JSON reader refuses a repeated key while parsing the header, naming it.
            ("duplicate-key", "header", ["duplicate key \"w\""]),
        ]
        let found = try FileManager.default.contentsOfDirectory(atPath: st("malformed")).filter { $0.hasSuffix(".safetensors") }
        XCTAssertEqual(Set(found), Set(cases.map { $0.0 + ".safetensors" }), "every fixture has a case")
        for (name, key, words) in cases {
            let path = st("malformed/\(name).safetensors")
            XCTAssertThrowsError(try SafeTensors.read(URL(fileURLWithPath: path)), name) { e in
                let text = "\(e)"
                XCTAssertTrue(e is ModelIOError, "\(name): \(text)")
                XCTAssertEqual((e as? ModelIOError)?.location, key, "\(name): \(text)")
                XCTAssertTrue(text.hasPrefix(path + ": "), "\(name): \(text)")
                XCTAssertFalse(text.contains("\n"), "\(name): \(text)")
                for w in words { XCTAssertTrue(text.contains(w), "\(name): expected '\(w)' in: \(text)") }
            }
            XCTAssertThrowsError(try ModelLoader.load(path, arch: "heo2019-resnet8"), name)
        }
    }

    // MARK: - Writing

    /// Our bytes for the tensors the reference library saved are the reference library's bytes.
    func testWriterReproducesTheReferenceLibraryByteForByte() throws {
        for name in ["small-cnn", "small-cnn-f16", "cifar-resnet8"] {
            let url = URL(fileURLWithPath: st("\(name).safetensors"))
            let contents = try SafeTensors.read(url)
            let ours = try SafeTensors.encode(contents.entries, metadata: contents.metadata, file: "x")
            XCTAssertEqual(ours, try Data(contentsOf: url), name)
        }
    }

    func sample() -> [(key: String, array: NumpyArray)] {
        [
            ("conv1.weight", NumpyArray(float32s: [1.5, -2.25, .pi, -0.0, .leastNonzeroMagnitude, 3e38], shape: [1, 2, 3, 1])),
            ("bn1.num_batches_tracked", NumpyArray(int64s: [Int64.max - 7], shape: [])),
            ("a.double", NumpyArray(float64s: [1.0 / 3.0, -1e-300], shape: [2])),
            ("half", NumpyArray(dtype: .float16, shape: [2], bytes: [0x00, 0x3C, 0x00, 0xC0])),
            ("ints.i32", NumpyArray(int32s: [-5, Int32.max], shape: [2, 1])),
            ("bytes.u8", NumpyArray(uint8s: [0, 255, 7], shape: [3])),
            ("i8", NumpyArray(int8s: [-1], shape: [1])),
            ("mask", NumpyArray(bools: [true, false], shape: [2])),
            ("ünï \"quoted\"\n", NumpyArray(float32s: [9], shape: [1, 1])),
            ("empty", NumpyArray(float32s: [], shape: [0, 4])),
        ]
    }

    func testRoundTripIsExactAndDeterministic() throws {
        let url = dir.appendingPathComponent("w.safetensors")
        let metadata = ["format": "pt", "note": "a \"quoted\" value", "ä": "ö"]
        try SafeTensors.write(sample(), metadata: metadata, to: url)
        let first = try Data(contentsOf: url)
        let back = try SafeTensors.read(url)
        XCTAssertEqual(back.metadata, metadata)
        XCTAssertTrue(back.widened.isEmpty)
        let byKey = Dictionary(uniqueKeysWithValues: back.entries.map { ($0.key, $0.array) })
        for (key, array) in sample() { XCTAssertEqual(byKey[key], array, key) }
        XCTAssertEqual(back.entries.count, sample().count)
        // Widest dtype first, then by name: the reference library's layout.
        XCTAssertEqual(back.entries.map(\.key), ["bn1.num_batches_tracked", "a.double", "conv1.weight", "empty", "ünï \"quoted\"\n",
                                                 "ints.i32", "half", "i8", "bytes.u8", "mask"])
        let n = first.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        XCTAssertEqual((8 + n) % 8, 0, "the data section starts 8-aligned")
        XCTAssertTrue(String(decoding: first[8..<(8 + n)], as: UTF8.self).hasPrefix("{\"__metadata__\":{\"format\":\"pt\",\"note\""))
        // Input order does not matter: the same tensors give the same bytes.
        try SafeTensors.write(sample().reversed(), metadata: metadata, to: url)
        XCTAssertEqual(try Data(contentsOf: url), first)
        // No metadata: no __metadata__ entry at all.
        try SafeTensors.write(sample(), metadata: nil, to: url)
        XCTAssertNil(try SafeTensors.read(url).metadata)
    }

    func testUnwritableEntriesLeaveNoFile() throws {
        let one = NumpyArray(float32s: [1], shape: [1])
        let cases: [([(key: String, array: NumpyArray)], String)] = [
            ([("w", one), ("w", one)], "twice"),
            ([("name", NumpyArray(string: "x"))], "string array"),
            ([("__metadata__", one)], "cannot be named __metadata__"),
        ]
        let url = dir.appendingPathComponent("bad.safetensors")
        for (entries, message) in cases {
            XCTAssertThrowsError(try SafeTensors.write(entries, metadata: nil, to: url)) { e in
                XCTAssertTrue("\(e)".contains(message), "\(e)")
            }
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
        }
    }

    // MARK: - Models

    func testModelWriterKeepsMetadataAndLoadsBack() throws {
        let model = try ModelLoader.load(st("small-cnn-bf16.safetensors"), arch: fixture("torch/small-cnn.json"))
        let out = dir.appendingPathComponent("copy.safetensors")
        let report = try ModelWriter.write(model, to: out)
        XCTAssertTrue(report.files[0].what.contains("PyTorch state dict (safetensors)"), "\(report.files)")
        XCTAssertTrue(report.conversions.contains { $0.contains("format=pt, source=make_safetensors_fixtures.py (2 kept from") }, "\(report.conversions)")
        let back = try SafeTensors.read(out)
        XCTAssertEqual(back.metadata, ["format": "pt", "source": "make_safetensors_fixtures.py"])
        XCTAssertTrue(back.entries.allSatisfy { $0.array.dtype == ($0.key.hasSuffix("num_batches_tracked") ? .int64 : .float32) })
        let again = try ModelLoader.load(out.path, arch: fixture("torch/small-cnn.json"))
        for (p, q) in zip(model.stateDictParameters(), again.stateDictParameters()) {
            XCTAssertEqual(p.parameter.value, q.parameter.value, p.key)
        }
        // A model from .npz gets format=pt; one written to .npz says the metadata is dropped.
        let fromNpz = try ModelLoader.load(fixture("torch/cifar-resnet8.npz"), arch: "heo2019-resnet8")
        try ModelWriter.write(fromNpz, to: out)
        XCTAssertEqual(try SafeTensors.read(out).metadata, ["format": "pt"])
        XCTAssertEqual(try Data(contentsOf: out), try Data(contentsOf: URL(fileURLWithPath: st("cifar-resnet8.safetensors"))),
                       "the export equals what safetensors.torch.save_file wrote for the same state dict")
        let npz = try ModelWriter.write(model, to: dir.appendingPathComponent("copy.npz"))
        XCTAssertTrue(npz.conversions.contains { $0.contains("__metadata__ (2 entries) is not written") }, "\(npz.conversions)")
    }

    func testLoadingNeedsAnArchitectureThatFits() throws {
        XCTAssertThrowsError(try ModelLoader.load(st("small-cnn.safetensors"))) { e in
            XCTAssertTrue("\(e)".contains("--arch"), "\(e)")
        }
        XCTAssertThrowsError(try ModelLoader.load(st("cifar-resnet8.safetensors"), arch: "heo2019-resnet14")) { e in
            XCTAssertTrue("\(e)".contains("missing keys: layer1.1.conv1.weight"), "\(e)")
        }
        XCTAssertTrue(StateDict.isStateDictFile(URL(fileURLWithPath: st("small-cnn.safetensors"))))
        let sd = try StateDict.read(from: URL(fileURLWithPath: st("small-cnn-bf16.safetensors")))
        XCTAssertEqual(sd.metadata?["source"], "make_safetensors_fixtures.py")
        XCTAssertEqual(sd.readConversions.count, 1)
    }

    /// `safetensors.torch.load_file` + `load_state_dict(strict=True)` accept our exports
    /// (skipped without python3, torch and safetensors).
    func testPyTorchLoadsOurExportStrictly() throws {
        let cnn = dir.appendingPathComponent("cnn.safetensors"), r8 = dir.appendingPathComponent("r8.safetensors")
        try ModelWriter.write(try ModelLoader.load(st("small-cnn-f16.safetensors"), arch: fixture("torch/small-cnn.json")), to: cnn)
        try ModelWriter.write(try ModelLoader.load(fixture("torch/cifar-resnet8.npz"), arch: "heo2019-resnet8"), to: r8)
        let script = """
        import sys, torch, torch_models as tm
        from safetensors import safe_open
        from safetensors.torch import load_file
        for path, model in [(sys.argv[1], tm.SmallCNN()), (sys.argv[2], tm.cifar_resnet(8))]:
            sd = load_file(path)
            print(model.load_state_dict(sd, strict=True))
            assert sd["bn1.num_batches_tracked"].dtype == torch.int64 and sd["bn1.num_batches_tracked"].dim() == 0
            with safe_open(path, "pt") as f:
                assert f.metadata()["format"] == "pt", f.metadata()
        """
        let out = try runPythonScript(script, [cnn.path, r8.path], needs: "safetensors.torch")
        XCTAssertEqual(out.components(separatedBy: "<All keys matched successfully>").count - 1, 2, out)
    }
}

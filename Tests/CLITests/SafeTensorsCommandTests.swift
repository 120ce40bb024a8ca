import Foundation
import XCTest
import ModelIO
import NN
import Tensor
import TestSupport

/// `.safetensors` through the CLI: `convert` in both directions (Keras → safetensors + spec,
/// safetensors → npz verbatim), `inspect` showing the metadata, `predict` on a safetensors
/// model, and one-line failures for broken files.
final class SafeTensorsCommandTests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("safetensors-cli") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    func files() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted() }

    func testKerasToSafeTensorsPredictsKerasLogits() throws {
        let r = try runBSS(["convert", fixture("keras/conv-flatten.h5"), path("cf.safetensors")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("wrote \(path("cf.safetensors")): PyTorch state dict (safetensors)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("wrote \(path("cf.json")): architecture spec"), r.stderr)
        XCTAssertTrue(r.stderr.contains("safetensors __metadata__: format=pt"), r.stderr)
        XCTAssertEqual(files(), ["cf.json", "cf.safetensors"])
        let ref = try Npz.readDictionary(URL(fileURLWithPath: fixture("keras/conv-flatten-reference.npz")))
        try Npz.write([("x", ref["x"]!)], to: URL(fileURLWithPath: path("x.npz")))
        let p = try runBSS(["predict", path("cf.safetensors"), "--arch", path("cf.json"), "--data", path("x.npz"), "--out", path("logits.npz")])
        XCTAssertEqual(p.status, 0, p.stderr)
        let logits = try Npz.readDictionary(URL(fileURLWithPath: path("logits.npz")))["logits"]!
        assertAllClose(try logits.floats(), try ref["logits"]!.floats(), atol: 1e-5, rtol: 0, "conv-flatten logits")
    }

    func testSafeTensorsToNpzAndBack() throws {
        // Verbatim (no --arch): the arrays of the .npz the safetensors file was made from.
        var r = try runBSS(["convert", fixture("safetensors/cifar-resnet8.safetensors"), path("r8.npz")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("bit for bit"), r.stderr)
        XCTAssertTrue(r.stderr.contains("__metadata__ (1 entry) is not written: .npz has no place for it"), r.stderr)
        let a = Dictionary(uniqueKeysWithValues: try Npz.read(URL(fileURLWithPath: fixture("torch/cifar-resnet8.npz"))).map { ($0.key, $0.array) })
        let b = try Npz.read(URL(fileURLWithPath: path("r8.npz")))
        XCTAssertEqual(b.count, a.count)
        for (k, v) in b { XCTAssertEqual(v, a[k], k) }
        // With --arch, npz → safetensors: what safetensors.torch.save_file wrote for the same state dict.
        r = try runBSS(["convert", fixture("torch/cifar-resnet8.npz"), path("r8.safetensors"), "--arch", "heo2019-resnet8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("r8.safetensors"))),
                       try Data(contentsOf: URL(fileURLWithPath: fixture("safetensors/cifar-resnet8.safetensors"))))
        // bfloat16 verbatim: the widening is said, and the metadata carried over.
        r = try runBSS(["convert", fixture("safetensors/small-cnn-bf16.safetensors"), path("cnn.safetensors")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("21 BF16 tensors widened to float32"), r.stderr)
        XCTAssertTrue(r.stderr.contains("format=pt, source=make_safetensors_fixtures.py"), r.stderr)
        XCTAssertEqual(try SafeTensors.read(URL(fileURLWithPath: path("cnn.safetensors"))).metadata,
                       ["format": "pt", "source": "make_safetensors_fixtures.py"])
        XCTAssertEqual(files(), ["cnn.safetensors", "r8.npz", "r8.safetensors"])
    }

    func testInspectShowsFormatAndMetadata() throws {
        let r = try runBSS(["inspect", fixture("safetensors/small-cnn-bf16.safetensors"), "--arch", fixture("torch/small-cnn.json")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("format:       PyTorch state dict (.safetensors)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("metadata:     format=pt, source=make_safetensors_fixtures.py"), r.stdout)
        XCTAssertTrue(r.stdout.contains("widened to float32"), r.stdout)
        let j = try runBSS(["inspect", fixture("safetensors/small-cnn.safetensors"), "--arch", fixture("torch/small-cnn.json"), "--json"])
        XCTAssertEqual(j.status, 0, j.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["safetensors_metadata"] as? [String: String], ["format": "pt"])
    }

    func testBrokenFilesFailWithOneLine() throws {
        let cases: [([String], [String])] = [
            (["inspect", fixture("safetensors/malformed/overlap.safetensors"), "--arch", "heo2019-resnet8"], ["overlap.safetensors", "b", "overlap"]),
            (["convert", fixture("safetensors/malformed/duplicate-key.safetensors"), path("out.npz")], ["duplicate-key.safetensors", "duplicate key \"w\""]),
            (["convert", fixture("safetensors/unsupported/f4.safetensors"), path("out.npz")], ["f4.safetensors", "F4"]),
            (["inspect", fixture("safetensors/small-cnn.safetensors")], ["--arch"]),
            (["convert", fixture("torch/cifar-resnet8.npz"), path("out.safetensors"), "--arch", "heo2019-resnet8", "--to", "keras"], ["holds a state dict"]),
        ]
        for (args, mentions) in cases {
            assertCleanFailure(try runBSS(args), mentions: mentions)
        }
        XCTAssertEqual(files(), [])
    }
}

import Foundation
import XCTest
import ModelIO
import NN
@testable import ONNX
import Tensor
import TestSupport

/// Keras applications (ResNet50, MobileNetV2, EfficientNetB0, DenseNet121; weights=None,
/// 32×32×3, 10 classes) converted by tf2onnx, against onnxruntime.
///
/// The committed files (Fixtures/scripts/make_onnx_tf2onnx_fixtures.py) hold the graphs without
/// weights: each float initializer's doc_string says `bss-fill scale=S offset=O`, and its values
/// are regenerated here with the script's closed formula (`SplitmixFill`) before import. The
/// sums of the regenerated values are checked against the script's first, so a logit mismatch is
/// the importer's, not the fill's.
final class ONNXTf2onnxTests: XCTestCase {
    override class func setUp() { ONNXImport.register() }

    /// The fixture with its initializers filled, written to a temporary file; returns its path.
    func filled(_ name: String, sums: [Double]) throws -> String {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture("onnx/tf2onnx-\(name).onnx")))
        var proto = try Onnx_ModelProto(serializedBytes: bytes)
        var k = 0
        for (i, t) in proto.graph.initializer.enumerated() where t.docString.hasPrefix("bss-fill ") {
            var recipe: [String: Double] = [:]
            for part in t.docString.dropFirst("bss-fill ".count).split(separator: " ") {
                let kv = part.split(separator: "=")
                recipe[String(kv[0])] = Double(String(kv[1]))
            }
            let scale = try XCTUnwrap(recipe["scale"]), offset = try XCTUnwrap(recipe["offset"])
            XCTAssertEqual(t.dataType, 1, "\(name): \(t.name) is float32")
            let count = t.dims.reduce(1) { $0 * Int($1) }
            let raw = SplitmixFill.rawFloat32(index: i, count: count, scale: scale, offset: offset)
            var sum = 0.0
            raw.withUnsafeBytes { p in
                for j in 0..<count { sum += Double(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: j * 4, as: UInt32.self)))) }
            }
            XCTAssertLessThan(k, sums.count, "\(name): more filled initializers than the script made")
            if k < sums.count { XCTAssertEqual(sum, sums[k], "\(name): initializer \(i) '\(t.name)' regenerated differently") }
            proto.graph.initializer[i].rawData = Data(raw)
            proto.graph.initializer[i].docString = ""
            k += 1
        }
        XCTAssertEqual(k, sums.count, "\(name): filled initializers")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tf2onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("\(name).onnx")
        try proto.serializedData().write(to: url)
        return url.path
    }

    /// `fill_sums` of a fixture's io file (float64).
    func fillSums(_ io: [String: NumpyArray]) throws -> [Double] {
        let a = try XCTUnwrap(io["fill_sums"])
        XCTAssertEqual(a.dtype, .float64)
        return (0..<a.count).map { k in
            Double(bitPattern: (0..<8).reduce(UInt64(0)) { $0 | UInt64(a.bytes[k * 8 + $1]) << (8 * UInt64($1)) })
        }
    }

    /// Imports the filled model, runs the fixture's two NHWC inputs and compares with onnxruntime
    /// within 1e-4 of the largest logit; returns the model and the largest relative difference.
    @discardableResult
    func parity(_ name: String) throws -> (Model, Float) {
        let io = try Npz.readDictionary(URL(fileURLWithPath: fixture("onnx/tf2onnx-\(name)-io.npz")))
        let sums = try fillSums(io)
        let t0 = Date()
        let path = try filled(name, sums: sums)
        let t1 = Date()
        let m = try ModelLoader.load(path)
        print("tf2onnx-\(name): fill \(t1.timeIntervalSince(t0)) s, import \(Date().timeIntervalSince(t1)) s")
        XCTAssertEqual(m.inputLayout, .nhwc)
        XCTAssertEqual(m.graph.inputShape, [3, 32, 32])
        XCTAssertTrue(m.softmaxSplitOff, "\(name): the final Softmax is split off")
        let nhwc = try io["x"]!.tensor(file: "io", key: "x"), want = try io["logits"]!.tensor(file: "io", key: "logits")
        let (n, h, w, c) = (nhwc.shape[0], nhwc.shape[1], nhwc.shape[2], nhwc.shape[3])
        var x = Tensor(shape: [n, c, h, w])
        for b in 0..<n { for ch in 0..<c { for i in 0..<h { for j in 0..<w {
            x.data[((b * c + ch) * h + i) * w + j] = nhwc.data[((b * h + i) * w + j) * c + ch]
        } } } }
        let got = m.graph.forward(x, mode: .inference, keepForBackward: false)
        XCTAssertEqual(got.shape, want.shape, name)
        let scale = max(want.data.map(abs).max() ?? 1, 1e-12)
        let rel = maxAbsDiff(got.data, want.data) / scale
        print("tf2onnx-\(name): max |bss − onnxruntime| / max |logit| = \(rel) (largest logit \(scale))")
        XCTAssertLessThanOrEqual(rel, 1e-4, "\(name) logits")
        for conversion in ["channels-last input [N, H, W, C]", "final Softmax split off"] {
            XCTAssertTrue(m.conversions.contains { $0.contains(conversion) }, "\(name): '\(conversion)' not in \(m.conversions)")
        }
        return (m, rel)
    }

    func testResNet50() throws { try parity("resnet50") }
    func testMobileNetV2() throws {
        let (m, _) = try parity("mobilenetv2")
        XCTAssertTrue(m.graph.nodes.contains { $0.layer.kind == "ReLU6" }, "Clip(0, 6) → ReLU6")
        XCTAssertFalse(m.graph.nodes.contains { $0.layer.kind == "Reshape" }, "tf2onnx's Reshapes of 1×1 maps are dropped")
    }

    func testEfficientNetB0() throws {
        let (m, _) = try parity("efficientnetb0")
        XCTAssertTrue(m.conversions.contains { $0.contains("Rescaling/Normalization") }, "\(m.conversions)")
    }
    func testDenseNet121() throws {
        let (m, _) = try parity("densenet121")
        XCTAssertEqual(m.graph.nodes.filter { $0.layer.kind == "Concat" }.count, 58)
    }

    /// An operator the importer does not map, in every place tf2onnx put a ReLU6: one error
    /// naming every such node.
    func testUnsupportedNodesAreAllNamed() throws {
        let io = try Npz.readDictionary(URL(fileURLWithPath: fixture("onnx/tf2onnx-mobilenetv2-io.npz")))
        let path = try filled("mobilenetv2", sums: try fillSums(io))
        var proto = try Onnx_ModelProto(serializedBytes: Data(contentsOf: URL(fileURLWithPath: path)))
        var renamed: [String] = []
        for i in proto.graph.node.indices where proto.graph.node[i].opType == "Clip" {
            proto.graph.node[i].opType = "Relu6Custom"
            renamed.append(proto.graph.node[i].name)
        }
        XCTAssertGreaterThan(renamed.count, 10)
        try proto.serializedData().write(to: URL(fileURLWithPath: path))
        do {
            _ = try ModelLoader.load(path)
            XCTFail("unsupported nodes must be refused")
        } catch let e as ModelIOError {
            XCTAssertEqual(e.kind, .unsupported)
            XCTAssertTrue(e.description.contains("\(renamed.count) unsupported nodes"), e.description)
            for n in renamed { XCTAssertTrue(e.description.contains("'\(n)' (Relu6Custom)"), n) }
            XCTAssertFalse(e.description.contains("\n"))
        }
    }

    /// The committed files hold no weights: importing one as it is fails with one clear line.
    func testWeightlessFileIsRefusedClearly() throws {
        do {
            _ = try ModelLoader.load(fixture("onnx/tf2onnx-mobilenetv2.onnx"))
            XCTFail("a file without initializer data must not load")
        } catch let e as ModelIOError {
            XCTAssertEqual(e.kind, .malformed, e.description)
            XCTAssertFalse(e.description.contains("\n"))
        }
    }
}

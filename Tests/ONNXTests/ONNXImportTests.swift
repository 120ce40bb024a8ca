import Foundation
import XCTest
import ModelIO
import NN
@testable import ONNX
import Tensor
import TestSupport

/// The ONNX importer against onnxruntime: models exported by
/// `Fixtures/scripts/make_onnx_fixtures.py` (torch.onnx.export, dynamo=False) and the logits
/// onnxruntime gave for them; plus one clear error for each kind of broken file.
final class ONNXImportTests: XCTestCase {
    override class func setUp() { ONNXImport.register() }

    func parity(_ name: String, softmax: Bool) throws -> Model {
        let m = try ModelLoader.load(fixture("onnx/\(name).onnx"))
        let io = try Npz.readDictionary(URL(fileURLWithPath: fixture("onnx/\(name)-io.npz")))
        let x = try io["x"]!.tensor(file: "io", key: "x"), want = try io["logits"]!.tensor(file: "io", key: "logits")
        let got = m.graph.forward(x, mode: .inference, keepForBackward: false)
        XCTAssertEqual(got.shape, want.shape, name)
        // Within 1e-4 relative to the largest logit of the batch.
        let scale = want.data.map(abs).max() ?? 1
        assertAllClose(got.data, want.data, atol: 1e-4 * max(scale, 1e-6), rtol: 0, "\(name) logits")
        XCTAssertEqual(m.softmaxSplitOff, softmax, name)
        XCTAssertEqual(m.format, .onnx)
        return m
    }

    func testDigitsTeacherMatchesOnnxRuntime() throws {
        let m = try parity("digits-teacher", softmax: true)
        XCTAssertEqual(m.formatPayload["onnx.opset"], "17")
        XCTAssertTrue(m.conversions[0].hasPrefix("ONNX opset 17"), m.conversions[0])
        XCTAssertTrue(m.graph.nodes.contains { $0.layer is ZeroPad2D }, "F.pad's folded pads become a ZeroPad2D")
    }

    func testResNet8MatchesOnnxRuntime() throws {
        let m = try parity("resnet8", softmax: false)
        XCTAssertEqual(m.classes, 10)
        // The state dict keys come from the initializer names where PyTorch kept them.
        XCTAssertNotNil(m.graph.index(of: "linear"))
    }

    func testEveryOperatorMatchesOnnxRuntime() throws {
        let m = try parity("ops", softmax: true)
        XCTAssertEqual(m.formatPayload["onnx.opset"], "13")
        let kinds = Set(m.graph.nodes.map { $0.layer.kind })
        for k in ["Conv2D", "BatchNorm", "Linear", "Concat", "MaxPool2D", "AvgPool2D", "Flatten", "Rescaling", "Multiply", "Add"] {
            XCTAssertTrue(kinds.contains(k), "\(k) missing from \(kinds.sorted())")
        }
    }

    func testOpset17HardSwishAndDropoutMatchOnnxRuntime() throws {
        let m = try parity("opset17", softmax: false)
        XCTAssertTrue(m.graph.nodes.contains { $0.layer.kind == "Hardswish" }, m.graph.nodes.map(\.layer.kind).joined(separator: ", "))
    }

    /// Hand-built (onnx.helper), opset 21: Gemm transB=0 with alpha/beta, auto_pad SAME_UPPER,
    /// GlobalMaxPool, Clip with a cap, a value_float Constant, float16/float64/typed-field
    /// initializers and external data inside the model's folder (at an offset).
    func testHandmadeGraphMatchesOnnxRuntime() throws {
        let m = try parity("handmade", softmax: false)
        XCTAssertEqual(m.formatPayload["onnx.opset"], "21")
        XCTAssertTrue(m.conversions.contains { $0.contains("Gemm") }, m.conversions.joined(separator: "; "))
    }

    func testImportedModelHasASpecThatRebuilds() throws {
        let m = try ModelLoader.load(fixture("onnx/ops.onnx"))
        let spec = try XCTUnwrap(m.spec)
        let again = try JSONDecoder().decode(ArchitectureSpec.self, from: spec.jsonData())
        XCTAssertNoThrow(try GraphBuilder.build(again, origin: "roundtrip"))
    }

    // MARK: malformed files: one clear error each

    func error(_ body: () throws -> Void) -> ModelIOError? {
        do { try body(); return nil } catch let e as ModelIOError { return e } catch { XCTFail("\(error)"); return nil }
    }

    func temp(_ bytes: Data, _ name: String = "m.onnx") throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try bytes.write(to: url)
        return url.path
    }

    func testTruncatedFileIsOneLineError() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: fixture("onnx/resnet8.onnx")))
        for cut in [10, good.count / 2, good.count - 3] {
            let path = try temp(good.prefix(cut))
            let e = try XCTUnwrap(error { _ = try ONNXImport.load(path) }, "cut \(cut)")
            XCTAssertFalse(e.description.contains("\n"))
            XCTAssertTrue([.malformed, .mismatch].contains(e.kind), e.description)
        }
    }

    func testBitFlipsNeverCrash() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: fixture("onnx/digits-teacher.onnx")))
        var failures = 0
        // Fixed positions spread over the file (headers, attributes, weights), one bit each.
        for k in 0..<60 {
            var bad = good
            let i = k < 20 ? k * 3 : (k * 7919) % bad.count
            bad[i] ^= UInt8(1 << (k % 8))
            let path = try temp(bad)
            // A flip inside a float weight still loads; anything else must be a clean error.
            if let e = error({ _ = try ONNXImport.load(path) }) { failures += 1; XCTAssertFalse(e.description.contains("\n")) }
        }
        XCTAssertGreaterThan(failures, 0, "some flips must be caught")
    }

    func testMissingInitializer() throws {
        let e = try XCTUnwrap(error { _ = try ONNXImport.load(fixture("onnx/bad-missing-initializer.onnx")) })
        XCTAssertTrue(e.description.contains("'fc'") && e.description.contains("input 'w'") && e.description.contains("missing initializer"), e.description)
    }

    func testCyclicGraph() throws {
        let e = try XCTUnwrap(error { _ = try ONNXImport.load(fixture("onnx/bad-cyclic.onnx")) })
        XCTAssertTrue(e.description.contains("cycle") && e.description.contains("'r1'") && e.description.contains("'add'"), e.description)
    }

    func testEveryUnsupportedNodeNamedInOneLine() throws {
        let e = try XCTUnwrap(error { _ = try ONNXImport.load(fixture("onnx/bad-unsupported.onnx")) })
        XCTAssertEqual(e.kind, .unsupported)
        for n in ["'sin' (Sin)", "'cos' (Cos)", "'erf' (Erf)"] { XCTAssertTrue(e.description.contains(n), e.description) }
        XCTAssertTrue(e.description.contains("3 unsupported nodes"), e.description)
        XCTAssertFalse(e.description.contains("\n"))
    }

    func testExternalDataOutsideTheFolderIsRefused() throws {
        let e = try XCTUnwrap(error { _ = try ONNXImport.load(fixture("onnx/bad-external.onnx")) })
        XCTAssertEqual(e.kind, .unsupported)
        XCTAssertTrue(e.description.contains("outside the model's folder"), e.description)
    }

    func testSymbolicInputNeedsInputShape() throws {
        // resnet8 declares [batch, 3, 32, 32]: a disagreeing --input-shape is refused.
        let e = try XCTUnwrap(error { _ = try ModelLoader.load(fixture("onnx/resnet8.onnx"), inputShape: [3, 16, 16]) })
        XCTAssertTrue(e.description.contains("--input-shape 3,16,16"), e.description)
        XCTAssertNoThrow(try ModelLoader.load(fixture("onnx/resnet8.onnx"), inputShape: [3, 32, 32]))
    }

    /// H and W made symbolic: the per-sample shape must come from --input-shape.
    func testSymbolicHeightAndWidthTakeInputShape() throws {
        var proto = try Onnx_ModelProto(serializedBytes: Data(contentsOf: URL(fileURLWithPath: fixture("onnx/ops.onnx"))))
        guard case var .tensorType(t)? = proto.graph.input[0].type.value else { return XCTFail("no tensor input") }
        for i in 2...3 { t.shape.dim[i].value = .dimParam(i == 2 ? "H" : "W") }
        proto.graph.input[0].type.value = .tensorType(t)
        let path = try temp(proto.serializedData())
        let e = try XCTUnwrap(error { _ = try ModelLoader.load(path) })
        XCTAssertTrue(e.description.contains("[?, 3, ?, ?]") && e.description.contains("--input-shape C,H,W"), e.description)
        let m = try ModelLoader.load(path, inputShape: [3, 9, 9])
        XCTAssertEqual(m.graph.inputShape, [3, 9, 9])
        XCTAssertThrowsError(try ModelLoader.load(path, inputShape: [1, 9, 9]))
    }

    func testArchIsRefused() throws {
        let e = try XCTUnwrap(error { _ = try ModelLoader.load(fixture("onnx/resnet8.onnx"), arch: "heo2019-resnet8") })
        XCTAssertTrue(e.description.contains("--arch"), e.description)
    }
}

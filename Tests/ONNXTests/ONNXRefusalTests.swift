import Foundation
import XCTest
import ModelIO
@testable import ONNX
import TestSupport

/// Graphs built here with the generated messages: what the importer does not model is refused
/// at the node, in one line, and sizes are checked before anything is allocated.
final class ONNXRefusalTests: XCTestCase {
    /// `x [N, 4] → node → Gemm(w [3, 4], transB) → y`, with `node` reading x.
    func model(_ node: Onnx_NodeProto, extra: [Onnx_TensorProto] = [], opset: Int64 = 17) -> Onnx_ModelProto {
        var w = Onnx_TensorProto()
        w.name = "w"; w.dataType = 1; w.dims = [3, 4]; w.floatData = [Float](repeating: 0.5, count: 12)
        var gemm = Onnx_NodeProto()
        gemm.opType = "Gemm"; gemm.name = "fc"; gemm.input = [node.output[0], "w"]; gemm.output = ["y"]
        var transB = Onnx_AttributeProto(); transB.name = "transB"; transB.type = .int; transB.i = 1
        gemm.attribute = [transB]
        var x = Onnx_ValueInfoProto(); x.name = "x"
        var t = Onnx_TypeProto.Tensor(); t.elemType = 1
        for d: Int64 in [1, 4] { var dim = Onnx_TensorShapeProto.Dimension(); dim.value = .dimValue(d); t.shape.dim.append(dim) }
        x.type.value = .tensorType(t)
        var y = Onnx_ValueInfoProto(); y.name = "y"
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var o = Onnx_OperatorSetIdProto(); o.version = opset
        m.opsetImport = [o]
        m.graph.name = "g"; m.graph.node = [node, gemm]; m.graph.input = [x]; m.graph.output = [y]
        m.graph.initializer = [w] + extra
        return m
    }

    func node(_ op: String, _ inputs: [String], attrs: [(String, Float)] = []) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.opType = op; n.name = op.lowercased(); n.input = inputs; n.output = ["h"]
        n.attribute = attrs.map { var a = Onnx_AttributeProto(); a.name = $0.0; a.type = .float; a.f = $0.1; return a }
        return n
    }

    func scalar(_ name: String, _ v: Float) -> Onnx_TensorProto {
        var t = Onnx_TensorProto(); t.name = name; t.dataType = 1; t.floatData = [v]; return t
    }

    func load(_ m: Onnx_ModelProto) throws -> Model {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-refusal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("m.onnx")
        try m.serializedData().write(to: url)
        return try ONNXImport.load(url.path)
    }

    func refusal(_ m: Onnx_ModelProto, mentions: [String], line: UInt = #line) {
        do { _ = try load(m); XCTFail("loaded", line: line) } catch let e as ModelIOError {
            XCTAssertFalse(e.description.contains("\n"), line: line)
            for s in mentions { XCTAssertTrue(e.description.contains(s), e.description, line: line) }
        } catch { XCTFail("\(error)", line: line) }
    }

    func testAcceptedBaseline() throws {
        let m = try load(model(node("Relu", ["x"])))
        XCTAssertEqual(m.classes, 3)
    }

    func testClipWithANegativeMinimumIsRefused() {
        refusal(model(node("Clip", ["x", "lo", "hi"]), extra: [scalar("lo", -1), scalar("hi", 1)]), mentions: ["'clip' (Clip)", "min"])
    }

    func testCappedClipIsACappedReLU() throws {
        let m = try load(model(node("Clip", ["x", "lo", "hi"]), extra: [scalar("lo", 0), scalar("hi", 2.5)]))
        XCTAssertTrue(m.graph.nodes[0].layer.summary.contains("2.5"), m.graph.nodes[0].layer.summary)
    }

    func testHardSigmoidWithOtherConstantsIsRefused() {
        refusal(model(node("HardSigmoid", ["x"], attrs: [("alpha", 0.3), ("beta", 0.5)])), mentions: ["HardSigmoid", "alpha 0.3"])
    }

    func testOpsetOutsideTheRangeIsRefused() {
        refusal(model(node("Relu", ["x"]), opset: 11), mentions: ["opset 11", "13–21"])
    }

    func testOversizedInitializerIsCheckedBeforeAllocating() {
        var big = Onnx_TensorProto()
        big.name = "big"; big.dataType = 1; big.dims = [1 << 20, 1 << 20]; big.rawData = Data(count: 16)
        refusal(model(node("Relu", ["x"]), extra: [big]), mentions: ["initializer 'big'", "too large"])
        big.dims = [1000, 1000]
        refusal(model(node("Relu", ["x"]), extra: [big]), mentions: ["initializer 'big'", "4000000 bytes", "raw_data has 16"])
    }

    func testFloat16TypedFieldsConvert() throws {
        // 1.5 in float16 is 0x3E00, stored in int32_data.
        var s = Onnx_TensorProto(); s.name = "s"; s.dataType = 10; s.int32Data = [0x3E00]
        let m = try load(model(node("Mul", ["x", "s"]), extra: [s]))
        XCTAssertTrue(m.graph.nodes[0].layer.summary.contains("1.5"), m.graph.nodes[0].layer.summary)
    }

    func testSoftmaxInTheMiddleIsRefused() {
        refusal(model(node("Softmax", ["x"])), mentions: ["'softmax' (Softmax)", "final node"])
    }

    func testDomainOperatorIsUnsupported() {
        var n = node("Relu", ["x"]); n.domain = "com.microsoft"
        refusal(model(n), mentions: ["1 unsupported node", "com.microsoft.Relu"])
    }
}

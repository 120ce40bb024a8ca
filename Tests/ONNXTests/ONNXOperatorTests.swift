import Foundation
import XCTest
import ModelIO
import NN
@testable import ONNX
import Tensor
import TestSupport

/// The operators added to the importer after the first set, a student exported with BatchNorm
/// kept, and torch's dynamo exporter, against onnxruntime (fixtures by
/// `Fixtures/scripts/make_onnx_ops2_fixtures.py`): within 1e-4 of the largest logit.
final class ONNXOperatorTests: XCTestCase {
    override class func setUp() { ONNXImport.register() }

    @discardableResult
    func parity(_ name: String, softmax: Bool = false) throws -> Model {
        let m = try ModelLoader.load(fixture("onnx/\(name).onnx"))
        let io = try Npz.readDictionary(URL(fileURLWithPath: fixture("onnx/\(name)-io.npz")))
        let x = try io["x"]!.tensor(file: "io", key: "x"), want = try io["logits"]!.tensor(file: "io", key: "logits")
        let got = m.graph.forward(x, mode: .inference, keepForBackward: false)
        XCTAssertEqual(got.shape, want.shape, name)
        let scale = want.data.map(abs).max() ?? 1
        print("\(name): max |bss − onnxruntime| = \(maxAbsDiff(got.data, want.data)) (largest logit \(scale))")
        assertAllClose(got.data, want.data, atol: 1e-4 * max(scale, 1e-6), rtol: 0, "\(name) logits")
        XCTAssertEqual(m.softmaxSplitOff, softmax, name)
        return m
    }

    /// Sub/Div by constants, constant − x, channel shuffle, Split, the Erf GELU, ReduceMean
    /// (keepdims 1 and 0), SE Mul by [C, 1, 1], Unsqueeze/Squeeze of activations.
    func testNewOperatorsMatchOnnxRuntime() throws {
        let m = try parity("ops2")
        let kinds = Set(m.graph.nodes.map(\.layer.kind))
        for k in ["ChannelShuffle", "ChannelSlice", "GELU", "Multiply", "Rescaling", "GlobalAvgPool", "AdaptiveAvgPool2D"] {
            XCTAssertTrue(kinds.contains(k), "\(k) not in \(kinds.sorted())")
        }
        XCTAssertTrue(m.conversions.contains { $0.contains("Div by a constant") }, m.conversions.joined(separator: "; "))
    }

    func testOpset20GeluMatchesOnnxRuntime() throws {
        let m = try parity("gelu20")
        XCTAssertEqual(m.graph.nodes.filter { $0.layer.kind == "GELU" }.count, 2)
    }

    /// Exported with training=PRESERVE, do_constant_folding=False: BatchNorm stays a layer.
    func testStudentWithBatchNormKept() throws {
        let m = try parity("student-bn")
        XCTAssertEqual(m.graph.nodes.filter { $0.layer is BatchNorm }.count, 2)
    }

    func testDynamoExportedResNet8MatchesOnnxRuntime() throws {
        let m = try parity("dynamo-resnet8")
        XCTAssertEqual(m.formatPayload["onnx.opset"], "20")
    }

    func testDynamoExportedDigitsTeacherMatchesOnnxRuntime() throws { try parity("dynamo-digits-teacher", softmax: true) }

    /// Imports an nhwc-input graph and compares it with onnxruntime's logits for that fixture.
    @discardableResult
    func nhwcParity(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> Model {
        let m = try ModelLoader.load(path)
        XCTAssertEqual(m.inputLayout, .nhwc, file: file, line: line)
        XCTAssertEqual(m.graph.inputShape, [2, 6, 6], file: file, line: line)
        let io = try Npz.readDictionary(URL(fileURLWithPath: fixture("onnx/nhwc-input-io.npz")))
        let nhwc = try io["x"]!.tensor(file: "io", key: "x"), want = try io["logits"]!.tensor(file: "io", key: "logits")
        // NHWC [4, 6, 6, 2] → NCHW, as data stored channels-last is read.
        var x = Tensor(shape: [4, 2, 6, 6])
        for n in 0..<4 { for c in 0..<2 { for h in 0..<6 { for w in 0..<6 {
            x.data[((n * 2 + c) * 6 + h) * 6 + w] = nhwc.data[((n * 6 + h) * 6 + w) * 2 + c]
        } } } }
        let got = m.graph.forward(x, mode: .inference, keepForBackward: false)
        print("nhwc-input: max |bss − onnxruntime| = \(maxAbsDiff(got.data, want.data))")
        assertAllClose(got.data, want.data, atol: 1e-4 * max(want.data.map(abs).max() ?? 1, 1e-6), rtol: 0, "nhwc-input logits", file: file, line: line)
        return m
    }

    /// tf2onnx's layout: an NHWC input transposed to NCHW by the first node becomes the engine's
    /// input with data layout NHWC; the channels-last flatten read only by the MatMul goes into
    /// the Linear's weight columns (no Permute).
    func testChannelsLastInputAsTf2onnxWritesIt() throws {
        let m = try nhwcParity(fixture("onnx/nhwc-input.onnx"))
        // The Flatten reads the ReLU directly, in (c, h, w) order.
        let f = try XCTUnwrap(m.graph.nodes.firstIndex { $0.layer is Flatten })
        guard case let .node(p) = m.graph.nodes[f].inputs[0] else { return XCTFail("the Flatten reads the input") }
        XCTAssertTrue(m.graph.nodes[p].layer is ReLU, m.graph.nodes[p].layer.kind)
        XCTAssertFalse(m.graph.nodes.contains { $0.layer is Permute })
        XCTAssertTrue(m.conversions.contains { $0.contains("channels-last flatten") && $0.contains("no Permute layer") }, m.conversions.joined(separator: "\n"))
        XCTAssertThrowsError(try ModelLoader.load(fixture("onnx/nhwc-input.onnx"), inputShape: [6, 6, 2]), "--input-shape is C,H,W")
        XCTAssertNoThrow(try ModelLoader.load(fixture("onnx/nhwc-input.onnx"), inputShape: [2, 6, 6]))
    }

    /// The same flatten read by a Gemm (transB 0, bias C) folds too; read through another node
    /// (an Identity here) it stays Permute [1, 2, 0] + Flatten. Both give onnxruntime's numbers.
    func testChannelsLastFlattenFoldsOnlyIntoDenseReaders() throws {
        func edited(_ edit: (inout Onnx_ModelProto) -> Void) throws -> String {
            var p = try Onnx_ModelProto(serializedBytes: Data(contentsOf: URL(fileURLWithPath: fixture("onnx/nhwc-input.onnx"))))
            edit(&p)
            let url = temporaryDirectory("onnx-nhwc-flatten").appendingPathComponent("m.onnx")
            try p.serializedData().write(to: url)
            return url.path
        }
        let gemm = try nhwcParity(try edited { p in
            let mm = p.graph.node.firstIndex { $0.opType == "MatMul" }!
            p.graph.node[mm] = node("Gemm", "dense", ["flat", "dense.kernel", "dense.bias"], "output")
            p.graph.node.removeAll { $0.opType == "Add" }
        })
        XCTAssertFalse(gemm.graph.nodes.contains { $0.layer is Permute })
        let kept = try nhwcParity(try edited { p in
            let mm = p.graph.node.firstIndex { $0.opType == "MatMul" }!
            p.graph.node[mm].input[0] = "flat_id"
            p.graph.node.insert(node("Identity", "id", ["flat"], "flat_id"), at: mm)
        })
        XCTAssertEqual(kept.graph.nodes.compactMap { ($0.layer as? Permute)?.dims }, [[1, 2, 0]])
        XCTAssertFalse(kept.conversions.contains { $0.contains("no Permute layer") }, kept.conversions.joined(separator: "\n"))
    }

    /// A one-input graph of `nodes` (opset 17) written to a temporary file.
    func tiny(_ nodes: [Onnx_NodeProto], input: [Int64], output: [Int64], initializers: [Onnx_TensorProto] = []) throws -> String {
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var op = Onnx_OperatorSetIdProto(); op.version = 17
        m.opsetImport = [op]
        m.graph.node = nodes
        m.graph.initializer = initializers
        func info(_ name: String, _ dims: [Int64]) -> Onnx_ValueInfoProto {
            var v = Onnx_ValueInfoProto(); v.name = name
            var tt = Onnx_TypeProto.Tensor(); tt.elemType = 1
            tt.shape.dim = dims.map { var d = Onnx_TensorShapeProto.Dimension(); d.dimValue = $0; return d }
            v.type.tensorType = tt
            return v
        }
        m.graph.input = [info("input", input)]
        m.graph.output = [info("out", output)]
        let url = temporaryDirectory("onnx-tiny").appendingPathComponent("t.onnx")
        try m.serializedData().write(to: url)
        return url.path
    }

    func node(_ op: String, _ name: String, _ inputs: [String], _ output: String, ints: [String: [Int64]] = [:]) -> Onnx_NodeProto {
        var n = Onnx_NodeProto(); n.opType = op; n.name = name; n.input = inputs; n.output = [output]
        n.attribute = ints.map { k, v in var a = Onnx_AttributeProto(); a.name = k; a.type = .ints; a.ints = v; return a }
        return n
    }

    func floats(_ name: String, _ v: [Float], _ dims: [Int64]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto(); t.name = name; t.dataType = 1; t.dims = dims; t.floatData = v
        return t
    }

    func assertRefused(_ path: String, _ mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ModelLoader.load(path), file: file, line: line) { e in
            let text = "\(e)"
            for m in mentions { XCTAssertTrue(text.contains(m), "\(m) not in: \(text)", file: file, line: line) }
            XCTAssertFalse(text.contains("\n"), file: file, line: line)
        }
    }

    /// Broadcasting and arithmetic the engine cannot express: one line naming the node each.
    func testInexpressibleArithmeticIsRefused() throws {
        // Add of [C] and [C, H, W] activations: ONNX would align C with W (per-sample shapes of
        // different rank are not modelled; [C, 1, 1] against [C, H, W] is, ONNXOps3Tests).
        let pooled = node("GlobalAveragePool", "gap", ["input"], "p")
        assertRefused(try tiny([pooled, node("Flatten", "pf", ["p"], "q"), node("Add", "bad_add", ["input", "q"], "s"), node("Flatten", "f", ["s"], "out")],
                               input: [1, 2, 3, 3], output: [1, 18]), ["'bad_add'", "Add of activations", "equal rank"])
        // A constant divided by an activation.
        assertRefused(try tiny([node("Div", "recip", ["two", "input"], "out")], input: [1, 4], output: [1, 4],
                               initializers: [floats("two", [2], [])]), ["'recip'", "divided by an activation"])
        // ReduceMean over channels.
        let rm = node("ReduceMean", "chmean", ["input"], "r", ints: ["axes": [1]])
        assertRefused(try tiny([rm, node("Flatten", "f", ["r"], "out")], input: [1, 2, 3, 3], output: [1, 9]), ["'chmean'", "H and W"])
        // Squeezing the batch axis.
        var sq = node("Squeeze", "sq", ["input", "axes"], "out")
        sq.attribute = []
        var axes = Onnx_TensorProto(); axes.name = "axes"; axes.dataType = 7; axes.dims = [1]; axes.int64Data = [0]
        assertRefused(try tiny([sq], input: [1, 4], output: [4], initializers: [axes]), ["'sq'", "batch"])
    }

    /// A Transpose that moves the batch axis has no engine layer: refused naming the node.
    func testOtherTransposesAreRefused() throws {
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var op = Onnx_OperatorSetIdProto(); op.version = 17
        m.opsetImport = [op]
        var t = Onnx_NodeProto(); t.opType = "Transpose"; t.name = "t"; t.input = ["input"]; t.output = ["y"]
        var perm = Onnx_AttributeProto(); perm.name = "perm"; perm.type = .ints; perm.ints = [1, 0, 2, 3]
        t.attribute = [perm]
        var r = Onnx_NodeProto(); r.opType = "Relu"; r.name = "r"; r.input = ["y"]; r.output = ["out"]
        m.graph.node = [t, r]
        func info(_ name: String, _ dims: [Int64]) -> Onnx_ValueInfoProto {
            var v = Onnx_ValueInfoProto(); v.name = name
            var tt = Onnx_TypeProto.Tensor(); tt.elemType = 1
            tt.shape.dim = dims.map { var d = Onnx_TensorShapeProto.Dimension(); d.dimValue = $0; return d }
            v.type.tensorType = tt
            return v
        }
        m.graph.input = [info("input", [1, 2, 3, 3])]
        m.graph.output = [info("out", [1, 3, 3, 2])]
        let url = temporaryDirectory("onnx-transpose").appendingPathComponent("t.onnx")
        try m.serializedData().write(to: url)
        XCTAssertThrowsError(try ModelLoader.load(url.path)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("'t'") && text.contains("batch axis first"), text)
        }
    }
}

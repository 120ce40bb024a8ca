import Foundation
import XCTest
import ModelIO
import NN
@testable import ONNX
import Tensor
import TestSupport

/// The operators read since ops2 (Fixtures/scripts/make_onnx_ops3_fixtures.py) against
/// onnxruntime, and read back from our own writer: Div of activations, broadcasting
/// Add/Sub/Mul of activations, SELU, the tanh GELU, Resize, LayerNormalization.
final class ONNXOps3Tests: XCTestCase {
    override class func setUp() {
        ONNXImport.register()
        ONNXWriter.register(producerVersion: "test")
    }

    @discardableResult
    func parity(_ name: String) throws -> Model {
        let m = try ModelLoader.load(fixture("onnx/\(name).onnx"))
        let io = try Npz.readDictionary(URL(fileURLWithPath: fixture("onnx/\(name)-io.npz")))
        let x = try io["x"]!.tensor(file: "io", key: "x"), want = try io["logits"]!.tensor(file: "io", key: "logits")
        let got = m.graph.forward(x, mode: .inference, keepForBackward: false)
        XCTAssertEqual(got.shape, want.shape, name)
        let scale = want.data.map(abs).max() ?? 1
        print("\(name): max |bss − onnxruntime| = \(maxAbsDiff(got.data, want.data)) (largest logit \(scale))")
        assertAllClose(got.data, want.data, atol: 1e-5 * max(scale, 1), rtol: 0, "\(name) logits")
        return m
    }

    func kinds(_ m: Model) -> [String] { m.graph.nodes.map { $0.layer.kind + ":" + $0.layer.summary } }

    /// dynamo=False, opset 17: the tanh GELU as arithmetic, Resize with folded scales.
    func testOps3MatchesOnnxRuntime() throws {
        let m = try parity("ops3")
        let k = kinds(m).joined(separator: ", ")
        for s in ["Elementwise:div", "Elementwise:sub", "Elementwise:add", "Elementwise:mul", "LayerNorm", "Upsample2D:×2x2, nearest",
                  "Upsample2D:×2x2, bilinear"] {
            XCTAssertTrue(k.contains(s), "\(s) missing from \(k)")
        }
        XCTAssertTrue(m.conversions.contains { $0.contains("tanh pattern") }, m.conversions.joined(separator: "; "))
        XCTAssertTrue(m.conversions.contains { $0.contains("LayerNorm over channels") }, m.conversions.joined(separator: "; "))
        XCTAssertFalse(k.contains("Tanh"), "the tanh GELU is fused: \(k)")
    }

    /// dynamo=True (opset 20): Gelu, LayerNormalization and Resize as that exporter writes them.
    func testOps3DynamoMatchesOnnxRuntime() throws { try parity("ops3-dynamo") }

    /// x³ as Pow(x, 3), the products grouped as 0.5 · (x · (1 + tanh)).
    func testGeluTanhWithPowMatchesOnnxRuntime() throws {
        let m = try parity("gelu-tanh-pow")
        XCTAssertEqual(m.graph.nodes.filter { $0.layer.summary.contains("tanh") || $0.layer.kind == "GELU" }.count, 1, kinds(m).joined(separator: ", "))
    }

    /// A tanh GELU whose intermediate is read elsewhere is not fused, and the lone Pow is refused.
    func testGeluTanhWithALeakingIntermediateIsNotFused() throws {
        var proto = try Onnx_ModelProto(serializedBytes: Data(contentsOf: URL(fileURLWithPath: fixture("onnx/gelu-tanh-pow.onnx"))))
        // fc2 reads the tanh's output instead of the GELU's.
        let i = proto.graph.node.firstIndex { $0.name == "fc2" }!
        proto.graph.node[i].input[0] = "t"
        let url = temporaryDirectory("onnx-gelu-leak").appendingPathComponent("m.onnx")
        try proto.serializedData().write(to: url)
        XCTAssertThrowsError(try ONNXImport.load(url.path)) { e in
            XCTAssertTrue("\(e)".contains("'pow' (Pow)"), "\(e)")
        }
    }

    /// Our writer's forms of SELU, tanh GELU, LayerNorm (features and channels), nearest and
    /// bilinear upsampling and the Elementwise layers are read back bit for bit.
    func testWriterFormsReadBack() throws {
        let layers = """
            [{"name": "c1", "type": "conv2d", "in_channels": 3, "out_channels": 6, "kernel": 3, "padding": 1},
             {"name": "a1", "type": "selu"},
             {"name": "ln", "type": "layernorm", "channels": 6, "eps": 0.001},
             {"name": "up", "type": "upsample2d", "scale_factor": 2, "mode": "nearest"},
             {"name": "g", "type": "gelu", "approximate": "tanh"},
             {"name": "mp", "type": "maxpool2d", "kernel": 4},
             {"name": "ub", "type": "upsample2d", "scale_factor": [2, 1], "mode": "bilinear"},
             {"name": "q", "type": "conv2d", "in_channels": 6, "out_channels": 1, "kernel": 1},
             {"name": "s", "type": "sigmoid"},
             {"name": "d", "type": "elementwise_div", "inputs": ["ub", "s"]},
             {"name": "gp", "type": "adaptive_avgpool2d", "output_size": 1, "inputs": ["ub"]},
             {"name": "sb", "type": "elementwise_sub", "inputs": ["d", "gp"]},
             {"name": "ad", "type": "elementwise_add", "inputs": ["gp", "sb"]},
             {"name": "ml", "type": "elementwise_mul", "inputs": ["s", "ad"]},
             {"name": "fl", "type": "flatten"},
             {"name": "fc", "type": "linear", "in_features": 48, "out_features": 8},
             {"name": "ln2", "type": "layernorm", "channels": 8},
             {"name": "fc2", "type": "linear", "in_features": 8, "out_features": 4}]
            """
        let json = "{\"name\": \"writer-forms\", \"input_shape\": [3, 4, 4], \"classes\": 4, \"layers\": \(layers)}"
        let spec = try JSONDecoder().decode(ArchitectureSpec.self, from: Data(json.utf8))
        let m = Model(graph: try GraphBuilder.build(spec, origin: "writer-forms"), format: .architectureOnly, architectureName: "writer-forms", spec: spec)
        var g = SeededGenerator(seed: 8)
        initialiseLikePyTorch(m.graph, generator: &g)
        for node in m.graph.nodes where node.layer is LayerNorm {
            for (k, p) in node.layer.parameters.enumerated() {
                p.value = Tensor(shape: p.value.shape, data: GradientCheck.randomTensor(p.value.shape, seed: UInt64(20 + k)).data.map { (k == 0 ? 1 : 0) + 0.3 * $0 })
            }
        }
        let url = temporaryDirectory("onnx-writer-forms").appendingPathComponent("m.onnx")
        try ModelWriter.write(m, to: url)
        let back = try ModelLoader.load(url.path)
        XCTAssertEqual(kinds(back).sorted(), kinds(m).sorted())
        let x = GradientCheck.randomTensor([3, 3, 4, 4], seed: 9)
        XCTAssertEqual(back.graph.forward(x, mode: .inference, keepForBackward: false).data,
                       m.graph.forward(x, mode: .inference, keepForBackward: false).data)
    }

    /// Shapes the engine cannot broadcast, and ONNX's LayerNormalization over C, H, W, are
    /// refused at the node.
    func testUnmodelledFormsAreRefused() throws {
        func load(_ edit: (inout Onnx_ModelProto) -> Void) throws -> String {
            var proto = try Onnx_ModelProto(serializedBytes: Data(contentsOf: URL(fileURLWithPath: fixture("onnx/ops3.onnx"))))
            edit(&proto)
            let url = temporaryDirectory("onnx-ops3-refuse").appendingPathComponent("m.onnx")
            try proto.serializedData().write(to: url)
            do { _ = try ONNXImport.load(url.path); return "loaded" } catch { return "\(error)" }
        }
        // The LayerNorm over channels with its Transposes removed: axis −1 of [N, C, H, W].
        let text = try load { p in
            let ln = p.graph.node.firstIndex { $0.opType == "LayerNormalization" }!
            let before = p.graph.node.first { $0.output.contains(p.graph.node[ln].input[0]) }!
            p.graph.node[ln].input[0] = before.input[0]
            let after = p.graph.node.firstIndex { $0.input.contains(p.graph.node[ln].output[0]) }!
            p.graph.node[after].opType = "Identity"; p.graph.node[after].attribute = []
        }
        XCTAssertTrue(text.contains("LayerNormalization") && text.contains("over the features"), text)
    }
}

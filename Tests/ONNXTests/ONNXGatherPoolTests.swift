import Foundation
import XCTest
import ModelIO
import NN
@testable import ONNX
import Tensor
import TestSupport

/// torch.export's adaptive average pool (Transpose → GatherND → Transpose → ReduceMean,
/// Fixtures/scripts/make_onnx_gatherpool_fixtures.py) → AdaptiveAvgPool2D, against onnxruntime;
/// indices that are not the pool's windows, and other structures, are refused.
final class ONNXGatherPoolTests: XCTestCase {
    override class func setUp() { ONNXImport.register() }

    static let name = "adaptive-pool-dynamo"

    func proto() throws -> Onnx_ModelProto {
        try Onnx_ModelProto(serializedBytes: Data(contentsOf: URL(fileURLWithPath: fixture("onnx/\(Self.name).onnx"))))
    }

    func write(_ p: Onnx_ModelProto) throws -> String {
        let url = temporaryDirectory("onnx-gather-pool").appendingPathComponent("m.onnx")
        try p.serializedData().write(to: url)
        return url.path
    }

    func load(_ edit: (inout Onnx_ModelProto) throws -> Void) throws -> String {
        var p = try proto()
        try edit(&p)
        do { _ = try ModelLoader.load(try write(p)); return "loaded" } catch { return "\(error)" }
    }

    @discardableResult
    func parity(_ path: String) throws -> Model {
        let m = try ModelLoader.load(path)
        let io = try Npz.readDictionary(URL(fileURLWithPath: fixture("onnx/\(Self.name)-io.npz")))
        let x = try io["x"]!.tensor(file: "io", key: "x"), want = try io["logits"]!.tensor(file: "io", key: "logits")
        let got = m.graph.forward(x, mode: .inference, keepForBackward: false)
        XCTAssertEqual(got.shape, want.shape)
        let scale = want.data.map(abs).max() ?? 1
        print("\(Self.name): max |bss − onnxruntime| = \(maxAbsDiff(got.data, want.data)) (largest logit \(scale))")
        assertAllClose(got.data, want.data, atol: 1e-5 * max(scale, 1), rtol: 0, "\(Self.name) logits")
        return m
    }

    /// The int64 index initializer read by GatherND number `k`, as values and its position.
    func indices(_ p: Onnx_ModelProto, _ k: Int) throws -> (init: Int, values: [Int64]) {
        let g = p.graph.node.filter { $0.opType == "GatherND" }[k]
        let i = try XCTUnwrap(p.graph.initializer.firstIndex { $0.name == g.input[1] })
        let t = p.graph.initializer[i]
        XCTAssertEqual(t.dataType, 7, "int64 indices")
        let v = t.rawData.isEmpty ? t.int64Data : t.rawData.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) }
        return (i, v)
    }

    func setIndices(_ p: inout Onnx_ModelProto, _ i: Int, _ v: [Int64]) {
        p.graph.initializer[i].int64Data = []
        p.graph.initializer[i].rawData = v.withUnsafeBufferPointer { Data(buffer: $0) }
    }

    /// 8×14 → 7×7, 4×7 → 2×3 and 1×1 → 3×5 (windows of 2, 2×3 and 1), each one AdaptiveAvgPool2D.
    func testPoolsMatchOnnxRuntime() throws {
        let m = try parity(fixture("onnx/\(Self.name).onnx"))
        let k = m.graph.nodes.map { $0.layer.kind + ":" + $0.layer.summary }
        for s in ["AdaptiveAvgPool2D:to 7x7", "AdaptiveAvgPool2D:to 2x3", "AdaptiveAvgPool2D:to 3x5"] {
            XCTAssertTrue(k.contains(s), "\(s) missing from \(k)")
        }
        XCTAssertEqual(m.conversions.filter { $0.contains("GatherND") && $0.contains("AdaptiveAvgPool2D") }.count, 1, m.conversions.joined(separator: "\n"))
        XCTAssertFalse(k.contains { $0.hasPrefix("Permute") }, "\(k)")
    }

    /// The same pool gathering (w, h) pairs from a Transpose(3, 2, 0, 1), with its index axes in
    /// the order [Oh, Ow, Kh, Kw] and the ReduceMean over the last two: the same numbers.
    func testEquivalentArrangementsMatch() throws {
        var p = try proto()
        let (ii, v) = try indices(p, 0)
        let dims = p.graph.initializer[ii].dims.map(Int.init)   // [7, 2, 7, 2, 2]
        XCTAssertEqual(dims, [7, 2, 7, 2, 2])
        var out = [Int64](repeating: 0, count: v.count)
        for a in 0..<7 { for kh in 0..<2 { for b in 0..<7 { for kw in 0..<2 {
            let src = (((a * 2 + kh) * 7 + b) * 2 + kw) * 2, dst = (((a * 7 + b) * 2 + kh) * 2 + kw) * 2
            out[dst] = v[src + 1]; out[dst + 1] = v[src]
        } } } }
        setIndices(&p, ii, out)
        p.graph.initializer[ii].dims = [7, 7, 2, 2, 2]
        let gi = p.graph.node.firstIndex { $0.opType == "GatherND" }!
        let ti = p.graph.node.firstIndex { $0.output.contains(p.graph.node[gi].input[0]) }!
        let pi = try XCTUnwrap(p.graph.node[ti].attribute.firstIndex { $0.name == "perm" })
        p.graph.node[ti].attribute[pi].ints = [3, 2, 0, 1]
        let ri = p.graph.node.firstIndex { $0.opType == "ReduceMean" }!
        let axes = "bss-test-axes"
        var t = Onnx_TensorProto(); t.name = axes; t.dataType = 7; t.dims = [2]
        t.rawData = [Int64(4), 5].withUnsafeBufferPointer { Data(buffer: $0) }
        p.graph.initializer.append(t)
        p.graph.node[ri].input[1] = axes
        try parity(try write(p))
    }

    /// One gathered position moved: the pool's window is not what is averaged, so the GatherND is
    /// refused naming the output position and the window.
    func testWrongIndicesAreRefused() throws {
        let text = try load { p in
            let (ii, v) = try indices(p, 0)
            var w = v; w[0] = 1   // output (0, 0) reads (1, 0) twice instead of (0, 0)
            setIndices(&p, ii, w)
        }
        XCTAssertTrue(text.contains("(GatherND)") && text.contains("output (0, 0)") && text.contains("rows 0..<2 × columns 0..<2"), text)
        let outside = try load { p in
            let (ii, v) = try indices(p, 2)
            var w = v; w[1] = 3
            setIndices(&p, ii, w)
        }
        XCTAssertTrue(outside.contains("(GatherND)") && outside.contains("outside the 1×1 map"), outside)
    }

    /// keepdims 1 (or any other structure) is not the pattern: GatherND stays an unsupported operator.
    func testOtherStructuresStayUnsupported() throws {
        let text = try load { p in
            let ri = p.graph.node.firstIndex { $0.opType == "ReduceMean" }!
            p.graph.node[ri].attribute = p.graph.node[ri].attribute.map { a in
                var a = a; if a.name == "keepdims" { a.i = 1 }; return a
            }
        }
        XCTAssertTrue(text.contains("1 unsupported node") && text.contains("(GatherND)"), text)
        let shared = try load { p in
            // The gathered tensor is also read by the output's Concat (no longer inside the pattern).
            let gi = p.graph.node.firstIndex { $0.opType == "GatherND" }!
            let fc = p.graph.node.firstIndex { $0.opType == "Concat" }!
            p.graph.node[fc].input.append(p.graph.node[gi].output[0])
        }
        XCTAssertTrue(shared.contains("unsupported node") && shared.contains("(GatherND)"), shared)
    }
}

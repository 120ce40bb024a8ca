import Distill
import Foundation
import ModelIO
import NN
import Tensor
import TestSupport
import XCTest

/// The feature losses (docs/algorithm.md, "Feature methods"): values and gradients against
/// RepDistiller's own modules on fixed tensors (`Fixtures/features/feature-losses.npz`, made by
/// `Fixtures/scripts/make_feature_loss_fixtures.py` from a RepDistiller checkout), gradients by
/// central differences, and the FitNets regressor's kernel choice and output against `ConvReg`.
final class FeatureLossTests: XCTestCase {
    var ref: [String: NumpyArray] = [:]

    override func setUpWithError() throws {
        ref = try Npz.readDictionary(URL(fileURLWithPath: fixture("features/feature-losses.npz")))
    }

    func tensor(_ key: String) throws -> Tensor {
        try XCTUnwrap(ref[key], "fixture key \(key) missing").tensor()
    }
    func floats(_ key: String) throws -> [Float] { try tensor(key).data }

    /// Central differences of `loss` at `x`, in Double from Float evaluations.
    func numericGradient(_ x: Tensor, h: Float = 1e-2, _ loss: (Tensor) -> Float) -> [Float] {
        (0..<x.count).map { i in
            var p = x, m = x
            p.data[i] += h; m.data[i] -= h
            return Float((Double(loss(p)) - Double(loss(m))) / Double(2 * h))
        }
    }

    // MARK: - Parity with RepDistiller

    func testHintLossMatchesRepDistiller() throws {
        let (l, g) = hintLoss(student: try tensor("hint.s"), teacher: try tensor("hint.t"))
        XCTAssertEqual(l, try floats("hint.loss")[0], accuracy: 1e-5)
        assertAllClose(g.data, try floats("hint.grad"), atol: 1e-6, rtol: 1e-5, "hint gradient")
    }

    func testAttentionMatchesRepDistiller() throws {
        assertAllClose(AttentionTransfer.maps(try tensor("at.same.s")).data, try floats("at.same.map_s"), atol: 1e-6, rtol: 1e-5, "attention map")
        for c in ["same", "pool_s", "pool_t"] {
            let (l, g) = AttentionTransfer.loss(student: try tensor("at.\(c).s"), teacher: try tensor("at.\(c).t"))
            XCTAssertEqual(l, try floats("at.\(c).loss")[0], accuracy: 1e-6, c)
            XCTAssertEqual(g.shape, try tensor("at.\(c).s").shape)
            assertAllClose(g.data, try floats("at.\(c).grad"), atol: 1e-7, rtol: 1e-4, "attention gradient, \(c)")
        }
    }

    func testFSPMatchesRepDistiller() throws {
        let s = try (0..<3).map { try tensor("fsp.s\($0)") }, t = try (0..<3).map { try tensor("fsp.t\($0)") }
        assertAllClose(FlowOfSolution.matrix(s[0], s[1]).data, try floats("fsp.matrix0"), atol: 1e-6, rtol: 1e-5, "FSP matrix")
        let (l, g) = FlowOfSolution.loss(student: s, teacher: t)
        XCTAssertEqual(l, try floats("fsp.loss")[0], accuracy: 1e-5)
        for k in 0..<3 { assertAllClose(g[k].data, try floats("fsp.grad\(k)"), atol: 1e-7, rtol: 1e-4, "FSP gradient \(k)") }
    }

    func testRegressorMatchesConvReg() throws {
        for c in ["half", "valid", "same"] {
            let x = try tensor("convreg.\(c).x"), y = try tensor("convreg.\(c).y"), w = try tensor("convreg.\(c).weight")
            let reg = try FeatureRegressor.build(student: Array(x.shape.dropFirst()), teacher: Array(y.shape.dropFirst())).get()
            let conv = reg.nodes[0].layer as! Conv2D
            XCTAssertEqual([conv.kernel.0, conv.kernel.1], try ref["convreg.\(c).kernel"]!.int64s().map { Int($0) }, c)
            XCTAssertEqual(conv.stride.0, Int(try ref["convreg.\(c).stride"]!.int64s()[0]), c)
            XCTAssertEqual(conv.padding.top, Int(try ref["convreg.\(c).padding"]!.int64s()[0]), c)
            conv.weight.value = w
            conv.bias!.value = try tensor("convreg.\(c).bias")
            let out = reg.forward(x, mode: .training)
            assertAllClose(out.data, y.data, atol: 1e-4, rtol: 1e-4, "ConvReg output, \(c)")
        }
        // A smaller student map has no regressor.
        guard case .failure = FeatureRegressor.build(student: [4, 2, 2], teacher: [4, 4, 4]) else { return XCTFail("expected a failure") }
    }

    // MARK: - Finite differences

    func testAdaptivePoolingGradient() {
        let x = GradientCheck.randomTensor([2, 2, 5, 7], seed: 3)
        let w = GradientCheck.randomTensor([2, 2, 3, 3], seed: 4)
        func f(_ x: Tensor) -> Float { zip(adaptiveAvgPool2d(x, height: 3, width: 3).data, w.data).reduce(0) { $0 + $1.0 * $1.1 } }
        let g = adaptiveAvgPool2dBackward(w, inputShape: x.shape)
        assertAllClose(g.data, numericGradient(x, f), atol: 2e-3, rtol: 1e-2, "adaptive pooling gradient")
    }

    func testHintGradient() {
        let s = GradientCheck.randomTensor([2, 3, 2, 2], seed: 5), t = GradientCheck.randomTensor([2, 3, 2, 2], seed: 6)
        assertAllClose(hintLoss(student: s, teacher: t).grad.data, numericGradient(s) { hintLoss(student: $0, teacher: t).loss },
                       atol: 2e-4, rtol: 1e-2, "hint gradient")
    }

    func testAttentionGradient() {
        for (ss, ts) in [([2, 3, 3, 3], [2, 2, 3, 3]), ([2, 2, 5, 5], [2, 3, 3, 3]), ([2, 2, 2, 2], [2, 3, 4, 4])] {
            let s = GradientCheck.randomTensor(ss, seed: 7), t = GradientCheck.randomTensor(ts, seed: 8)
            let g = AttentionTransfer.loss(student: s, teacher: t).grad
            assertAllClose(g.data, numericGradient(s, h: 1e-3) { AttentionTransfer.loss(student: $0, teacher: t).loss },
                           atol: 5e-4, rtol: 2e-2, "attention gradient \(ss) vs \(ts)")
        }
    }

    func testFSPGradient() {
        let s = [[2, 2, 5, 5], [2, 3, 3, 3], [2, 2, 3, 3]].enumerated().map { GradientCheck.randomTensor($1, seed: 10 + UInt64($0)) }
        let t = [[2, 2, 4, 4], [2, 3, 4, 4], [2, 2, 2, 2]].enumerated().map { GradientCheck.randomTensor($1, seed: 20 + UInt64($0)) }
        let (_, g) = FlowOfSolution.loss(student: s, teacher: t)
        for k in 0..<3 {
            let numeric = numericGradient(s[k]) { x in
                var v = s; v[k] = x
                return FlowOfSolution.loss(student: v, teacher: t).loss
            }
            assertAllClose(g[k].data, numeric, atol: 2e-4, rtol: 1e-2, "FSP gradient of map \(k)")
        }
    }
}

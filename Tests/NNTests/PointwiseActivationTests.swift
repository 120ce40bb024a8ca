import XCTest
import TestSupport
import NN
import Tensor

/// Forward formulas and finite-difference checks of every `PointwiseActivation` function
/// (parity with PyTorch and Keras: ModelIOTests/ActivationParityTests.swift).
final class PointwiseActivationTests: XCTestCase {
    static let functions: [PointwiseActivation.Function] = [
        .relu6, .leakyReLU(slope: 0.1), .kerasReLU(maxValue: 4, negativeSlope: 0.2, threshold: 0.5),
        .kerasReLU(maxValue: nil, negativeSlope: 0, threshold: 1), .elu(alpha: 0.7), .selu, .geluErf, .geluTanh,
        .silu, .hardswish, .hardsigmoidTorch, .hardsigmoidKeras2,
    ]

    /// Inputs in [-8, 8) kept ≥ 0.05 away from every kink (0, ±3, 6, ±2.5, 0.5, 1, 4), so no
    /// kink lies inside ±h of a checked point.
    let x: Tensor = {
        var t = GradientCheck.randomTensor([3, 2, 4, 4], seed: 21)
        let kinks: [Float] = [0, 3, -3, 6, 2.5, -2.5, 0.5, 1, 4]
        t.data = t.data.map { v in
            var y = 8 * v
            for k in kinks where abs(y - k) < 0.05 { y = k + (y < k ? -0.05 : 0.05) }
            return y
        }
        return t
    }()

    func testGradients() {
        for f in Self.functions {
            let layer = PointwiseActivation(f)
            let report = GradientCheck.check(layer, inputs: [x], h: 1e-2)
            XCTAssertTrue(report.passed, "\(f): \(report.description)")
        }
    }

    func testForwardFormulas() {
        let v = Tensor(shape: [1, 7], data: [-4, -3, -1, 0, 0.5, 3, 7])
        func run(_ f: PointwiseActivation.Function) -> [Float] { PointwiseActivation(f).forward([v], mode: .inference).data }
        XCTAssertEqual(run(.relu6), [0, 0, 0, 0, 0.5, 3, 6])
        XCTAssertEqual(run(.leakyReLU(slope: 0.5)), [-2, -1.5, -0.5, 0, 0.5, 3, 7])
        assertAllClose(run(.hardsigmoidTorch), [0, 0, 2.0 / 6, 0.5, 3.5 / 6, 1, 1], "hardsigmoid (PyTorch)")
        assertAllClose(run(.hardsigmoidKeras2), [0, 0, 0.3, 0.5, 0.6, 1, 1], "hardsigmoid (Keras 2)")
        assertAllClose(run(.hardswish), [0, 0, -1.0 / 3, 0, 0.5 * 3.5 / 6, 3, 7], "hardswish")
        // Keras ReLU(max_value=4, negative_slope=0.2, threshold=0.5): 0.2·(x − 0.5) below, clipped at 4.
        assertAllClose(run(.kerasReLU(maxValue: 4, negativeSlope: 0.2, threshold: 0.5)),
                       [-0.9, -0.7, -0.3, -0.1, 0, 3, 4], "Keras ReLU")
        assertAllClose(run(.elu(alpha: 2)), [-4, -3, -1, 0, 0.5, 3, 7].map { $0 > 0 ? $0 : 2 * (exp($0) - 1) }, "elu")
        assertAllClose(run(.silu), [-4, -3, -1, 0, 0.5, 3, 7].map { $0 / (1 + exp(-$0)) }, "silu")
    }

    func testShapesAndNames() throws {
        let l = PointwiseActivation(.geluTanh)
        XCTAssertEqual(try l.outputShape(for: [[3, 4, 4]]), [3, 4, 4])
        XCTAssertThrowsError(try l.outputShape(for: [[3], [3]]))
        XCTAssertEqual(l.kind, "GELU")
        XCTAssertEqual(l.summary, "tanh approximation")
        XCTAssertEqual(PointwiseActivation(.hardsigmoidKeras2).kind, "Hardsigmoid (Keras 2)")
        XCTAssertEqual(l.backwardReads, .inputs)
    }

    /// Inference results of one sample do not depend on the rest of the batch.
    func testBatchIndependence() {
        for f in Self.functions {
            let layer = PointwiseActivation(f)
            let all = layer.forward([x], mode: .inference)
            let one = layer.forward([Tensor(shape: [1, 2, 4, 4], data: Array(x.data[32..<64]))], mode: .inference)
            XCTAssertEqual(Array(all.data[32..<64]), one.data, "\(f)")
        }
    }
}

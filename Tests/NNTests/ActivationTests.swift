import XCTest
import TestSupport
import NN
import Tensor

final class ActivationTests: XCTestCase {
    /// Random input in [-2, 2) kept ≥ 0.05 away from 0, so ReLU's kink is not inside ±h.
    let x: Tensor = {
        var t = GradientCheck.randomTensor([4, 3, 2, 2], seed: 8)
        t.data = t.data.map { v in 2 * (abs(v) < 0.05 ? (v < 0 ? -0.05 : 0.05) : v) }
        return t
    }()

    func testGradients() {
        for layer in [ReLU(), Sigmoid(), Tanh()] as [Layer] {
            let report = GradientCheck.check(layer, inputs: [x])
            XCTAssertTrue(report.passed, "\(layer.kind): \(report.description)")
        }
        let logits = GradientCheck.randomTensor([5, 6], seed: 9)
        let report = GradientCheck.check(Softmax(), inputs: [logits])
        XCTAssertTrue(report.passed, "Softmax: \(report.description)")
    }

    func testForwardValues() {
        let v = Tensor(shape: [1, 4], data: [-1, 0, 0.5, 3])
        XCTAssertEqual(ReLU().forward([v], mode: .inference).data, [0, 0, 0.5, 3])
        assertAllClose(Sigmoid().forward([v], mode: .inference).data, [-1, 0, 0.5, 3].map { 1 / (1 + exp(-$0)) }, "sigmoid")
        assertAllClose(Tanh().forward([v], mode: .inference).data, [-1, 0, 0.5, 3].map { tanh($0) }, "tanh")
        let p = Softmax().forward([v], mode: .inference).data
        let e = [-1, 0, 0.5, 3].map { exp(Float($0)) }, z = e.reduce(0, +)
        assertAllClose(p, e.map { $0 / z }, "softmax")
        // Huge logits do not overflow.
        let big = Softmax().forward([Tensor(shape: [1, 2], data: [1000, 1000])], mode: .inference)
        assertAllClose(big.data, [0.5, 0.5], "softmax of large logits")
        XCTAssertEqual(Sigmoid().forward([Tensor(shape: [1, 2], data: [-200, 200])], mode: .inference).data, [0, 1])
    }

    func testShapes() throws {
        XCTAssertEqual(try ReLU().outputShape(for: [[3, 4, 4]]), [3, 4, 4])
        XCTAssertThrowsError(try ReLU().outputShape(for: [[3], [3]]))
        XCTAssertEqual(try Softmax().outputShape(for: [[10]]), [10])
        XCTAssertThrowsError(try Softmax().outputShape(for: [[3, 4, 4]]))
    }
}

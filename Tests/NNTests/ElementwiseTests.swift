import XCTest
import TestSupport
import NN
import Tensor

/// Elementwise add/sub/mul/div with broadcasting: values by hand, shapes, gradient checks.
final class ElementwiseTests: XCTestCase {
    func r(_ shape: [Int], _ seed: UInt64) -> Tensor { GradientCheck.randomTensor(shape, seed: seed) }

    func testShapes() throws {
        let e = Elementwise(.add)
        XCTAssertEqual(try e.outputShape(for: [[3, 4, 4], [3, 1, 1]]), [3, 4, 4])
        XCTAssertEqual(try e.outputShape(for: [[1, 4, 4], [3, 4, 4]]), [3, 4, 4])
        XCTAssertEqual(try e.outputShape(for: [[3, 1, 4], [1, 5, 1]]), [3, 5, 4])
        XCTAssertThrowsError(try e.outputShape(for: [[3, 4, 4], [3]]))
        XCTAssertThrowsError(try e.outputShape(for: [[3, 4, 4], [2, 1, 1]]))
        XCTAssertThrowsError(try e.outputShape(for: [[3, 4, 4]]))
    }

    func testValuesByHand() {
        // a [1, 2, 1, 2], b [1, 1, 1, 2] (per-position operand over two channels).
        let a = Tensor(shape: [1, 2, 1, 2], data: [1, 2, 3, 4]), b = Tensor(shape: [1, 1, 1, 2], data: [2, -4])
        XCTAssertEqual(LayerCall(Elementwise(.add)).forward([a, b], mode: .inference).data, [3, -2, 5, 0])
        XCTAssertEqual(LayerCall(Elementwise(.sub)).forward([a, b], mode: .inference).data, [-1, 6, 1, 8])
        XCTAssertEqual(LayerCall(Elementwise(.sub)).forward([b, a], mode: .inference).data, [1, -6, -1, -8])
        XCTAssertEqual(LayerCall(Elementwise(.mul)).forward([a, b], mode: .inference).data, [2, -8, 6, -16])
        XCTAssertEqual(LayerCall(Elementwise(.div)).forward([a, b], mode: .inference).data, [0.5, -0.5, 1.5, -1])
        XCTAssertEqual(LayerCall(Elementwise(.div)).forward([b, a], mode: .inference).data, [2, -2, 2 / 3, -1])
    }

    func testGradients() {
        for op in Elementwise.Operation.allCases {
            for (k, shapes) in [[[2, 3, 2, 2], [2, 3, 2, 2]], [[2, 3, 2, 2], [2, 3, 1, 1]], [[2, 1, 2, 2], [2, 3, 2, 2]],
                                [[2, 3, 1, 2], [2, 1, 2, 1]], [[2, 4], [2, 1]]].enumerated() {
                var b = r(shapes[1], UInt64(10 * k + 2))
                // Divisors kept away from 0 so the finite differences are well conditioned.
                if op == .div { b = Tensor(shape: b.shape, data: b.data.map { $0 >= 0 ? 1 + $0 : $0 - 1 }) }
                let report = GradientCheck.check(Elementwise(op), inputs: [r(shapes[0], UInt64(10 * k + 1)), b])
                XCTAssertTrue(report.passed, "\(op) \(shapes): \(report.description)")
            }
        }
    }
}

import XCTest
import TestSupport
import NN
import Tensor

/// Concat, Multiply, ChannelSlice, ChannelShuffle: values by hand, shapes, gradient checks.
final class MergeLayerTests: XCTestCase {
    func r(_ shape: [Int], _ seed: UInt64) -> Tensor { GradientCheck.randomTensor(shape, seed: seed) }

    func testConcatByHandAndGradients() throws {
        let c = Concat()
        XCTAssertEqual(try c.outputShape(for: [[2, 3, 3], [1, 3, 3], [4, 3, 3]]), [7, 3, 3])
        XCTAssertEqual(try c.outputShape(for: [[5]]), [5])
        XCTAssertThrowsError(try c.outputShape(for: [[2, 3, 3], [1, 3, 4]]))
        XCTAssertThrowsError(try c.outputShape(for: []))
        let a = Tensor(shape: [2, 1, 2], data: [1, 2, 3, 4]), b = Tensor(shape: [2, 2, 2], data: [5, 6, 7, 8, 9, 10, 11, 12])
        XCTAssertEqual(LayerCall(c).forward([a, b], mode: .inference).data, [1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12])
        let report = GradientCheck.check(c, inputs: [r([3, 2, 2, 3], 1), r([3, 1, 2, 3], 2), r([3, 3, 2, 3], 3)])
        XCTAssertTrue(report.passed, report.description)
    }

    func testMultiplyBroadcastsAPerChannelOperandEitherWay() throws {
        let m = Multiply()
        XCTAssertEqual(try m.outputShape(for: [[3, 4, 4], [3, 1, 1]]), [3, 4, 4])
        XCTAssertEqual(try m.outputShape(for: [[3], [3, 4, 4]]), [3, 4, 4])
        XCTAssertEqual(try m.outputShape(for: [[3, 4, 4], [3, 4, 4]]), [3, 4, 4])
        XCTAssertThrowsError(try m.outputShape(for: [[3, 4, 4], [2, 1, 1]]))
        XCTAssertThrowsError(try m.outputShape(for: [[3, 4, 4], [3, 4, 1]]))
        XCTAssertThrowsError(try m.outputShape(for: [[3, 4, 4]]))
        let x = Tensor(shape: [1, 2, 1, 2], data: [1, 2, 3, 4]), s = Tensor(shape: [1, 2], data: [10, -1])
        XCTAssertEqual(LayerCall(m).forward([x, s], mode: .inference).data, [10, 20, -3, -4])
        XCTAssertEqual(LayerCall(m).forward([s, x], mode: .inference).data, [10, 20, -3, -4])
        for inputs in [[r([2, 3, 3, 2], 4), r([2, 3, 1, 1], 5)], [r([2, 3], 6), r([2, 3, 2, 2], 7)], [r([2, 3, 2, 2], 8), r([2, 3, 2, 2], 9)]] {
            let report = GradientCheck.check(m, inputs: inputs)
            XCTAssertTrue(report.passed, report.description)
        }
    }

    func testChannelSlice() throws {
        let s = ChannelSlice(start: 1, end: 3)
        XCTAssertEqual(try s.outputShape(for: [[4, 2, 2]]), [2, 2, 2])
        XCTAssertThrowsError(try ChannelSlice(start: 2, end: 5).outputShape(for: [[4, 2, 2]])) {
            XCTAssertTrue("\($0)".contains("channels [2, 5) of an input with 4 channels"), "\($0)")
        }
        XCTAssertEqual(s.summary, "channels [1, 3)")
        let x = Tensor(shape: [2, 4, 1, 1], data: [0, 1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(LayerCall(s).forward([x], mode: .inference).data, [1, 2, 5, 6])
        let report = GradientCheck.check(s, inputs: [r([3, 4, 2, 3], 10)])
        XCTAssertTrue(report.passed, report.description)
    }

    func testChannelShuffle() throws {
        let s = ChannelShuffle(groups: 2)
        XCTAssertThrowsError(try s.outputShape(for: [[5, 2, 2]]))
        // [g=2, C/g=3] → transpose: channels 0 3 1 4 2 5.
        let x = Tensor(shape: [1, 6, 1, 1], data: [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(LayerCall(s).forward([x], mode: .inference).data, [0, 3, 1, 4, 2, 5])
        let report = GradientCheck.check(ChannelShuffle(groups: 3), inputs: [r([2, 6, 2, 2], 11)])
        XCTAssertTrue(report.passed, report.description)
    }
}

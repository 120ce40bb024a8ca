import XCTest
import TestSupport
import NN
import Tensor

/// Ceil-mode pooling, adaptive average pooling and global max pooling.
final class PoolingModeTests: XCTestCase {
    func r(_ shape: [Int], _ seed: UInt64) -> Tensor { GradientCheck.randomTensor(shape, seed: seed) }

    func testCeilModeOutputSizesFollowPyTorch() throws {
        // 7 rows, kernel 3, stride 2: floor 3, ceil 3; 6 columns: floor 2, ceil 3.
        XCTAssertEqual(try MaxPool2D(kernel: (3, 3), stride: (2, 2)).outputShape(for: [[1, 7, 6]]), [1, 3, 2])
        XCTAssertEqual(try MaxPool2D(kernel: (3, 3), stride: (2, 2), ceilMode: true).outputShape(for: [[1, 7, 6]]), [1, 3, 3])
        // Kernel 2, stride 2, padding 1 on 7: ceil gives 5, but the 5th window would start at 8 − 1 = 7,
        // in the trailing padding, so PyTorch drops it: 4.
        XCTAssertEqual(try MaxPool2D(kernel: (2, 2), stride: (2, 2), padding: Padding2D(symmetric: 1, 1), ceilMode: true)
            .outputShape(for: [[1, 7, 7]]), [1, 4, 4])
        XCTAssertEqual(try AvgPool2D(kernel: (2, 2), ceilMode: true).outputShape(for: [[1, 5, 5]]), [1, 3, 3])
        XCTAssertEqual(MaxPool2D(kernel: (3, 3), stride: (2, 2), ceilMode: true).summary, "3x3, stride 2, ceil mode")
    }

    func testCeilModeAveragesDivideByTheWindowInsideThePaddedInput() {
        // 1x3 input, kernel 2 stride 2 ceil: windows [0, 1] and [2] (clipped): means 1.5 and 3.
        let x = Tensor(shape: [1, 1, 1, 3], data: [1, 2, 3])
        let p = AvgPool2D(kernel: (1, 2), stride: (1, 2), ceilMode: true)
        XCTAssertEqual(LayerCall(p).forward([x], mode: .inference).data, [1.5, 3])
        let m = MaxPool2D(kernel: (1, 2), stride: (1, 2), ceilMode: true)
        XCTAssertEqual(LayerCall(m).forward([x], mode: .inference).data, [2, 3])
    }

    func testCeilModeGradients() {
        // Distinct values at least 0.05 apart, so no max-pool window has a near tie within h.
        let x = Tensor(shape: [2, 2, 7, 6], data: (0..<168).map { Float(($0 * 37) % 168) * 0.05 - 4 })
        for layer: Layer in [MaxPool2D(kernel: (3, 3), stride: (2, 2), ceilMode: true),
                             AvgPool2D(kernel: (3, 3), stride: (2, 2), padding: Padding2D(symmetric: 1, 1), ceilMode: true),
                             AvgPool2D(kernel: (3, 3), stride: (2, 2), padding: Padding2D(symmetric: 1, 1), countIncludePad: false, ceilMode: true)] {
            let report = GradientCheck.check(layer, inputs: [x])
            XCTAssertTrue(report.passed, "\(layer.summary): \(report.description)")
        }
    }

    func testAdaptiveAveragePooling() throws {
        let p = AdaptiveAvgPool2D(outputSize: (2, 1))
        XCTAssertEqual(try p.outputShape(for: [[3, 5, 4]]), [3, 2, 1])
        XCTAssertEqual(p.summary, "to 2x1")
        // 3 rows to 2: rows [0, 2) and [1, 3) (overlapping).
        let x = Tensor(shape: [1, 1, 3, 2], data: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(LayerCall(p).forward([x], mode: .inference).data, [2.5, 4.5])
        // Larger than the input: rows repeat.
        XCTAssertEqual(LayerCall(AdaptiveAvgPool2D(outputSize: (1, 4))).forward([Tensor(shape: [1, 1, 1, 2], data: [1, 3])], mode: .inference).data,
                       [1, 1, 3, 3])
        for size in [(1, 1), (3, 2), (9, 4)] {
            let report = GradientCheck.check(AdaptiveAvgPool2D(outputSize: size), inputs: [r([2, 2, 7, 5], 2)])
            XCTAssertTrue(report.passed, "\(size): \(report.description)")
        }
    }

    func testGlobalMaxPool() throws {
        let p = GlobalMaxPool()
        XCTAssertEqual(try p.outputShape(for: [[3, 2, 2]]), [3])
        XCTAssertThrowsError(try p.outputShape(for: [[3, 0, 2]]))
        let x = Tensor(shape: [1, 2, 1, 3], data: [1, 5, 5, -1, -3, -2])
        let call = LayerCall(p)
        XCTAssertEqual(call.forward([x], mode: .inference).data, [5, -1])
        // Ties: the first maximum gets the gradient.
        XCTAssertEqual(call.backward(Tensor(shape: [1, 2], data: [1, 2]))[0].data, [0, 1, 0, 2, 0, 0])
        let report = GradientCheck.check(p, inputs: [Tensor(shape: [2, 3, 4, 3], data: (0..<72).map { Float(($0 * 29) % 72) * 0.05 })])
        XCTAssertTrue(report.passed, report.description)
    }
}

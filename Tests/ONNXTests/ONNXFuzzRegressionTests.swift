import Foundation
import ModelIO
@testable import ONNX
import TestSupport
import XCTest

/// Inputs the fuzz-onnx harness (Fuzz/) found, kept as fixtures (Fixtures/onnx/fuzz-*.onnx are
/// the harness's artifacts, copied as found).
final class ONNXFuzzRegressionTests: XCTestCase {
    /// A folded Reshape whose target shape multiplies past Int.max trapped on overflow.
    func testReshapeShapeOverflowIsAnError() {
        XCTAssertThrowsError(try ONNXImport.load(fixture("onnx/fuzz-reshape-overflow.onnx"))) { e in
            let text = "\(e)"
            XCTAssertTrue(e is ModelIOError && text.contains("cannot reshape") && !text.contains("\n"), text)
        }
        XCTAssertNil(checkedProduct([1 << 40, 1 << 40]))
        XCTAssertEqual(checkedProduct([2, 3, 4]), 24)
    }
}

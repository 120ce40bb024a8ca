import Diagnostics
import Foundation
import ModelIO
import NN
import XCTest

/// Every user-facing error prints the same way: one line `subject: location: message; hint`.
final class ErrorFamilyTests: XCTestCase {
    func testOneLineLayout() {
        let e = ModelIOError(.mismatch, file: "m.h5", location: "dense_1", "expected [10, 64]", hint: "re-export the model")
        XCTAssertEqual(e.description, "m.h5: dense_1: expected [10, 64]; re-export the model")
        XCTAssertEqual(e.kind, .mismatch)
        XCTAssertEqual(ModelIOError(.io, file: "x.npz", "read failed").oneLine, "x.npz: read failed")
        let nn: UserFacingError = NNError.shape("conv1", "expected 3 channels")
        XCTAssertEqual(nn.oneLine, "layer 'conv1': expected 3 channels")
        XCTAssertEqual(nn.kind, .mismatch)
    }

    /// Text that came from a file cannot start a new line.
    func testControlCharactersAreEscaped() {
        let e = ModelIOError(.malformed, file: "a\nb.npz", location: "k\u{2028}", "bad\tvalue")
        XCTAssertEqual(e.description, "a\\nb.npz: k\\u{2028}: bad\\tvalue")
    }
}

import Foundation
@testable import ModelIO
import XCTest

/// Inputs found by the libFuzzer harnesses (Fuzz/, scripts/fuzz-smoke), kept as regression tests.
final class FuzzRegressionTests: XCTestCase {
    /// fuzz-run-config: a value quoted in an error held a newline, so the "one-line" error
    /// printed as two lines. Every part of a `ModelIOError` now has its line breaks and other
    /// control characters escaped.
    func testErrorsStayOnOneLineWhateverTheFileHolds() {
        let e = ModelIOError(.malformed, file: "a\nb.yaml", location: "key '\u{2028}'", "found 'x\r\ty\u{7}\u{85}'")
        XCTAssertEqual(e.description, #"a\nb.yaml: key '\u{2028}': found 'x\r\ty\u{7}\u{85}'"#)
        XCTAssertEqual(ModelIOError(.io, file: "plain é ✓", "no change").description, "plain é ✓: no change")
    }
}

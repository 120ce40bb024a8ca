import Foundation
@testable import ModelCore
@testable import ModelIO
import NN
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

/// fuzz-arch-spec: values the NN layers trap on (dropout p 5.5, crash-044c91f0…) and weights
/// beyond the memory budget are one-line errors when a spec is built.
final class ArchitectureSpecFuzzRegressionTests: XCTestCase {
    func build(_ layers: String, input: String = "[4]") throws -> Graph {
        let json = #"{"format": "bss-architecture", "version": 1, "name": "t", "input_shape": \#(input), "classes": 2, "layers": [\#(layers)]}"#
        let spec = try JSONDecoder().decode(ArchitectureSpec.self, from: Data(json.utf8))
        return try GraphBuilder.build(spec, origin: "t.json")
    }

    func testImpossibleValuesAreErrors() {
        let fc = #"{"name": "fc", "type": "linear", "in_features": 4, "out_features": 2}"#
        let cases: [(String, String, String)] = [
            // The spec validator (SpecValidator.swift) names the field first; GraphBuilder's own
            // checks stay as a second line of defence for specs built in code.
            (#"{"name": "d", "type": "dropout", "p": 5.5}, "# + fc, "[4]", "field 'p': must be in [0, 1), found 5.5"),
            (#"{"name": "fc", "type": "linear", "in_features": 0, "out_features": 2}"#, "[4]", "field 'in_features': must be ≥ 1, found 0"),
            (#"{"name": "fc", "type": "linear", "in_features": 4, "out_features": 2000000000000}"#, "[4]", "memory budget"),
            (fc, "[0]", "field 'input_shape'"),
            (#"{"name": "r", "type": "reshape", "shape": [-1, -1]}, "# + fc, "[4]", "at most one of them -1"),
        ]
        for (layers, input, expected) in cases {
            XCTAssertThrowsError(try build(layers, input: input), expected) { e in
                XCTAssertTrue("\(e)".contains(expected), "\(e)")
                XCTAssertFalse("\(e)".contains("\n"), "one line: \(e)")
            }
        }
        XCTAssertNoThrow(try build(fc))
    }
}

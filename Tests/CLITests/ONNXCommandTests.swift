import Foundation
import XCTest
import TestSupport

/// `bss` on ONNX files: `inspect` shows the opset, producer and conversions; the digits
/// teacher exported to ONNX scores what the Keras original scores; errors are one line.
final class ONNXCommandTests: XCTestCase {
    func testInspectShowsOpsetProducerAndConversions() throws {
        let r = try runBSS(["inspect", fixture("onnx/digits-teacher.onnx")])
        XCTAssertEqual(r.status, 0, r.stderr)
        for s in ["ONNX model (.onnx)", "opset 17", "producer pytorch", "final Softmax split off", "conversions on import:"] {
            XCTAssertTrue(r.stdout.contains(s), "\(s) missing from:\n\(r.stdout)")
        }
    }

    /// Keras' `model.evaluate` on the bundled test split gives 448/450; the ONNX re-export reads
    /// the same (channels-last) data as NHWC.
    func testEvalDigitsTeacherMatchesKeras() throws {
        let r = try runBSS(["eval", fixture("onnx/digits-teacher.onnx"), "--data", fixture("digits/digits-test.npz"), "--data-layout", "nhwc"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("448/450"), r.stdout)
    }

    /// An ONNX import written as a state dict gets its derived spec beside it; the pair loads
    /// back with --arch and gives the same accuracy.
    func testConvertToStateDictWritesTheSpec() throws {
        let dir = temporaryDirectory("bss-onnx-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("teacher.npz").path, spec = dir.appendingPathComponent("teacher.json").path
        let c = try runBSS(["convert", fixture("onnx/digits-teacher.onnx"), out])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: spec), c.stdout + c.stderr)
        let r = try runBSS(["eval", out, "--arch", spec, "--data", fixture("digits/digits-test.npz"), "--data-layout", "nhwc"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("448/450"), r.stdout)
    }

    func testErrorsAreOneLine() throws {
        assertCleanFailure(try runBSS(["inspect", fixture("onnx/bad-unsupported.onnx")]), mentions: ["'sin' (Sin)", "'erf' (Erf)"])
        assertCleanFailure(try runBSS(["inspect", fixture("onnx/resnet8.onnx"), "--input-shape", "3,x"]), mentions: ["--input-shape"])
        assertCleanFailure(try runBSS(["inspect", fixture("digits/teacher-cnn.h5"), "--input-shape", "1,8,8"]), mentions: ["ONNX"])
    }
}

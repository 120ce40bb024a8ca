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

    // MARK: writing ONNX

    /// `bss convert` writes .onnx from a state dict and from a Keras model; the Keras digits
    /// teacher written as ONNX still scores 448/450 (its data read as NHWC, as Keras stores it).
    func testConvertWritesONNX() throws {
        let dir = temporaryDirectory("bss-onnx-write")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r8 = dir.appendingPathComponent("r8.onnx").path
        let c = try runBSS(["convert", fixture("zoo/heo2019-resnet8.npz"), r8, "--arch", "heo2019-resnet8"])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertTrue(c.stderr.contains("ONNX model (opset 17)"), c.stderr)
        let i = try runBSS(["inspect", r8])
        XCTAssertEqual(i.status, 0, i.stderr)
        XCTAssertTrue(i.stdout.contains("producer bss"), i.stdout)
        let digits = dir.appendingPathComponent("digits.onnx").path
        XCTAssertEqual(try runBSS(["convert", fixture("digits/teacher-cnn.keras"), digits]).status, 0)
        let e = try runBSS(["eval", digits, "--data", fixture("digits/digits-test.npz"), "--data-layout", "nhwc"])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertTrue(e.stdout.contains("448/450"), e.stdout)
        assertCleanFailure(try runBSS(["convert", fixture("zoo/heo2019-resnet8.npz"), r8, "--arch", "heo2019-resnet8", "--spec-out", dir.appendingPathComponent("s.json").path]),
                           mentions: ["--spec-out"])
    }

    /// A student given as ONNX (exported with BatchNorm kept) is trained and written back as
    /// ONNX, BatchNorm layers and all.
    func testDistillONNXStudentToONNX() throws {
        let dir = temporaryDirectory("bss-onnx-distill")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("student.onnx").path
        let r = try runBSS(["distill", "--teacher", fixture("digits/teacher-cnn.keras"), "--student", fixture("onnx/student-bn.onnx"),
                            "--data", fixture("digits/digits-train.npz"), "--method", "hinton", "--epochs", "1", "--train-fraction", "0.2",
                            "--input-shape", "1,8,8", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let i = try runBSS(["inspect", out])
        XCTAssertEqual(i.status, 0, i.stderr)
        XCTAssertEqual(i.stdout.components(separatedBy: "BatchNorm ").count - 1, 2, i.stdout)
        XCTAssertTrue(i.stdout.contains("producer bss"), i.stdout)
    }

    /// `--input-shape` reaches the ONNX loader from generate and similarity (a fixed input must agree).
    func testInputShapeOnGenerateAndSimilarity() throws {
        let dir = temporaryDirectory("bss-onnx-shape")
        defer { try? FileManager.default.removeItem(at: dir) }
        assertCleanFailure(try runBSS(["generate", "--teacher", fixture("onnx/digits-teacher.onnx"), "--input-shape", "1,9,9",
                                       "--data", fixture("digits/digits-test.npz"), "--out", dir.appendingPathComponent("b.h5").path]),
                           mentions: ["--input-shape 1,9,9"])
        assertCleanFailure(try runBSS(["similarity", fixture("onnx/digits-teacher.onnx"), fixture("onnx/digits-teacher.onnx"), "--input-shape", "1,9,9",
                                       "--data", fixture("digits/digits-test.npz")]),
                           mentions: ["--input-shape 1,9,9"])
        let g = try runBSS(["generate", "--teacher", fixture("onnx/digits-teacher.onnx"), "--input-shape", "1,8,8", "--data-layout", "nhwc",
                            "--data", fixture("digits/digits-test.npz"), "--limit", "4", "--out", dir.appendingPathComponent("b.h5").path])
        XCTAssertEqual(g.status, 0, g.stderr)
    }

    /// A student with a layer ONNX cannot express is refused before training when --out is .onnx.
    func testDistillRefusesAnUnexportableStudentBeforeTraining() throws {
        let dir = temporaryDirectory("bss-onnx-refuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("odd.json")
        try Data("""
            {"name": "odd", "input_shape": [1, 8, 8], "classes": 10, "layers": [
              {"name": "flat", "type": "flatten"},
              {"name": "thresholded", "type": "relu_keras", "threshold": 0.5},
              {"name": "fc", "type": "linear", "in_features": 64, "out_features": 10}]}
            """.utf8).write(to: spec)
        let out = dir.appendingPathComponent("out/student.onnx").path
        let r = try runBSS(["distill", "--teacher", fixture("digits/teacher-cnn.keras"), "--student", spec.path,
                            "--data", fixture("digits/digits-train.npz"), "--epochs", "1", "--out", out])
        assertCleanFailure(r, mentions: ["thresholded", "no ONNX mapping"])
        XCTAssertFalse(r.stderr.contains("epoch 1"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out").path))
    }
}

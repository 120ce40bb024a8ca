import Foundation
import XCTest
import ModelIO
import TestSupport

/// A student distilled from an ONNX teacher exports to ONNX, `.npz` and `.safetensors`:
/// - our side (always): one epoch of Hinton distillation from `Fixtures/onnx/digits-teacher.onnx`
///   into the ONNX student `student-bn.onnx` (BatchNorm kept), written as `.onnx`, then converted
///   to `.npz` and `.safetensors`; all three re-import and predict bit-identical logits.
/// - PyTorch and onnxruntime (when python3 has torch, safetensors and onnxruntime):
///   `Fixtures/scripts/check_onnx_student_torch.py` loads the `.npz` and `.safetensors` into the
///   student's PyTorch definition with a strict `load_state_dict`, runs the `.onnx` in
///   onnxruntime, and compares each with bss's logits (within 1e-5 absolute).
final class ONNXStudentExportTests: XCTestCase {
    func testStudentFromONNXTeacherExportsToONNXNpzAndSafeTensors() throws {
        let dir = temporaryDirectory("bss-onnx-student")
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        let d = try runBSS(["distill", "--teacher", fixture("onnx/digits-teacher.onnx"), "--student", fixture("onnx/student-bn.onnx"),
                            "--data", fixture("digits/digits-train.npz"), "--data-layout", "nhwc", "--method", "hinton",
                            "--epochs", "1", "--train-fraction", "0.2", "--seed", "1", "--out", path("student.onnx")])
        XCTAssertEqual(d.status, 0, d.stderr)
        for ext in ["npz", "safetensors"] {
            let c = try runBSS(["convert", path("student.onnx"), path("student.\(ext)")])
            XCTAssertEqual(c.status, 0, c.stderr)
        }
        // The same NCHW inputs through each file: identical logits.
        let data = fixture("onnx/digits-teacher-io.npz")
        var logits: [String: NumpyArray] = [:]
        for ext in ["onnx", "npz", "safetensors"] {
            var args = ["predict", path("student.\(ext)"), "--data", data, "--out", path("logits-\(ext).npz")]
            if ext != "onnx" { args += ["--arch", path("student.json")] }
            let p = try runBSS(args)
            XCTAssertEqual(p.status, 0, "\(ext): \(p.stderr)")
            logits[ext] = try Npz.readDictionary(URL(fileURLWithPath: path("logits-\(ext).npz")))["logits"]
        }
        let reference = try XCTUnwrap(logits["onnx"]).floats()
        XCTAssertEqual(reference.count, 60)
        for ext in ["npz", "safetensors"] {
            XCTAssertEqual(try XCTUnwrap(logits[ext], ext).floats(), reference, "\(ext) re-import gives the ONNX student's logits")
        }
        // The trained student differs from the untrained one (the file really holds new weights).
        let untrained = try runBSS(["predict", fixture("onnx/student-bn.onnx"), "--data", data, "--out", path("untrained.npz")])
        XCTAssertEqual(untrained.status, 0, untrained.stderr)
        XCTAssertNotEqual(try Npz.readDictionary(URL(fileURLWithPath: path("untrained.npz")))["logits"]?.floats(), reference)

        // PyTorch (strict load_state_dict) and onnxruntime, when python3 has them.
        try Npz.write(["x": try XCTUnwrap(try Npz.readDictionary(URL(fileURLWithPath: data))["x"]),
                       "logits": NumpyArray(float32s: reference, shape: [6, 10])], to: dir.appendingPathComponent("io.npz"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", fixture("scripts/check_onnx_student_torch.py"), dir.path]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        do { try p.run() } catch { print("skipped the PyTorch/onnxruntime check: python3 is not available"); return }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if p.terminationStatus == 127 { print("skipped the PyTorch/onnxruntime check: python3 is not available"); return }
        if text.hasPrefix("SKIP") { print("skipped the PyTorch/onnxruntime check: \(text.trimmingCharacters(in: .whitespacesAndNewlines))"); return }
        print(text)
        XCTAssertEqual(p.terminationStatus, 0, "check_onnx_student_torch.py: \(text) \(errText.suffix(800))")
        for what in ["torch npz", "torch safetensors", "onnxruntime onnx"] {
            let line = text.split(separator: "\n").first { $0.hasPrefix(what + ":") }
            let diff = line.flatMap { $0.split(separator: " ").last.flatMap { Float($0) } }
            XCTAssertNotNil(diff, "no '\(what)' line: \(text)")
            if let diff { XCTAssertLessThanOrEqual(diff, 1e-5, "\(what) vs bss") }
        }
    }
}

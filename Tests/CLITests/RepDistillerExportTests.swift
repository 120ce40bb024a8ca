import Foundation
import XCTest
@testable import ModelIO
import Tensor
import TestSupport

/// A `repdistiller-resnet8` student distilled by `bss distill` (teacher: the zoo's
/// repdistiller-resnet8 state dict) and exported to `.npz` and `.safetensors` loads into
/// RepDistiller's own `models.model_dict["resnet8"]` with `load_state_dict(strict=True)` and gives
/// `bss predict`'s logits (Fixtures/scripts/check_repdistiller_student.py). Runs only when
/// BSS_REPDISTILLER names a RepDistiller checkout and python3 has torch and safetensors.
final class RepDistillerExportTests: XCTestCase {
    func testDistilledStudentLoadsStrictlyInRepDistiller() throws {
        guard let checkout = ProcessInfo.processInfo.environment["BSS_REPDISTILLER"], !checkout.isEmpty else {
            throw XCTSkip("set BSS_REPDISTILLER to a checkout of github.com/HobbitLong/RepDistiller (needs python3 with torch and safetensors)")
        }
        guard FileManager.default.fileExists(atPath: checkout + "/models/resnet.py") else {
            return XCTFail("BSS_REPDISTILLER=\(checkout) has no models/resnet.py")
        }
        let dir = temporaryDirectory("rd-export")
        defer { try? FileManager.default.removeItem(at: dir) }
        let teacher = fixture("zoo/repdistiller-resnet8.npz")
        // Images whose low frequencies differ (a random 4x4 image per sample, repeated over 8x8
        // blocks, plus noise), labelled by the teacher so that some samples are correct for both.
        var rng = SystemRandomNumberGenerator()
        var x = Tensor(shape: [48, 3, 32, 32])
        for n in 0..<48 {
            let low = (0..<48).map { _ in Float.random(in: -1.5...1.5, using: &rng) }
            for c in 0..<3 { for h in 0..<32 { for w in 0..<32 {
                x.data[((n * 3 + c) * 32 + h) * 32 + w] = low[(c * 4 + h / 8) * 4 + w / 8] + Float.random(in: -0.3...0.3, using: &rng)
            } } }
        }
        let unlabelled = dir.appendingPathComponent("x.npz")
        try Npz.write(["x": NumpyArray(x)], to: unlabelled)
        let t = try runBSS(["predict", teacher, "--arch", "repdistiller-resnet8", "--data", unlabelled.path,
                            "--out", dir.appendingPathComponent("t.npz").path])
        XCTAssertEqual(t.status, 0, t.stderr)
        let tl = try XCTUnwrap(try Npz.readDictionary(dir.appendingPathComponent("t.npz"))["logits"]).tensor()
        let y = (0..<48).map { n -> Int64 in
            let row = tl.data[(n * 100)..<((n + 1) * 100)]
            return Int64(row.indices.max { row[$0] < row[$1] }! - n * 100)
        }
        let data = dir.appendingPathComponent("train.npz")
        try Npz.write(["x": NumpyArray(x), "y": NumpyArray(int64s: y, shape: [48])], to: data)

        for ext in ["npz", "safetensors"] {
            let student = dir.appendingPathComponent("student.\(ext)").path
            let d = try runBSS(["distill", "--teacher", teacher, "--teacher-arch", "repdistiller-resnet8",
                                "--student", "repdistiller-resnet8", "--data", data.path, "--epochs", "2",
                                "--batch-size", "16", "--out", student])
            XCTAssertEqual(d.status, 0, d.stderr)
            let ours = dir.appendingPathComponent("ours-\(ext).npz").path
            let p = try runBSS(["predict", student, "--arch", "repdistiller-resnet8", "--data", data.path, "--out", ours])
            XCTAssertEqual(p.status, 0, p.stderr)
            let (status, out) = try python([fixture("scripts/check_repdistiller_student.py"), checkout, "resnet8", student, data.path, ours])
            if out.contains("No module named 'torch'") || out.contains("No module named 'safetensors'") {
                throw XCTSkip("python3 with torch and safetensors is not available: \(out)")
            }
            XCTAssertEqual(status, 0, out)
            XCTAssertTrue(out.contains("<All keys matched successfully>"), out)
            XCTAssertTrue(out.contains("argmax agreement 1.000"), out)
            print("RepDistiller strict load of the \(ext) student: \(out.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// `python3 args...` (the first python3 on PATH), stdout and stderr together.
    func python(_ arguments: [String]) throws -> (Int32, String) {
        let python = ProcessInfo.processInfo.environment["PATH"].flatMap { path in
            path.split(separator: ":").map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
        guard let python else { throw XCTSkip("python3 is not installed") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }
}

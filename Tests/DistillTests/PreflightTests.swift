import Diagnostics
import Distill
import Foundation
import ModelIO
import NN
import Tensor
import TestSupport
import XCTest

/// Bad runs fail before training starts, with one line naming the file and what is wrong, and
/// leave nothing behind.
final class PreflightTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("distill-preflight") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func assertFails(_ c: RunConfig, mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try DistillRun.prepare(c), file: file, line: line) { e in
            let s = "\(e)"
            XCTAssertTrue(e is UserFacingError, "\(type(of: e)): \(s)", file: file, line: line)
            XCTAssertFalse(s.contains("\n"), s, file: file, line: line)
            for m in mentions { XCTAssertTrue(s.contains(m), "'\(m)' not in: \(s)", file: file, line: line) }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("student") }, [],
                       "nothing written", file: file, line: line)
    }

    func writeData(_ name: String, x: Tensor, y: [Int64]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Npz.write([("x", NumpyArray(x)), ("y", NumpyArray(int64s: y, shape: [y.count]))], to: url)
        return url.path
    }

    func testDifferentClassCounts() {
        var c = DistillFixtures.digitsConfig(dir)
        c.student = "mlp:64-48-5"
        c.studentArch = nil
        assertFails(c, mentions: ["mlp:64-48-5", "classes", "5 classes", "10"])
    }

    func testDifferentInputShapes() {
        var c = DistillFixtures.digitsConfig(dir)
        c.student = "heo2019-resnet8"
        c.studentArch = nil
        assertFails(c, mentions: ["heo2019-resnet8", "[3, 32, 32]", "[1, 8, 8]"])
    }

    func testLabelsOutOfRange() throws {
        let x = Tensor(shape: [4, 8, 8, 1], repeating: 0.5)
        var c = DistillFixtures.digitsConfig(dir)
        c.data = try writeData("bad-labels.npz", x: x, y: [0, 1, 12, 3])
        c.trainFraction = 1
        assertFails(c, mentions: ["bad-labels.npz", "y", "label 12", "0..<10"])
    }

    func testEmptyDataSet() throws {
        var c = DistillFixtures.digitsConfig(dir)
        c.data = try writeData("empty.npz", x: Tensor(shape: [0, 8, 8, 1]), y: [])
        assertFails(c, mentions: ["empty.npz", "empty"])
        c.data = try writeData("one.npz", x: Tensor(shape: [1, 8, 8, 1]), y: [3])
        c.trainFraction = 1
        assertFails(c, mentions: ["one.npz", "1 training sample", "at least 2"])
    }

    func testNaNInTheTeachersWeights() throws {
        var entries = try Npz.read(URL(fileURLWithPath: DistillFixtures.teacherWeights))
        let i = entries.firstIndex { $0.key == "conv2.weight" }!
        var w = try entries[i].array.floats()
        w[5] = .nan
        entries[i].array = NumpyArray(float32s: w, shape: entries[i].array.shape)
        let bad = dir.appendingPathComponent("nan-teacher.npz")
        try Npz.write(entries, to: bad)
        var c = DistillFixtures.digitsConfig(dir)
        c.teacher = bad.path
        // Refused when the teacher is loaded (ModelLoader), and by the preflight when loading
        // was told to let it through.
        assertFails(c, mentions: ["nan-teacher.npz", "conv2.weight", "not finite", "NaN", "--allow-nonfinite"])
        NonFinite.allowed = true
        defer { NonFinite.allowed = false }
        assertFails(c, mentions: ["nan-teacher.npz", "conv2.weight", "not finite", "NaN", "teacher must have finite weights"])
    }

    func testUnknownConfigKeyAndMissingFiles() throws {
        let yaml = dir.appendingPathComponent("run.yaml")
        try Data("epochs: 2\nteacher_model: t.h5\n".utf8).write(to: yaml)
        XCTAssertThrowsError(try RunConfig.resolve(file: yaml.path, overrides: [])) { e in
            XCTAssertTrue("\(e)".hasPrefix("\(yaml.path): key 'teacher_model': unknown key"), "\(e)")
        }
        var c = DistillFixtures.digitsConfig(dir)
        c.teacher = nil
        assertFails(c, mentions: ["teacher", "method 'bss' learns from a teacher"])
        c = DistillFixtures.digitsConfig(dir)
        c.teacher = dir.appendingPathComponent("missing.h5").path
        assertFails(c, mentions: ["missing.h5", "no such file"])
    }

    func testOutputThatCannotHoldTheStudent() {
        var c = DistillFixtures.digitsConfig(dir)
        c.out = dir.appendingPathComponent("student.keras").path
        assertFails(c, mentions: ["student.keras", "did not come from Keras"])
        c.out = dir.appendingPathComponent("student.pt").path
        assertFails(c, mentions: ["student.pt", ".npz, .safetensors or .h5"])
        c.out = c.data! + "/student.npz"
        assertFails(c, mentions: ["is a file, not a directory"])
    }
}

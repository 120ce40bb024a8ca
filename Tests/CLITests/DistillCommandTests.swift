import Foundation
import ModelIO
import Tensor
import TestSupport
import XCTest

/// `bss distill` end to end: a short run writes the student and its artifacts, a config file
/// with flag overrides, `--resume` of a stopped run, and one-line errors with no output file
/// for bad runs.
final class DistillCommandTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("distill-cli") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    func files() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted() }

    /// Twin of the bundled Keras teacher (spec + state dict) and a small slice of the digits.
    var base: [String] {
        ["distill", "--teacher", fixture("distill/digits-teacher.npz"), "--teacher-arch", fixture("distill/digits-teacher.json"),
         "--data", fixture("digits/digits-train.npz"), "--val", fixture("digits/digits-test.npz"),
         "--train-fraction", "0.1", "--batch-size", "32", "--bss-per-batch", "8", "--threads", "1"]
    }

    func testShortRunWritesStudentAndArtifacts() throws {
        let r = try runBSS(base + ["--student", "mlp:64-48-10", "--out", path("student.npz"), "--epochs", "2", "--seed", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(files(), ["student.npz", "student.npz.checkpoint.npz", "student.npz.config.yaml",
                                 "student.npz.curves.svg", "student.npz.metrics.jsonl"])
        XCTAssertTrue(r.stderr.contains("wrote \(path("student.npz")): PyTorch state dict (npz)"), r.stderr)
        XCTAssertTrue(r.stdout.contains("final epoch 2: train accuracy"), r.stdout)
        // Progress and per-epoch summaries go to stderr (plain lines: not a terminal).
        XCTAssertTrue(r.stderr.contains("epoch 1/2: loss"), r.stderr)
        XCTAssertTrue(r.stderr.contains("BSS accepted"), r.stderr)
        let lines = try String(contentsOfFile: path("student.npz.metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        for key in ["\"lr\"", "\"alpha\"", "\"beta\"", "\"ce\"", "\"kd\"", "\"kd_bss\"", "\"train_accuracy\"",
                    "\"val_accuracy\"", "\"bss_accepted\"", "\"bss_attempted\"", "\"seconds\""] {
            XCTAssertTrue(lines[0].contains(key), "\(key) in \(lines[0])")
        }
        let config = try String(contentsOfFile: path("student.npz.config.yaml"), encoding: .utf8)
        XCTAssertTrue(config.contains("epochs: 2"), config)
        XCTAssertTrue(config.contains("seed: 3"), config)
        // The resolved config repeats the run exactly.
        let again = try runBSS(["distill", "--config", path("student.npz.config.yaml"), "--out", path("again.npz"), "--threads", "1"])
        XCTAssertEqual(again.status, 0, again.stderr)
        let a = try Npz.read(URL(fileURLWithPath: path("student.npz"))), b = try Npz.read(URL(fileURLWithPath: path("again.npz")))
        XCTAssertEqual(a.map(\.array), b.map(\.array), "same config and seed: the same student")
    }

    func testConfigFileFlagsOverrideAndResume() throws {
        let yaml = path("run.yaml")
        try Data("""
            method: hinton
            epochs: 5
            student: mlp:64-48-10
            lr: 0.05
            alpha: 0.9
            """.utf8).write(to: URL(fileURLWithPath: yaml))
        let out = path("s.npz")
        let r = try runBSS(base + ["--config", yaml, "--epochs", "2", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let resolved = try String(contentsOfFile: path("s.npz.config.yaml"), encoding: .utf8)
        XCTAssertTrue(resolved.contains("epochs: 2") && resolved.contains("method: \"hinton\"") && resolved.contains("alpha: 0.9 "), resolved)

        // Resuming a finished run trains nothing more and writes the same student again.
        let before = try Npz.read(URL(fileURLWithPath: out))
        let again = try runBSS(["distill", "--resume", dir.path, "--threads", "1"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("after epoch 2 of 2"), again.stderr)
        XCTAssertEqual(try Npz.read(URL(fileURLWithPath: out)).map(\.array), before.map(\.array))

        let mixed = try runBSS(["distill", "--resume", dir.path, "--lr", "0.1"])
        assertCleanFailure(mixed, mentions: ["--resume", "--lr"])
    }

    func testResumeFromAnotherDirectoryFindsRelativePaths() throws {
        try FileManager.default.createDirectory(atPath: path("run"), withIntermediateDirectories: true)
        let r = try runBSS(base + ["--student", "mlp:64-48-10", "--out", "run/s.npz", "--epochs", "1", "--method", "hinton"],
                           in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let first = try Npz.read(URL(fileURLWithPath: path("run/s.npz")))
        try FileManager.default.removeItem(atPath: path("run/s.npz"))
        // From the repository root: the checkpoint remembers where `run/s.npz` was meant.
        let again = try runBSS(["distill", "--resume", path("run"), "--threads", "1"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try Npz.read(URL(fileURLWithPath: path("run/s.npz"))).map(\.array), first.map(\.array))
    }

    func testBadRunsFailInOneLineAndWriteNothing() throws {
        let yaml = path("bad.yaml")
        try Data("epochs: 1\nlearning_rate: 0.1\n".utf8).write(to: URL(fileURLWithPath: yaml))
        let cases: [([String], [String])] = [
            (base + ["--config", yaml, "--student", "mlp:64-48-10", "--out", path("o.npz")], ["bad.yaml", "learning_rate", "unknown key"]),
            (base + ["--student", "mlp:64-48-7", "--out", path("o.npz")], ["mlp:64-48-7", "7 classes"]),
            (base + ["--student", "heo2019-resnet8", "--out", path("o.npz")], ["[3, 32, 32]"]),
            (base + ["--student", "mlp:64-48-10", "--out", path("o.keras")], ["did not come from Keras"]),
            (base + ["--student", "mlp:64-48-10", "--out", path("o.npz"), "--epochs", "zero"], ["--epochs", "expected an integer"]),
            (base + ["--student", "mlp:64-48-10"], ["missing", "--out"]),
        ]
        for (args, mentions) in cases {
            let r = try runBSS(args)
            assertCleanFailure(r, mentions: mentions)
            XCTAssertEqual(files().filter { $0 != "bad.yaml" }, [], "nothing written for \(mentions)")
        }
    }
}

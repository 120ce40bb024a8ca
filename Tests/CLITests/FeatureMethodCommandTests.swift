import Foundation
import TestSupport
import XCTest

/// `bss distill` with a feature method from the command line: the flags reach the run, the
/// resolved config records them, the log and summaries show the term, and pairs that do not
/// fit stop the run with one line and no output.
final class FeatureMethodCommandTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("distill-features-cli") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func base() throws -> [String] {
        let spec = path("student.json")
        try Data("""
            {"format": "bss-architecture", "version": 1, "name": "digits-student-cnn", "input_shape": [1, 8, 8], "classes": 10,
             "layers": [{"name": "conv1", "type": "conv2d", "in_channels": 1, "out_channels": 16, "kernel": [3, 3], "padding": [1, 1, 1, 1]},
                        {"name": "relu1", "type": "relu"},
                        {"name": "conv2", "type": "conv2d", "in_channels": 16, "out_channels": 32, "kernel": [3, 3], "stride": [2, 2], "padding": [1, 1, 1, 1]},
                        {"name": "relu2", "type": "relu"},
                        {"name": "pool", "type": "global_avgpool"},
                        {"name": "fc", "type": "linear", "in_features": 32, "out_features": 10}]}
            """.utf8).write(to: URL(fileURLWithPath: spec))
        return ["distill", "--teacher", fixture("distill/digits-teacher.npz"), "--teacher-arch", fixture("distill/digits-teacher.json"),
                "--student", spec, "--data", fixture("digits/digits-train.npz"), "--train-fraction", "0.1",
                "--batch-size", "32", "--epochs", "1", "--threads", "1"]
    }

    func testAttentionTransferFromFlags() throws {
        let r = try runBSS(try base() + ["--method", "at", "--feature-pairs", "relu2:relu1,relu3:relu2", "--at-weight", "500",
                                          "--feature-losses", "fsp=5@relu1:relu1;relu3:relu2", "--out", path("s.npz")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains(", AT ") && r.stderr.contains(", FSP "), r.stderr)
        let config = try String(contentsOfFile: path("s.npz.config.yaml"), encoding: .utf8)
        for line in ["method: \"at\"", "feature_pairs: [\"relu2:relu1\", \"relu3:relu2\"]", "at_weight: 500",
                     "feature_losses: [\"fsp=5@relu1:relu1;relu3:relu2\"]"] {
            XCTAssertTrue(config.contains(line), "\(line) in\n\(config)")
        }
        let log = try String(contentsOfFile: path("s.npz.metrics.jsonl"), encoding: .utf8)
        XCTAssertTrue(log.contains("\"features\":{\"at\":") && log.contains("\"fsp\":"), log)
    }

    func testPairsThatDoNotFitStopTheRun() throws {
        let r = try runBSS(try base() + ["--method", "fsp", "--feature-pairs", "relu1:relu1,relu3:relu1", "--out", path("s.npz")])
        XCTAssertNotEqual(r.status, 0)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("teacher node 'relu3' gives [32, 4, 4], student node 'relu1' gives [16, 8, 8]"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("s.npz")))
    }
}

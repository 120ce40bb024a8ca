import Foundation
import ModelIO
import TestSupport
import XCTest

/// The shared `--max-memory` / `--allow-nonfinite` options reach the readers of every verb, and
/// `bss distill` keeps earlier runs: it refuses to replace their files without `--overwrite`.
final class InputSafetyCLITests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("input-safety-cli") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func testMaxMemoryAndNonFiniteOptions() throws {
        var x = [Float](repeating: 0.25, count: 64 * 4)
        x[70] = .nan
        try Npz.write([("x", NumpyArray(float32s: x, shape: [4, 64])), ("y", NumpyArray(int64s: [0, 1, 2, 3], shape: [4]))],
                      to: URL(fileURLWithPath: path("d.npz")))
        assertCleanFailure(try runBSS(["data", "inspect", path("d.npz")]), mentions: ["d.npz: x:", "sample 1, is NaN", "--allow-nonfinite"])
        let allowed = try runBSS(["data", "inspect", path("d.npz"), "--allow-nonfinite"])
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        assertCleanFailure(try runBSS(["data", "inspect", path("d.npz"), "--max-memory", "512"]),
                           mentions: ["d.npz", "memory budget of 512 bytes"])
        assertCleanFailure(try runBSS(["data", "inspect", path("d.npz"), "--max-memory", "8X"]), mentions: ["--max-memory", "'8X'", "unknown unit"])
        let eval = try runBSS(["eval", fixture("distill/digits-teacher.npz"), "--arch", fixture("distill/digits-teacher.json"),
                               "--data", path("d.npz"), "--max-memory", "1K"])
        assertCleanFailure(eval, mentions: ["digits-teacher.npz", "memory budget"])
        for verb in [["inspect"], ["predict"], ["eval"], ["convert"], ["generate"], ["similarity"], ["distill"], ["data", "inspect"], ["data", "convert"]] {
            let help = try runBSS(verb + ["--help"])
            XCTAssertTrue(help.stdout.contains("--max-memory <size>") && help.stdout.contains("--allow-nonfinite"), "\(verb): \(help.stdout)")
        }
    }

    func testDistillRefusesToReplaceAnEarlierRun() throws {
        let run = ["distill", "--method", "original", "--student", "mlp:64-48-10", "--data", fixture("digits/digits-train.npz"),
                   "--train-fraction", "0.1", "--batch-size", "32", "--epochs", "1", "--threads", "1", "--out", path("s.npz")]
        XCTAssertEqual(try runBSS(run).status, 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: path("s.npz")))
        assertCleanFailure(try runBSS(run + ["--seed", "5"]), mentions: ["s.npz", "earlier run", "--resume", "--overwrite"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("s.npz"))), before)
        let again = try runBSS(run + ["--seed", "5", "--overwrite"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: path("s.npz"))), before)
        // Another output name in the same folder is another run with its own side files.
        let h5 = try runBSS(Array(run.dropLast()) + [path("s.h5")])
        XCTAssertEqual(h5.status, 0, h5.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("s.h5.checkpoint.npz")))
        assertCleanFailure(try runBSS(["distill", "--resume", dir.path, "--overwrite"]), mentions: ["--overwrite"])
    }
}

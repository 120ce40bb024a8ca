import Foundation
import ModelIO
import Tensor
import TestSupport
import XCTest

/// `bss` under `mpirun` (docs/mpi.md): 2-rank data-parallel distillation of the bundled digits
/// against one process with the same global batch, a 2-rank `generate` equal to the
/// one-process file, and what each run records. Skipped when `mpirun` is not installed.
final class MPICommandTests: XCTestCase {
    struct MPIResult { var status: Int32; var stdout: String; var stderr: String }
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("mpi-cli") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// `mpirun --allow-run-as-root --oversubscribe -np N bss ARGS…`, skipping when mpirun is absent.
    func mpirun(_ np: Int, _ arguments: [String]) throws -> MPIResult {
        guard let launcher = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev; scripts/setup.sh does)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: launcher)
        p.arguments = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "\(np)", try bssExecutable().path] + arguments
        p.currentDirectoryURL = fixturesURL.deletingLastPathComponent()
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        final class Box: @unchecked Sendable { var data = Data() }
        let box = Box(), group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { box.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return MPIResult(status: p.terminationStatus, stdout: String(decoding: box.data, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
    }

    /// A fresh copy of the digits teacher's CNN (conv + BatchNorm, so the statistics must be
    /// synchronised) distilled from the bundled teacher on a tenth of the digits, with a constant
    /// β = 2 so every step has a BSS term (split search, split BSS batch).
    func distill(out: String, extra: [String]) -> [String] {
        ["distill", "--teacher", fixture("distill/digits-teacher.npz"), "--teacher-arch", fixture("distill/digits-teacher.json"),
         "--student", fixture("distill/digits-teacher.json"),
         "--data", fixture("digits/digits-train.npz"), "--val", fixture("digits/digits-test.npz"),
         "--train-fraction", "0.1", "--bss-per-batch", "8", "--beta", "2", "--threads", "1", "--seed", "5", "--out", out] + extra
    }

    func arrays(_ p: String) throws -> [String: NumpyArray] { try Npz.readDictionary(URL(fileURLWithPath: p)) }

    /// One step over the whole subset (one batch): every parameter and BatchNorm statistic of
    /// the 2-rank student within 1e-5 (relative to the array's largest value) of one process'.
    func testOneStepOnTwoRanksMatchesOneProcess() throws {
        let one = try runBSS(distill(out: path("one.npz"), extra: ["--epochs", "1", "--batch-size", "1000"]))
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try mpirun(2, distill(out: path("two.npz"), extra: ["--epochs", "1", "--batch-size", "1000"]))
        XCTAssertEqual(two.status, 0, two.stderr)
        let a = try arrays(path("one.npz")), b = try arrays(path("two.npz"))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (k, x) in a where x.dtype == .float32 || x.dtype == .float64 {
            let u = try x.tensor.data, v = try b[k]!.tensor.data
            let scale = u.map { abs($0) }.max() ?? 0
            let diff = zip(u, v).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(diff, 1e-5 * max(scale, 1e-6), "\(k): max difference \(diff), scale \(scale)")
        }
        // Recorded: the world size in the config and in every metrics line; rank 0 alone printed.
        let config = try String(contentsOfFile: path("two.config.yaml"), encoding: .utf8)
        XCTAssertTrue(config.contains("mpi_world_size: 2"), config)
        XCTAssertTrue(try String(contentsOfFile: path("one.config.yaml"), encoding: .utf8).contains("mpi_world_size: 1"))
        let metrics = try String(contentsOfFile: path("two.metrics.jsonl"), encoding: .utf8)
        XCTAssertTrue(metrics.contains("\"mpi_world_size\":2"), metrics)
        XCTAssertEqual(two.stdout.components(separatedBy: "final epoch").count, 2, two.stdout)
    }

    /// Two epochs with batches of 32: the same validation accuracy within one test sample.
    func testTwoEpochsOnTwoRanksReachTheSameAccuracy() throws {
        let one = try runBSS(distill(out: path("one.npz"), extra: ["--epochs", "2", "--batch-size", "32"]))
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try mpirun(2, distill(out: path("two.npz"), extra: ["--epochs", "2", "--batch-size", "32"]))
        XCTAssertEqual(two.status, 0, two.stderr)
        func accuracy(_ p: String) throws -> Double {
            let last = try String(contentsOfFile: p, encoding: .utf8).split(separator: "\n").last!
            let object = try JSONSerialization.jsonObject(with: Data(last.utf8)) as! [String: Any]
            return object["val_accuracy"] as! Double
        }
        let a = try accuracy(path("one.metrics.jsonl")), b = try accuracy(path("two.metrics.jsonl"))
        XCTAssertLessThanOrEqual(abs(a - b), 1.0 / 450 + 1e-12, "val accuracy: one process \(a), two ranks \(b)")
    }

    /// `generate` on 2 ranks writes the one-process data set (same pairs, statuses and steps,
    /// the same x_bss), bit-identical from run to run, with mpi_world_size 2 in its meta.
    func testGenerateOnTwoRanksEqualsOneProcess() throws {
        let args = ["generate", "--teacher", fixture("distill/digits-teacher.npz"), "--arch", fixture("distill/digits-teacher.json"),
                    "--data", fixture("digits/digits-test.npz"), "--targets", "all", "--limit", "40", "--batch-size", "16",
                    "--threads", "1"]
        let one = try runBSS(args + ["--out", path("one.npz")])
        XCTAssertEqual(one.status, 0, one.stderr)
        let two = try mpirun(2, args + ["--out", path("two.npz")])
        XCTAssertEqual(two.status, 0, two.stderr)
        let again = try mpirun(2, args + ["--out", path("again.npz")])
        XCTAssertEqual(again.status, 0, again.stderr)
        let a = try arrays(path("one.npz")), b = try arrays(path("two.npz")), c = try arrays(path("again.npz"))
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for k in ["base_index", "base_class", "target_class", "status", "steps"] {
            XCTAssertEqual(try a[k]!.int64s(), try b[k]!.int64s(), k)
        }
        XCTAssertEqual(try a["status"]!.int64s().count, 360)
        let x1 = try a["x_bss"]!.tensor.data, x2 = try b["x_bss"]!.tensor.data
        XCTAssertEqual(x1.count, x2.count)
        XCTAssertLessThanOrEqual(zip(x1, x2).map { abs($0 - $1) }.max() ?? 0, 1e-6)
        for (k, v) in b where k != "meta" { XCTAssertEqual(v, c[k], "\(k): two 2-rank runs differ") }
        XCTAssertTrue(b["meta"]!.stringValue!.contains("\"mpi_world_size\":2"), b["meta"]!.stringValue!)
        XCTAssertTrue(a["meta"]!.stringValue!.contains("\"mpi_world_size\":1"))
        XCTAssertEqual(two.stdout.components(separatedBy: "teacher:").count, 2, "rank 0 alone reports: \(two.stdout)")
    }
}

import Boundary
import Distill
import Foundation
import XCTest
import TestSupport

/// `bss experiment` (docs/algorithm.md, "Experiments"): a 2 × 1 × 1 × 1 grid end to end, its
/// results files, resuming (finished cells are never recomputed; an interrupted one continues
/// from its checkpoint) and the strict config.
final class ExperimentTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("experiment") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func write(_ yaml: String, _ name: String = "exp.yaml") throws -> String {
        let url = dir.appendingPathComponent(name)
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    var micro: String {
        """
        title: micro
        teacher: \(DistillFixtures.teacherWeights)
        teacher_arch: \(DistillFixtures.teacherSpec)
        student: mlp:64-48-10
        data: \(DistillFixtures.train)
        test: \(DistillFixtures.test)
        methods: [hinton, bss]
        fractions: [0.15]
        seeds: [3]
        similarity_limit: 0
        distill:
          epochs: 1
          batch_size: 64
          bss_per_batch: 16
        """
    }

    func testMicroExperimentEndToEndAndResume() throws {
        let path = try write(micro)
        let config = try ExperimentConfig.read(path)
        XCTAssertEqual(config.out, dir.appendingPathComponent("exp").path, "out defaults to the config's name beside it")
        let e = Experiment(config: config)
        XCTAssertEqual(e.cells.map(\.folder), ["hinton_f0.15_s3", "bss-paper_f0.15_s3"])
        let results = try e.run(createdBy: "test")
        XCTAssertEqual(results.map(\.method), ["hinton", "bss"])
        XCTAssertEqual(results.map(\.attack), [nil, "paper"])
        for r in results { XCTAssertTrue(r.accuracy > 0 && r.accuracy <= 1, "\(r)") }

        // results.json in the layout `bss report` reads; csv and md.
        let out = URL(fileURLWithPath: config.out)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("results.json"))) as! [String: Any]
        XCTAssertEqual(json["format"] as? String, "bss-experiment-results")
        let rows = json["rows"] as! [[String: Any]]
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(Set(rows[0].keys), ["method", "attack", "fraction", "seed", "accuracy", "magsim", "angsim"])
        let md = try String(contentsOf: out.appendingPathComponent("results.md"), encoding: .utf8)
        XCTAssertTrue(md.contains("| method | 15 % |") && md.contains("| bss (paper) |") && md.contains("**"), md)
        let csv = try String(contentsOf: out.appendingPathComponent("results.csv"), encoding: .utf8)
        XCTAssertEqual(csv.split(separator: "\n").count, 3)

        // Again: nothing is recomputed.
        let student = out.appendingPathComponent("runs/bss-paper_f0.15_s3/student.npz")
        let stamp = try FileManager.default.attributesOfItem(atPath: student.path)[.modificationDate] as! Date
        let again = Experiment(config: config)
        var reused: [Bool] = []
        again.onCell = { _, _, _, r in reused.append(r) }
        XCTAssertEqual(try again.run(createdBy: "test"), results)
        XCTAssertEqual(reused, [true, true])
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: student.path)[.modificationDate] as? Date, stamp)

        // A cell interrupted after its checkpoint (no cell.json) continues from it: same result.
        try FileManager.default.removeItem(at: out.appendingPathComponent("runs/bss-paper_f0.15_s3/cell.json"))
        let third = Experiment(config: config)
        reused = []
        third.onCell = { _, _, _, r in reused.append(r) }
        let resumed = try third.run(createdBy: "test")
        XCTAssertEqual(reused, [true, false])
        XCTAssertEqual(resumed[1].accuracy, results[1].accuracy)

        // Finished cells of another configuration are refused, not mixed in.
        let changed = try ExperimentConfig.read(try write(micro.replacingOccurrences(of: "  epochs: 1", with: "  epochs: 2")))
        XCTAssertThrowsError(try Experiment(config: changed).run(createdBy: "test")) { e in
            XCTAssertTrue("\(e)".contains("another configuration"), "\(e)")
        }
    }

    func testConfigIsStrict() throws {
        func problem(_ yaml: String) -> String {
            do { _ = try ExperimentConfig.read(try write(yaml, "bad.yaml")); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(problem(micro + "\nmethod: bss\n").contains("key 'method'"))
        XCTAssertTrue(problem(micro.replacingOccurrences(of: "  epochs: 1", with: "  epocs: 1")).contains("epochs"))
        XCTAssertTrue(problem(micro.replacingOccurrences(of: "  epochs: 1", with: "  seed: 1")).contains("distill.seed"))
        XCTAssertTrue(problem(micro.replacingOccurrences(of: "[hinton, bss]", with: "[hinton, kd]")).contains("key 'methods'"))
        XCTAssertTrue(problem(micro.replacingOccurrences(of: "[0.15]", with: "[0]")).contains("key 'fractions'"))
        XCTAssertTrue(problem(micro + "\nattacks: [paper, cw]\n").contains("key 'attacks'"))
        XCTAssertTrue(problem(micro.replacingOccurrences(of: "  epochs: 1", with: "  epochs: -1")).contains("epochs"))
    }
}

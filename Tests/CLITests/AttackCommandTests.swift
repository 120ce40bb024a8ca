import Foundation
import XCTest
import ModelIO
import TestSupport

/// `bss generate --attack` and `bss experiment` through the CLI (docs/algorithm.md, "Other
/// attacks", "Experiments"): the same data-set layout with `meta.attack`, same seed → same
/// bytes, and the one-line refusals.
final class AttackCommandTests: XCTestCase {
    var dir: URL!
    let teacher = ["--teacher", fixture("distill/digits-teacher.npz"), "--teacher-arch", fixture("distill/digits-teacher.json")]

    override func setUpWithError() throws { dir = temporaryDirectory("bss-attack") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testEveryAttackWritesADataSetDeterministically() throws {
        for attack in ["fgsm", "pgd", "deepfool", "noise"] {
            func run(_ name: String) throws -> URL {
                let out = dir.appendingPathComponent(name)
                let r = try runBSS(["generate"] + teacher + ["--data", fixture("digits/digits-test.npz"), "--limit", "20",
                                                             "--attack", attack, "--attack-eps", "0.15", "--attack-steps", "3",
                                                             "--seed", "4", "--out", out.path])
                XCTAssertEqual(r.status, 0, r.stderr)
                return out
            }
            let a = try run("\(attack)-a.npz"), b = try run("\(attack)-b.npz")
            XCTAssertEqual(try Data(contentsOf: a), try Data(contentsOf: b), "\(attack): same seed, same bytes")
            let d = try Npz.readDictionary(a)
            XCTAssertEqual(Set(d.keys), Set(["base_index", "base_class", "target_class", "status", "steps", "x_bss",
                                             "teacher_logits", "target_prob", "perturbation_norm", "meta"]))
            let meta = try JSONSerialization.jsonObject(with: Data(d["meta"]!.stringValue!.utf8)) as! [String: Any]
            XCTAssertEqual((meta["attack"] as? [String: Any])?["name"] as? String, attack)
            XCTAssertEqual((meta["status_codes"] as? [String: String])?["1"], "crossed into the target class")
        }
    }

    func testRefusals() throws {
        let base = ["generate"] + teacher + ["--data", fixture("digits/digits-test.npz"), "--out", dir.appendingPathComponent("x.npz").path]
        let r1 = try runBSS(base + ["--attack", "official", "--bss-mode", "paper"])
        XCTAssertNotEqual(r1.status, 0)
        XCTAssertTrue(r1.stderr.contains("--bss-mode"), r1.stderr)
        let r2 = try runBSS(base + ["--attack", "deepfool", "--targets", "all"])
        XCTAssertNotEqual(r2.status, 0)
        XCTAssertTrue(r2.stderr.contains("untargeted"), r2.stderr)
        let r3 = try runBSS(base + ["--attack", "cw"])
        XCTAssertNotEqual(r3.status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x.npz").path))
    }
}

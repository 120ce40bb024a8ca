import Boundary
import Distill
import Foundation
import XCTest
import TestSupport

/// The attacks in the BSS slot of `distill` (docs/algorithm.md, "Other attacks"): every attack
/// trains, resumes bit-exactly, and `attack` / `bss_mode` are checked against each other.
final class AttackDistillTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("distill-attack") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func config(_ d: URL, attack: AttackKind) throws -> RunConfig {
        var c = DistillFixtures.digitsConfig(d, method: .bss, epochs: 2, fraction: 0.08)
        try c.set("attack", .string(attack.rawValue), source: "test")
        try c.set("attack_eps", .double(0.15), source: "test")
        try c.set("attack_steps", .int(3), source: "test")
        return c
    }

    func testEveryAttackTrainsAndResumesExactly() throws {
        for attack in [AttackKind.fgsm, .pgd, .deepfool, .noise] {
            let full = try DistillRun.prepare(try config(dir.appendingPathComponent("\(attack)-full"), attack: attack))
            try full.distiller.run()
            let h = full.distiller.history
            XCTAssertGreaterThan(h[0].bssAttempted, 0, "\(attack): samples made")
            XCTAssertGreaterThan(h[0].kdBSS, 0, "\(attack): the BSS-slot term is used")

            let d = dir.appendingPathComponent("\(attack)-resumed")
            let first = try DistillRun.prepare(try config(d, attack: attack))
            try first.writeConfig()
            try first.distiller.run(stopAfter: 1, onEpoch: { _ in try first.endEpoch(createdBy: "test") })
            let (resumed, _) = try DistillRun.resume(from: d.path)
            XCTAssertEqual(resumed.config.resolvedAttack, attack)
            try resumed.distiller.run(onEpoch: { _ in try resumed.endEpoch(createdBy: "test") })
            let a = DistillFixtures.weights(full.distiller.student), b = DistillFixtures.weights(resumed.distiller.student)
            for (x, y) in zip(a, b) { XCTAssertEqual(x.1, y.1, "\(attack) \(x.0): resumed run differs") }
        }
    }

    func testAttackAndBSSModeMustAgree() throws {
        var c = RunConfig()
        try c.set("attack", .string("official"), source: "test")
        XCTAssertEqual(c.bssMode, .official, "attack official is the official search")
        XCTAssertNil(c.attackProblem)
        try c.set("bss_mode", .string("paper"), source: "test")
        XCTAssertNotNil(c.attackProblem)
        XCTAssertThrowsError(try c.set("attack", .string("cw"), source: "test")) { e in
            XCTAssertTrue("\(e)".contains("fgsm"), "\(e)")
        }
        // An attack needs a method with a BSS slot.
        var h = RunConfig()
        h.method = .hinton
        try h.set("attack", .string("fgsm"), source: "test")
        XCTAssertTrue(h.attackProblem?.contains("BSS slot") == true)
        // The resolved config names the attack and reads back equal.
        var d = RunConfig()
        try d.set("attack", .string("pgd"), source: "test")
        try d.set("attack_step", .double(0.01), source: "test")
        let back = try RunConfig.parse(yaml: d.yaml, source: "yaml")
        XCTAssertEqual(back.attack, .pgd)
        XCTAssertEqual(back.attackParameters, d.attackParameters)
    }
}

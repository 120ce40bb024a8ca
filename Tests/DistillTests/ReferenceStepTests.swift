import Boundary
import Distill
import Foundation
import ModelIO
import NN
import Tensor
import TestSupport
import XCTest

/// One distillation step against PyTorch (`Fixtures/distill/distill-step.npz`, made by
/// `Fixtures/scripts/make_distill_fixtures.py`): from the same initial student, batch, teacher
/// logits, BSS and target classes, the same base rows, loss terms, student logits and updated
/// parameters (two SGD steps, so momentum carries over), for every method and both BSS modes,
/// with and without BatchNorm in the student. The BSS come from the fixture (fed through
/// `sampleOverride`): the search's own numerics are tested in BoundaryTests.
final class ReferenceStepTests: XCTestCase {
    var ref: [String: NumpyArray] = [:]

    override func setUpWithError() throws {
        ref = try Npz.readDictionary(URL(fileURLWithPath: DistillFixtures.step))
    }

    func floats(_ key: String) throws -> [Float] {
        try XCTUnwrap(ref[key], "fixture key \(key) missing").floats()
    }

    func ints(_ key: String) throws -> [Int] { try ref[key]!.int64s().map { Int($0) } }
    func scalar(_ key: String) throws -> Float { try floats(key)[0] }

    func testTeacherTwinGivesTheFixtureTeacherLogits() throws {
        let teacher = try DistillFixtures.teacher()
        let x = try ref["x"]!.tensor()
        let logits = teacher.graph.predict(x)
        assertAllClose(logits.data, try floats("teacher_logits"), atol: 1e-5, rtol: 1e-5, "teacher logits")
    }

    func testMLPOriginal() throws { try check("mlp-original") }
    func testMLPHinton() throws { try check("mlp-hinton") }
    func testMLPBSSPaper() throws { try check("mlp-bss-paper") }
    func testMLPBSSOfficial() throws { try check("mlp-bss-official") }
    func testBatchNormStudentBSSPaper() throws { try check("bn-bss-paper") }
    func testBatchNormStudentBSSOfficial() throws { try check("bn-bss-official") }

    func check(_ c: String) throws {
        let kind = ref[c + ".student"]!.stringValue!, method = DistillMethod(rawValue: ref[c + ".method"]!.stringValue!)!
        let mode = BSSMode(rawValue: ref[c + ".mode"]!.stringValue!) ?? .paper
        let student = kind == "mlp"
            ? try ModelLoader.load(DistillFixtures.mlpStudent, arch: "mlp:64-48-10")
            : try ModelLoader.load(DistillFixtures.bnStudent, arch: DistillFixtures.bnStudentSpec)
        let teacher = try DistillFixtures.teacher()
        let sgd = SGD(parameters: student.graph.trainableParameters, lr: try scalar("lr"), momentum: try scalar("momentum"),
                      weightDecay: try scalar("weight_decay"))
        let step = DistillationStep(student: student.graph, teacher: teacher.graph, optimizer: sgd, method: method,
                                    temperature: try scalar("T"), bssPerBatch: try ints("bss_per_batch")[0],
                                    bssParameters: .defaults(for: mode))
        let x = try ref["x"]!.tensor(), y = try ints("y"), t = try ref["teacher_logits"]!.tensor()
        var g = SeededGenerator(seed: 1)
        for s in 1...2 {
            let p = "\(c).\(s)."
            let rows = try ints(p + "rows")
            let xb = x.gather(rows: rows), tb = t.gather(rows: rows)
            var fed = false
            step.sampleOverride = { base, batch in
                fed = true
                XCTAssertEqual(base, try! self.ints(p + "base"), "\(p) base rows (selection order)")
                XCTAssertEqual(batch.data, xb.data, "\(p) the batch handed to the search")
                return BoundarySamples(targets: try! self.ints(p + "target"), x: try! self.ref[p + "x_bss"]!.tensor(),
                                       status: try! self.ints(p + "status").map { BSSStatus(rawValue: Int8($0))! },
                                       teacherLogits: try! self.ref[p + "teacher_logits_bss"]!.tensor())
            }
            let r = step.run(x: xb, labels: rows.map { y[$0] }, teacherLogits: tb, alpha: try scalar("alpha"),
                             beta: try scalar("beta"), learningRate: try scalar("lr"), generator: &g)
            XCTAssertEqual(fed, method == .bss, "\(p) BSS requested")
            XCTAssertEqual(r.bssUsed, try ints(p + "used")[0], "\(p) BSS used")
            assertAllClose([r.crossEntropy], [try scalar(p + "ce")], atol: 1e-5, rtol: 1e-5, "\(p) CE")
            assertAllClose([r.distillation], [try scalar(p + "kd")], atol: 1e-5, rtol: 1e-5, "\(p) KD")
            assertAllClose([r.bssDistillation], [try scalar(p + "kd_bss")], atol: 1e-5, rtol: 1e-5, "\(p) KD on BSS")
            assertAllClose([r.loss], [try scalar(p + "loss")], atol: 1e-5, rtol: 1e-5, "\(p) loss")
            // The state dict after the step: parameters, running statistics, num_batches_tracked.
            let after = ref.filter { $0.key.hasPrefix(p + "after.") }
            let ours = StateDict(model: student).entries
            var worst: Float = 0
            XCTAssertEqual(Set(ours.map { p + "after." + $0.key }), Set(after.keys), "\(p) state-dict keys")
            for (key, a) in ours {
                let expected = after[p + "after." + key]!
                if key.hasSuffix("num_batches_tracked") {
                    XCTAssertEqual(try a.int64s(), try expected.int64s(), "\(p)\(key)")
                } else {
                    assertAllClose(try a.floats(), try expected.floats(), atol: 1e-5, rtol: 1e-5, "\(p)after \(key)")
                    worst = max(worst, maxAbsDiff(try a.floats(), try expected.floats()))
                }
            }
            print("\(p) loss \(r.loss) vs \(try scalar(p + "loss")), largest parameter difference \(worst)")
        }
    }
}

import Foundation
import XCTest
import Boundary
import NN
import Tensor
import TestSupport

/// Target sampling with p_n^k, runner-up and all targets, base selection for distillation.
final class SelectionTests: XCTestCase {
    let p = Tensor(shape: [2, 4], data: [0.6, 0.1, 0.2, 0.1,
                                         0.05, 0.05, 0.5, 0.4])

    func testSampledTargetsFollowTheTeachersProbabilities() {
        var generator = SeededGenerator(seed: 11)
        let draws = 40_000
        var counts = [[Int]](repeating: [0, 0, 0, 0], count: 2)
        for _ in 0..<(draws / 2) {
            let k = TargetSelection.sample(probabilities: p, base: [0, 2], generator: &generator)
            counts[0][k[0]] += 1
            counts[1][k[1]] += 1
        }
        // p_n^k = p(k) / (1 − p(b)): row 0 (b = 0): 0.25, 0.5, 0.25; row 1 (b = 2): 0.1, 0.1, —, 0.8.
        let expected: [[Double]] = [[0, 0.25, 0.5, 0.25], [0.1, 0.1, 0, 0.8]]
        for r in 0..<2 {
            XCTAssertEqual(counts[r][[0, 2][r]], 0, "the base class is never a target")
            for k in 0..<4 {
                let f = Double(counts[r][k]) / Double(draws / 2)
                // 5 standard deviations of a binomial proportion over 20,000 draws.
                XCTAssertEqual(f, expected[r][k], accuracy: 5 * (0.25 / Double(draws / 2)).squareRoot(), "row \(r) class \(k)")
                if k != [0, 2][r] {
                    XCTAssertEqual(Double(TargetSelection.targetProbability(probabilities: p, base: [0, 2][r], target: k, row: r)),
                                   expected[r][k], accuracy: 1e-6)
                }
            }
        }
    }

    func testSamplingIsReproducibleAndWithoutReplacement() {
        var a = SeededGenerator(seed: 3), b = SeededGenerator(seed: 3)
        let first = TargetSelection.sample(probabilities: p, base: [0, 2], perSample: 3, generator: &a)
        XCTAssertEqual(first, TargetSelection.sample(probabilities: p, base: [0, 2], perSample: 3, generator: &b))
        XCTAssertEqual(first.map { Set($0) }, [Set([1, 2, 3]), Set([0, 1, 3])])
        // Rows whose other classes underflowed to 0 still get a (uniform) target.
        let certain = Tensor(shape: [1, 3], data: [1, 0, 0])
        var g = SeededGenerator(seed: 1)
        let k = TargetSelection.sample(probabilities: certain, base: [0], generator: &g)
        XCTAssertTrue([1, 2].contains(k[0]))
        XCTAssertEqual(TargetSelection.targetProbability(probabilities: certain, base: 0, target: 1, row: 0), 0)
    }

    func testRunnerUpAndAllTargets() {
        let logits = Tensor(shape: [3, 4], data: [5, 1, 3, 3,
                                                  0, 9, 2, 8,
                                                  1, 1, 1, 1])
        XCTAssertEqual(TargetSelection.runnerUp(logits: logits, base: [0, 1, 0]), [2, 3, 1])
        XCTAssertEqual(TargetSelection.all(classes: 4, base: [0, 2]), [[1, 2, 3], [0, 1, 3]])
    }

    func testDistillationBaseSelection() {
        // Rows 0, 1, 3 are correct for both; row 2 is wrong for the student, row 4 for the teacher.
        let teacher = Tensor(shape: [5, 3], data: [4, 0, 0, 0, 4, 0, 0, 0, 4, 3, 1, 0, 0, 4, 0])
        let student = Tensor(shape: [5, 3], data: [1, 0, 0, 0, 4, 0, 4, 0, 0, 1, 0.9, 0, 0, 4, 0])
        let labels = [0, 1, 2, 0, 0]
        XCTAssertEqual(BaseSelection.forDistillation(teacherLogits: teacher, studentLogits: student, labels: labels, limit: 5), [0, 1, 3])
        // Scores Σ_{c≠y} (p_t − p_s)²: row 1 is 0 (same logits); rows 0 and 3 differ, row 3 most.
        let pt = softmax(teacher), ps = softmax(student)
        func score(_ r: Int) -> Float { (0..<3).filter { $0 != labels[r] }.reduce(0) { $0 + pow(pt.data[r * 3 + $1] - ps.data[r * 3 + $1], 2) } }
        XCTAssertGreaterThan(score(3), score(0))
        XCTAssertEqual(BaseSelection.forDistillation(teacherLogits: teacher, studentLogits: student, labels: labels, limit: 2), [3, 0])
        XCTAssertEqual(BaseSelection.forDistillation(teacherLogits: teacher, studentLogits: student, labels: labels, limit: 0), [])
        XCTAssertEqual(BaseSelection.correctlyClassified(logits: teacher, labels: labels), [0, 1, 2, 3])
        XCTAssertEqual(BaseSelection.correctlyClassified(logits: teacher, labels: labels, limit: 2), [0, 1])
    }

    func testPairsForEachTargetRule() {
        let logits = Tensor(shape: [2, 3], data: [3, 2, 0, 0, 1, 5])
        var g = SeededGenerator(seed: 0)
        let all = PairSelection.pairs(rows: [4, 9], baseClass: [0, 2], logits: logits, rule: .all, generator: &g)
        XCTAssertEqual(all.baseIndex, [4, 4, 9, 9])
        XCTAssertEqual(all.targetClass, [1, 2, 0, 1])
        XCTAssertEqual(all.baseSamples, 2)
        let runner = PairSelection.pairs(rows: [4, 9], baseClass: [0, 2], logits: logits, rule: .runnerUp, generator: &g)
        XCTAssertEqual(runner.targetClass, [1, 1])
        let sampled = PairSelection.pairs(rows: [4, 9], baseClass: [0, 2], logits: logits, rule: .sampled(perSample: 2), generator: &g)
        XCTAssertEqual(sampled.baseIndex, [4, 4, 9, 9])
        XCTAssertEqual(Set(sampled.targetClass[0..<2]), [1, 2])
        let probabilities = softmax(logits)
        XCTAssertEqual(sampled.targetProbability[0],
                       probabilities.data[sampled.targetClass[0]] / (1 - probabilities.data[0]), accuracy: 1e-6)
    }
}

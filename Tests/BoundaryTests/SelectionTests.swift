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

    func testSHA256KnownDigests() {
        XCTAssertEqual(SHA256.hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Fed in odd pieces: the same digest as in one piece.
        let bytes = Data((0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        var s = SHA256()
        var i = 0
        for piece in [1, 63, 64, 65, 200, 607] { s.update(bytes[i..<(i + piece)]); i += piece }
        XCTAssertEqual(i, 1000)
        XCTAssertEqual(s.hexDigest(), SHA256.hex(bytes))
    }

    /// A folder hashes as the manifest of its files (sha256sum lines, sorted by path).
    func testSHA256OfAFolder() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try Data("abc".utf8).write(to: dir.appendingPathComponent("b.bin"))
        try Data().write(to: dir.appendingPathComponent("sub/a.bin"))
        let manifest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  b.bin\n"
            + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  sub/a.bin\n"
        XCTAssertEqual(try SHA256.path(dir.path), SHA256.hex(Data(manifest.utf8)))
        XCTAssertEqual(try SHA256.path(dir.appendingPathComponent("b.bin").path), SHA256.hex(Data("abc".utf8)))
        XCTAssertThrowsError(try SHA256.path(dir.appendingPathComponent("none").path))
    }
}

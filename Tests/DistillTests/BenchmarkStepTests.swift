import BenchSupport
import Distill
import Foundation
import ModelIO
import NN
import Tensor
import TestSupport
import XCTest

/// The benchmark's distillation step (`DistillBenchmarkStep`) runs and does its fixed-size work:
/// every teacher-correct row up to the limit is searched and every sample enters the loss.
final class BenchmarkStepTests: XCTestCase {
    func testBenchmarkStepOnTheDigitsTeacher() throws {
        let teacher = try DistillFixtures.teacher()
        let student = try ModelLoader.load(DistillFixtures.mlpStudent, arch: "mlp:64-48-10")
        let data = try DataLoader.load(DistillFixtures.test, stored: .nhwc)
        let x = data.x.slice(rows: 0..<32)
        let labels = argmax(rows: teacher.graph.predict(x))
        let bench = DistillBenchmarkStep(teacher: teacher.graph, student: student.graph, x: x, labels: labels, bssPerBatch: 8)
        let first = bench.run()
        XCTAssertEqual(first.bssAttempted, 8)
        XCTAssertEqual(first.bssUsed, 8, "all searched pairs enter the loss")
        XCTAssertTrue(first.loss.isFinite && first.bssDistillation > 0)
        let fixed = bench.run(generateBSS: false)
        XCTAssertEqual(fixed.bssUsed, 8)
        XCTAssertTrue(fixed.loss.isFinite)
    }
}

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

    /// The benchmark's own size (heo2019-resnet26 → heo2019-resnet8, batch 128 + 64 BSS); opt-in
    /// with `BSS_BENCH_DISTILL=1` because it takes seconds in a debug build.
    func testTimeTheBenchmarkWorkload() throws {
        guard ProcessInfo.processInfo.environment["BSS_BENCH_DISTILL"] == "1" else {
            throw XCTSkip("set BSS_BENCH_DISTILL=1 to time the benchmark-sized step")
        }
        let teacher = try ModelLoader.load(fixture("torch/cifar-resnet26.npz"), arch: "heo2019-resnet26")
        let student = try ModelLoader.fresh(arch: "heo2019-resnet8")
        var g = SeededGenerator(seed: 1)
        initialiseLikePyTorch(student.graph, generator: &g)
        var x = Tensor(shape: [128, 3, 32, 32])
        for i in 0..<x.count { x.data[i] = g.nextNormal() }
        let labels = argmax(rows: teacher.graph.predict(x))
        let bench = DistillBenchmarkStep(teacher: teacher.graph, student: student.graph, x: x, labels: labels)
        bench.run()
        for generate in [true, false] {
            var times: [Double] = []
            for _ in 0..<3 {
                let t0 = Date()
                let r = bench.run(generateBSS: generate)
                times.append(Date().timeIntervalSince(t0))
                XCTAssertEqual(r.bssUsed, 64)
            }
            print(String(format: "distill step (generate BSS: %@): median %.3f s", "\(generate)", times.sorted()[1]))
        }
    }
}

import BenchSupport
import Distill
import Foundation
import ModelIO
import NN
import Tensor
import XCTest

/// Where the time of the benchmark's fixed-BSS distillation step goes, phase by phase (opt-in:
/// `BSS_PROFILE_STEP=1`, release build; `BSS_PROFILE_STEP=wrn` for the WRN-40-2 → WRN-16-2 pair).
/// Prints the best wall and process-CPU time per phase; asserts nothing. The phases are the step's own:
/// teacher inference on the batch and on the 64 samples, the student's training forward and
/// backward on each, the SGD update.
final class StepProfileTests: XCTestCase {
    func testProfileFixedBSSStep() throws {
        guard let which = ProcessInfo.processInfo.environment["BSS_PROFILE_STEP"] else {
            throw XCTSkip("set BSS_PROFILE_STEP=1 (or wrn) to profile the distillation step")
        }
        let wrn = which == "wrn"
        func model(_ arch: String, _ seed: UInt64) throws -> Graph {
            let m = try ModelLoader.fresh(arch: arch, classes: wrn ? 100 : 10)
            var g = SeededGenerator(seed: seed)
            initialiseLikePyTorch(m.graph, generator: &g)
            return m.graph
        }
        let teacher = try model(wrn ? "repdistiller-wrn_40_2" : "heo2019-resnet26", 1)
        let student = try model(wrn ? "repdistiller-wrn_16_2" : "heo2019-resnet8", 2)
        if let t = ProcessInfo.processInfo.environment["BSS_PROFILE_THREADS"].flatMap(Int.init) { Parallel.threads = t }
        var g = SeededGenerator(seed: 3)
        var x = Tensor(shape: [128, 3, 32, 32]), xb = Tensor(shape: [64, 3, 32, 32])
        for i in 0..<x.count { x.data[i] = g.nextNormal() }
        for i in 0..<xb.count { xb.data[i] = g.nextNormal() }
        let labels = argmax(rows: teacher.forward(x, mode: .inference, keepForBackward: false))
        let sgd = SGD(parameters: student.trainableParameters, lr: 0.1, momentum: 0.9, weightDecay: 1e-4)
        var times: [String: [Double]] = [:], cpu: [String: [Double]] = [:]
        var order: [String] = []
        func cpuSeconds() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
        }
        func time<R>(_ name: String, _ body: () -> R) -> R {
            let t0 = DispatchTime.now().uptimeNanoseconds, c0 = cpuSeconds()
            let r = body()
            if times[name] == nil { order.append(name) }
            times[name, default: []].append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            cpu[name, default: []].append(cpuSeconds() - c0)
            return r
        }
        let loops = Int(ProcessInfo.processInfo.environment["BSS_PROFILE_LOOPS"] ?? "") ?? 6
        for _ in 0..<loops {
            let t0 = DispatchTime.now().uptimeNanoseconds, c0 = cpuSeconds()
            let t = time("teacher inference 128") { teacher.forward(x, mode: .inference, keepForBackward: false) }
            sgd.zeroGrad()
            let s = time("student forward 128 (training)") { student.forward(x, mode: .training) }
            var (_, grad) = crossEntropy(logits: s, labels: labels)
            let (_, kdGrad) = distillationLoss(student: s, teacher: t, temperature: 3)
            for i in 0..<grad.count { grad.data[i] += 4 * kdGrad.data[i] }
            time("student backward 128") { _ = student.backward(grad) }
            let tb = time("teacher inference 64") { teacher.forward(xb, mode: .inference, keepForBackward: false) }
            let sb = time("student forward 64 (training)") { student.forward(xb, mode: .training) }
            let (_, gb) = distillationLoss(student: sb, teacher: tb, temperature: 3)
            time("student backward 64") { _ = student.backward(gb) }
            time("SGD step") { sgd.step() }
            if times["whole step"] == nil { order.append("whole step") }
            times["whole step", default: []].append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            cpu["whole step", default: []].append(cpuSeconds() - c0)
        }
        print("phase | best wall of \(loops) (s) | best CPU (s)")
        for name in order { print(String(format: "%@ | %.4f | %.4f", name, times[name]!.min()!, cpu[name]!.min()!)) }
    }
}

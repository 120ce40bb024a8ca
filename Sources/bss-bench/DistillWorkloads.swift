import BenchSupport
import Distill
import Foundation
import ModelIO
import NN
import Tensor

/// One distillation step (heo2019-resnet26 teacher → heo2019-resnet8 student, batch 128 + 64 BSS):
/// with the BSS search, and with the 64 BSS inputs given (as bench/torch_bench.py's
/// `distill_step` and `distill_step_fixed_bss`).
func distillWorkloads(teacher: Model, x: Tensor, labels: [Int]) -> [Workload] {
    guard let student = try? benchModel("heo2019-resnet8", seed: 5) else { return [] }
    let bench = DistillBenchmarkStep(teacher: teacher.graph, student: student.graph, x: x, labels: labels)
    return [
        Workload(name: "distill-step", detail: "resnet26 → resnet8, batch 128 + 64 BSS (search included)") {
            _ = bench.run(generateBSS: true); return 0 },
        Workload(name: "distill-step-fixed-bss", detail: "the same step with the 64 BSS given") {
            _ = bench.run(generateBSS: false); return 0 },
    ]
}

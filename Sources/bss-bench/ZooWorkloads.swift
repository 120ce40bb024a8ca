import BenchSupport
import Distill
import Foundation
import ModelIO
import NN
import Tensor

/// Zoo models at their usual input sizes (as bench/torch_bench.py's `tv_resnet18`,
/// `tv_mobilenet_v2` and `wrn_distill_step`): torchvision ResNet-18 and MobileNetV2 inference
/// at 64x64, batch 64, and one BSS distillation step RepDistiller WRN-40-2 → WRN-16-2 on
/// CIFAR-100-shaped inputs (batch 128 + 64 BSS, the search included).
func zooWorkloads() throws -> [Workload] {
    var list: [Workload] = []
    let x64 = benchInputs(64, seed: 7, size: 64)
    for (name, arch) in [("torchvision-resnet18", "torchvision-resnet18@64"),
                         ("torchvision-mobilenet_v2", "torchvision-mobilenet_v2@64")] {
        let m = try benchModel(arch, seed: 8)
        list.append(Workload(name: name, detail: "\(arch), batch 64, 3x64x64, inference mode") {
            _ = m.graph.forward(x64, mode: .inference, keepForBackward: false); return 64 })
    }
    let teacher = try benchModel("repdistiller-wrn_40_2", seed: 9)
    let student = try benchModel("repdistiller-wrn_16_2", seed: 10)
    let x = benchInputs(128, seed: 11)
    let labels = argmax(rows: teacher.graph.forward(x, mode: .inference, keepForBackward: false))
    let bench = DistillBenchmarkStep(teacher: teacher.graph, student: student.graph, x: x, labels: labels)
    list.append(Workload(name: "distill-step-wrn", detail: "repdistiller-wrn_40_2 → wrn_16_2, batch 128 + 64 BSS (search included)") {
        _ = bench.run(generateBSS: true); return 0 })
    return list
}

let zooWorkloadNames: Set<String> = ["torchvision-resnet18", "torchvision-mobilenet_v2", "distill-step-wrn"]

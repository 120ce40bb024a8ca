import Foundation
import ModelIO
import NN
import Tensor

/// The benchmark's workloads (cifar-resnet26 at batch 128 unless stated).
func allWorkloads() throws -> [Workload] {
    let teacher = try benchModel("cifar-resnet26", seed: 1)
    let x = benchInputs(128, seed: 2)
    var list: [Workload] = []
    list.append(Workload(name: "resnet26-inference", detail: "cifar-resnet26, batch 128, inference mode") {
        _ = teacher.graph.forward(x, mode: .inference); return 128 })
    let labels = argmax(rows: teacher.graph.forward(x, mode: .inference))
    let targets = labels.map { ($0 + 1) % 10 }
    list.append(Workload(name: "resnet26-margin-grad", detail: "forward + input gradient of f_b − f_k, batch 128") {
        let out = teacher.graph.forward(x, mode: .inference)
        _ = teacher.graph.backward(marginSeed(batch: 128, classes: out.sampleCount, base: labels, target: targets),
                                   parameterGradients: false)
        return 128 })
    list += extraWorkloads(teacher: teacher, x: x, labels: labels)
    return list
}

/// Workloads of later layers (BSS generation, distillation); empty until they exist.
func extraWorkloads(teacher: Model, x: Tensor, labels: [Int]) -> [Workload] { [] }

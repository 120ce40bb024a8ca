import Foundation
import ModelIO
import NN
import Tensor
import Boundary

/// The benchmark's workloads (heo2019-resnet26 at batch 128 unless stated); the zoo models are
/// built only when a zoo workload is asked for (or all are).
func allWorkloads(only: String? = nil) throws -> [Workload] {
    let teacher = try benchModel("heo2019-resnet26", seed: 1)
    let x = benchInputs(128, seed: 2)
    var list: [Workload] = []
    list.append(Workload(name: "resnet26-inference", detail: "heo2019-resnet26, batch 128, inference mode") {
        _ = teacher.graph.forward(x, mode: .inference, keepForBackward: false); return 128 })
    let labels = argmax(rows: teacher.graph.forward(x, mode: .inference, keepForBackward: false))
    let targets = labels.map { ($0 + 1) % 10 }
    list.append(Workload(name: "resnet26-margin-grad", detail: "forward + input gradient of f_b − f_k, batch 128") {
        let out = teacher.graph.forward(x, mode: .inference)
        _ = teacher.graph.backward(marginSeed(batch: 128, classes: out.sampleCount, base: labels, target: targets),
                                   parameterGradients: false)
        return 128 })
    list += extraWorkloads(teacher: teacher, x: x, labels: labels)
    if only == nil || zooWorkloadNames.contains(only!) { list += try zooWorkloads() }
    return list
}

/// BSS generation: 64 base samples, one target each drawn with p_n^k, paper mode.
func extraWorkloads(teacher: Model, x: Tensor, labels: [Int]) -> [Workload] {
    let x64 = x.slice(rows: 0..<64)
    let logits = teacher.graph.forward(x64, mode: .inference, keepForBackward: false)
    let base = argmax(rows: logits)
    var g = SeededGenerator(seed: 3)
    let targets = TargetSelection.sample(probabilities: softmax(logits), base: base, generator: &g)
    let gen = BSSGenerator(teacher: teacher.graph, parameters: .paper)
    gen.batchSize = 64
    // Items = per-sample forward evaluations: the inputs differ from PyTorch's, so the number of
    // steps differs too; time per evaluation is the comparable figure.
    return [Workload(name: "bss-resnet26", detail: "BSS, 64 pairs, sampled targets, paper mode (items: per-sample evaluations)") {
        let r = gen.run(x: x64, base: base, target: targets)
        return r.forwardRows
    }] + distillWorkloads(teacher: teacher, x: x, labels: labels)
}

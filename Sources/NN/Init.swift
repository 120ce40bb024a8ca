import Tensor

/// Re-initialises every layer of `graph` the way PyTorch's `reset_parameters` does, drawing
/// from `generator` in node order (weight, then bias, per layer).
///
/// - Linear and Conv2D (any layer with a learnable `weight` of rank 2 `[out, in]` or rank 4
///   `[O, I, kh, kw]`; matched by parameter name and shape so it needs no concrete class):
///   `weight ~ U(−1/√fan_in, 1/√fan_in)` — `kaiming_uniform_(a = √5)`, whose bound
///   `gain·√(3/fan_in)` with `gain = √(2/(1 + 5))` reduces to `1/√fan_in` — and a `bias`, if
///   present, `~ U(−1/√fan_in, 1/√fan_in)`; `fan_in = in · kh · kw`.
/// - BatchNorm: `weight` 1, `bias` 0, `running_mean` 0, `running_var` 1, `numBatchesTracked` 0.
///
/// The distribution matches PyTorch; the draws do not (our generator is not torch's), so
/// seeded runs are reproducible within bss, not bit-identical to a torch run.
public func initialiseLikePyTorch(_ graph: Graph, generator: inout SeededGenerator) {
    for node in graph.nodes {
        let layer = node.layer
        if let bn = layer as? BatchNorm {
            bn.weight.value.data.withUnsafeMutableBufferPointer { $0.update(repeating: 1) }
            bn.bias.value.zero()
            bn.runningMean.value.zero()
            bn.runningVar.value.data.withUnsafeMutableBufferPointer { $0.update(repeating: 1) }
            bn.numBatchesTracked = 0
            continue
        }
        let params = layer.parameters
        guard let weight = params.first(where: { $0.name == "weight" && $0.isTrainable }),
              weight.value.rank == 2 || weight.value.rank == 4 else { continue }
        let fanIn = weight.value.shape.dropFirst().reduce(1, *)
        guard fanIn > 0 else { continue }
        let bound = 1 / Float(fanIn).squareRoot()
        fillUniform(weight, bound: bound, generator: &generator)
        if let bias = params.first(where: { $0.name == "bias" && $0.isTrainable }) {
            fillUniform(bias, bound: bound, generator: &generator)
        }
    }
}

/// `p ~ U(−bound, bound)` element by element in row-major order.
private func fillUniform(_ p: Parameter, bound: Float, generator: inout SeededGenerator) {
    p.value.data.withUnsafeMutableBufferPointer { d in
        for i in 0..<d.count { d[i] = (2 * generator.nextFloat() - 1) * bound }
    }
}

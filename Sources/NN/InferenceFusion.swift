import Tensor

/// A convolution with the BatchNorm that follows it folded into its weights, and the ReLU or
/// ReLU6 after that applied in the same call: the unit `Graph` runs in `.inference` in place of
/// the nodes `Conv2D → BatchNorm → ReLU/ReLU6` (or `Conv2D → BatchNorm`, or `Conv2D →
/// ReLU/ReLU6`) when each node's output feeds only the next one. See docs/design.md, "Fusion".
///
/// Folding: BatchNorm in inference is the affine map `y = a·(z − μ) + β` per output channel o,
/// with `a = γ / √(σ² + eps)` and `z = W x + b`, so
///
///     y = W' x + b',   W'[o, …] = a[o] · W[o, …],   b'[o] = a[o] · (b[o] − μ[o]) + β[o]
///
/// computed in Double from the float32 parameters and rounded once. The result differs from the
/// unfused layers by rounding only (one product per weight instead of a scale per output).
///
/// Cache: the folded weights are kept until one of the six parameters (conv weight and bias,
/// BatchNorm γ, β, running mean and variance) changes: every write to `Parameter.value` bumps
/// its `version`, and the cache is keyed by the versions, so a student evaluated between
/// training steps (optimiser updates, running-statistics updates) is refolded.
///
/// Backward (the input gradient BSS and the margin gradient need): with `g = dy · [y > 0]` when
/// a ReLU is fused (`dy · [0 < y < 6]` for ReLU6, which is `[0 < z < 6]` of its input z),
/// `dx = convᵀ(W', g)`, one transposed convolution with the folded weights.
/// Parameter gradients after a fused forward (rare: a gradient check or training in inference
/// mode) rerun the unfused layers on the kept input and go back through them.
final class FusedConvBlock: FusedBlock {
    let conv: Conv2D
    let batchNorm: BatchNorm?
    let activation: ConvActivation
    /// The fused nodes in order: the convolution (head), the BatchNorm, the activation; the last is
    /// the one whose output the block produces.
    let members: [Int]
    let inputs: [Graph.Source]

    private var key: [UInt64] = []
    private var weights: [Float] = []
    private var bias: [Float]?

    init(conv: Conv2D, batchNorm: BatchNorm?, activation: ConvActivation, members: [Int], input: Graph.Source) {
        self.conv = conv
        self.batchNorm = batchNorm
        self.activation = activation
        self.members = members
        inputs = [input]
    }

    func runs(in mode: Mode) -> Bool { mode == .inference }

    /// The parameter versions the folded weights were computed from.
    private var currentKey: [UInt64] {
        var k = [conv.weight.version, conv.bias?.version ?? 0]
        if let bn = batchNorm {
            k += [bn.weight.version, bn.bias.version, bn.runningMean.version, bn.runningVar.version]
        }
        return k
    }

    /// The folded weights and bias (the convolution's own without a BatchNorm), refolded when a
    /// parameter changed since the last call.
    func folded() -> (weights: [Float], bias: [Float]?) {
        guard let bn = batchNorm else { return (conv.weight.value.data, conv.bias?.value.data) }
        let k = currentKey
        if k != key {
            let o = conv.outChannels, per = conv.weight.value.count / o
            let w = conv.weight.value.data, b = conv.bias?.value.data
            let gamma = bn.weight.value.data, beta = bn.bias.value.data
            let mu = bn.runningMean.value.data, variance = bn.runningVar.value.data
            var fw = [Float](repeating: 0, count: w.count), fb = [Float](repeating: 0, count: o)
            for oc in 0..<o {
                let a = Double(gamma[oc]) / (Double(variance[oc]) + Double(bn.eps)).squareRoot()
                for i in (oc * per)..<((oc + 1) * per) { fw[i] = Float(a * Double(w[i])) }
                fb[oc] = Float(a * (Double(b?[oc] ?? 0) - Double(mu[oc])) + Double(beta[oc]))
            }
            weights = fw
            bias = fb
            key = k
        }
        return (weights, bias)
    }

    /// x `[N, I, H, W]` → the block's output `[N, O, outH, outW]`, per sample (batch-invariant).
    func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let (w, b) = folded()
        return conv.convolve(inputs[0], weights: w, bias: b, activation: activation, perSample: true)
    }

    /// The input (Conv2D's backward reads it for parameter gradients, and its shape) and, with
    /// a fused activation, the output for the mask.
    func record(inputs: [Tensor], output: Tensor) -> ForwardRecord {
        ForwardRecord(inputs: inputs, output: activation == .none ? .zeros([0]) : output, inputShapes: inputs.map(\.shape))
    }

    /// dLoss/dx for the last `forward`.
    func backward(_ dy: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let x = record.inputs[0]
        let g: Tensor
        switch activation {
        case .none: g = dy
        case .relu: g = reluGradient(dy, output: record.output)
        // (0 < y < 6 exactly where the ReLU6 input z has 0 < z < 6, PointwiseActivation's mask)
        case .relu6: g = zipElements(dy, record.output) { d, y in y > 0 && y < 6 ? d : 0 }
        }
        if !parameterGradients {
            return [conv.backpropagate(g, input: x, weights: folded().weights, parameterGradients: false)]
        }
        // The unfused layers, rerun on the kept input, give the parameter gradients.
        let z = conv.forward([x], mode: .inference)
        var gz = g
        if let bn = batchNorm {
            _ = bn.forward([z], mode: .inference)
            gz = bn.backward(g, ForwardRecord(inputs: [z], output: .zeros([0])), parameterGradients: true)[0]
        }
        return [conv.backpropagate(gz, input: x, weights: conv.weight.value.data, parameterGradients: true)]
    }
}

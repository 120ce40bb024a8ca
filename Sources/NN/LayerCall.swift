import Tensor

/// One layer run outside a graph: `forward` keeps the whole `ForwardRecord`, `backward` hands
/// it to the layer. For tests, gradient checks and single-layer use; a `Graph` keeps only what
/// each layer's `backwardReads` declares.
public final class LayerCall {
    public let layer: Layer
    public private(set) var record: ForwardRecord?

    public init(_ layer: Layer) { self.layer = layer }

    /// Runs the layer forward and keeps its inputs and output for `backward`.
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let y = layer.forward(inputs, mode: mode)
        record = ForwardRecord(inputs: inputs, output: y)
        return y
    }

    /// Backward for the last `forward`.
    public func backward(_ gradOutput: Tensor, parameterGradients: Bool = true) -> [Tensor] {
        guard let record else { preconditionFailure("LayerCall.backward before forward") }
        return layer.backward(gradOutput, record, parameterGradients: parameterGradients)
    }
}

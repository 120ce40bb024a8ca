import Tensor

/// `y = x`, `dx = dy`. Stands in for layers an importer drops (inference-only ops, a split-off
/// softmax) so node names and graph structure stay those of the source model. Shapes: any → same.
public final class Identity: Layer {
    public init() {}
    public var kind: String { "Identity" }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try singleInputShape(inputShapes, kind) }
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor { inputs[0] }
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] { [gradOutput] }
}

import Tensor

/// Flattens each sample to a feature vector in memory order: `[N, d1, d2, ...]` → `[N, d1·d2·...]`
/// (PyTorch's `flatten(1)`; for `[C, H, W]` samples the features are in (c, h, w) order). No copy.
///
/// The engine has one layout (docs/design.md, "Layout conversions"): a channels-last framework's
/// (h, w, c) flatten order is converted on import, into the following Dense weights or into a
/// `Permute([1, 2, 0])` before this layer.
public final class Flatten: Layer {
    public var kind: String { "Flatten" }

    public init() {}

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1, !inputShapes[0].isEmpty else {
            throw NNError.shape(kind, "Flatten expects one input with at least one axis per sample, got \(inputShapes)")
        }
        return [inputShapes[0].reduce(1, *)]
    }

    /// x `[N, ...]` → y `[N, features]`
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        return x.reshaped([x.batch, x.sampleCount])
    }

    /// dy `[N, features]` → dx with the input's shape.
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        [gradOutput.reshaped(record.inputShapes[0])]
    }
}

import Tensor

/// Reinterprets each sample's elements (row-major order unchanged) under a new per-sample shape.
///
/// Shapes: `[N] + s` → `[N] + shape` with `Π s = Π shape`. One entry of `shape` may be `-1`,
/// inferred from the element count (as in `torch.reshape`). Backward restores the input shape.
/// A channels-last reshape is a `Permute` around this layer (docs/design.md, "Layout conversions").
public final class Reshape: Layer {
    /// Target per-sample shape as given (may hold one `-1`).
    public let shape: [Int]

    public init(shape: [Int]) {
        precondition(shape.filter { $0 == -1 }.count <= 1 && shape.allSatisfy { $0 > 0 || $0 == -1 },
                     "Reshape shape must be positive extents with at most one -1, got \(shape)")
        self.shape = shape
    }

    public var kind: String { "Reshape" }
    public var summary: String { "-> \(shape)" }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try singleInputShape(inputShapes, kind)
        guard let out = resolved(count: s.reduce(1, *)) else {
            throw NNError.shape("", "Reshape cannot view per-sample input \(s) (\(s.reduce(1, *)) elements) as \(shape)")
        }
        return out
    }

    /// `shape` with any `-1` filled in for `count` elements, or nil if it does not fit.
    private func resolved(count: Int) -> [Int]? {
        let known = shape.filter { $0 != -1 }.reduce(1, *)
        guard let hole = shape.firstIndex(of: -1) else { return known == count ? shape : nil }
        guard known > 0, count % known == 0 else { return nil }
        var out = shape
        out[hole] = count / known
        return out
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        guard let out = resolved(count: x.sampleCount) else {
            preconditionFailure("Reshape \(shape) got input \(x.shape)")
        }
        return x.reshaped([x.batch] + out)
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let inputShape = record.inputShapes[0]
        return [gradOutput.reshaped(inputShape)]
    }
}

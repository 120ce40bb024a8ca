import Tensor

/// Element-wise sum of two or more inputs of equal shape (residual connections).
///
///     y = x₁ + x₂ + … + xₙ        dxᵢ = dy for every i
///
/// Shapes: n × `[N, …]` (all equal) → `[N, …]`.
public final class Add: Layer {
    public init() {}
    public var kind: String { "Add" }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count >= 2 else {
            throw NNError.shape("", "Add needs at least two inputs, got \(inputShapes.count)")
        }
        guard inputShapes.allSatisfy({ $0 == inputShapes[0] }) else {
            throw NNError.shape("", "Add needs inputs of equal shape, got " + inputShapes.map { "\($0)" }.joined(separator: ", "))
        }
        return inputShapes[0]
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        precondition(!inputs.isEmpty && inputs.allSatisfy { $0.shape == inputs[0].shape },
                     "Add got inputs of shapes \(inputs.map(\.shape))")
        if inputs.count == 2 {
            // One pass into a fresh buffer (same sums as copying x₁ and adding x₂).
            let n = inputs[0].count
            let y = inputs[0].data.withUnsafeBufferPointer { ap in
                inputs[1].data.withUnsafeBufferPointer { bp in
                    uninitializedFloats(n) { yb in
                        let ab = ap.baseAddress!, bb = bp.baseAddress!
                        parallelChunks(n, work: n) { r in
                            addElements(yb + r.lowerBound, ab + r.lowerBound, bb + r.lowerBound, r.count)
                        }
                    }
                }
            }
            return Tensor(shape: inputs[0].shape, data: y)
        }
        var y = inputs[0]
        for x in inputs.dropFirst() { y.add(x) }
        return y
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        // The same tensor for every input; copy-on-write shares storage until a consumer mutates it.
        [Tensor](repeating: gradOutput, count: record.inputShapes.count)
    }
}

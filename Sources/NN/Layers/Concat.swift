import Tensor

/// Concatenation along the channel axis (the first per-sample axis), as `torch.cat(xs, dim=1)`.
///
/// Shapes: n ≥ 1 inputs `[N, Cᵢ, …]` whose other axes agree → `[N, ΣCᵢ, …]`, input i's channels
/// at offset `C₁ + … + Cᵢ₋₁`. Backward: each input gets its own channel block of `dy`.
public final class Concat: Layer {
    public init() {}
    public var kind: String { "Concat" }
    public var summary: String { "along channels" }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard let first = inputShapes.first, !first.isEmpty else {
            throw NNError.shape("", "Concat needs at least one input with a channel axis, got \(inputShapes)")
        }
        guard inputShapes.allSatisfy({ $0.count == first.count && $0.dropFirst() == first.dropFirst() }) else {
            throw NNError.shape("", "Concat needs inputs that agree on every axis but channels, got "
                                + inputShapes.map { "\($0)" }.joined(separator: ", "))
        }
        return [inputShapes.reduce(0) { $0 + $1[0] }] + first.dropFirst()
    }

    /// xᵢ `[N, Cᵢ, …]` → y `[N, ΣCᵢ, …]`
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let n = inputs[0].shape[0]
        let per = inputs.map(\.sampleCount), total = per.reduce(0, +)
        let y = uninitializedFloats(n * total) { yb in
            var offset = 0
            for (x, size) in zip(inputs, per) {
                precondition(x.shape[0] == n, "Concat inputs disagree on the batch: \(inputs.map(\.shape))")
                x.data.withUnsafeBufferPointer { xp in
                    for s in 0..<n { (yb + s * total + offset).update(from: xp.baseAddress! + s * size, count: size) }
                }
                offset += size
            }
        }
        return Tensor(shape: [n, inputs.reduce(0) { $0 + $1.shape[1] }] + inputs[0].shape.dropFirst(2), data: y)
    }

    /// dy `[N, ΣCᵢ, …]` → dxᵢ `[N, Cᵢ, …]`
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let shapes = record.inputShapes, n = gradOutput.shape[0]
        let per = shapes.map { $0.dropFirst().reduce(1, *) }, total = per.reduce(0, +)
        precondition(gradOutput.count == n * total, "Concat gradient \(gradOutput.shape) does not match the last forward")
        var offset = 0
        return gradOutput.data.withUnsafeBufferPointer { gp in
            zip(shapes, per).map { shape, size in
                let dx = uninitializedFloats(n * size) { db in
                    for s in 0..<n { (db + s * size).update(from: gp.baseAddress! + s * total + offset, count: size) }
                }
                offset += size
                return Tensor(shape: shape, data: dx)
            }
        }
    }
}

import Tensor

/// Element-wise product of two inputs, one of which may be a per-channel operand broadcast
/// over the other's spatial positions (squeeze-and-excitation: `x * scale`).
///
///     y[n, c, p] = a[n, c, p] · b[n, c, p]     (equal shapes)
///     y[n, c, p] = a[n, c, p] · s[n, c]        (s of shape [C] or [C, 1, 1], either input)
///
/// Shapes: `[N, C, …]` and `[N, C, …]`, `[N, C]` or `[N, C, 1, …, 1]` (either order) → the
/// larger shape. Backward: the full operand gets `dy · other`; a broadcast operand gets
/// `Σ_p dy[n, c, p] · full[n, c, p]` over the positions it was broadcast to.
public final class Multiply: Layer {
    public init() {}
    public var kind: String { "Multiply" }
    public var summary: String { "element-wise" }
    public var backwardReads: BackwardReads { .inputs }

    /// Index of the full input, or nil when the shapes do not fit.
    static func fullIndex(_ shapes: [[Int]]) -> Int? {
        guard shapes.count == 2 else { return nil }
        let a = shapes[0], b = shapes[1]
        if a == b { return 0 }
        func broadcasts(_ s: [Int], over f: [Int]) -> Bool {
            guard f.count >= 1, s.first == f.first else { return false }
            return s.count == 1 || (s.count == f.count && s.dropFirst().allSatisfy { $0 == 1 })
        }
        if broadcasts(b, over: a) { return 0 }
        if broadcasts(a, over: b) { return 1 }
        return nil
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard let f = Multiply.fullIndex(inputShapes) else {
            throw NNError.shape("", "Multiply needs two inputs of equal shape, or [C, …] and a per-channel [C] or [C, 1, 1] operand; got "
                                + inputShapes.map { "\($0)" }.joined(separator: ", "))
        }
        return inputShapes[f]
    }

    /// The full input, the other one, channels and positions per channel (1 when equal shapes
    /// make the "channel" a single element).
    private func layout(_ shapes: [[Int]]) -> (full: Int, other: Int, channels: Int, inner: Int) {
        let sample = shapes.map { Array($0.dropFirst()) }
        guard let f = Multiply.fullIndex(sample) else { preconditionFailure("Multiply inputs \(shapes)") }
        let fullCount = sample[f].reduce(1, *)
        if sample[0] == sample[1] { return (f, 1 - f, fullCount, 1) }
        return (f, 1 - f, sample[f][0], fullCount / sample[f][0])
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let (f, o, c, inner) = layout(inputs.map(\.shape))
        let n = inputs[f].shape[0], per = c * inner
        let y = inputs[f].data.withUnsafeBufferPointer { ap in
            inputs[o].data.withUnsafeBufferPointer { bp in
                uninitializedFloats(n * per) { yb in
                    let a = ap.baseAddress!, b = bp.baseAddress!
                    if inner == 1 {
                        // Equal shapes: one product per element.
                        for i in 0..<(n * per) { yb[i] = a[i] * b[i] }
                        return
                    }
                    for s in 0..<n {
                        for ch in 0..<c {
                            let v = b[s * c + ch], base = s * per + ch * inner
                            scaleElements(yb + base, a + base, v, inner)
                        }
                    }
                }
            }
        }
        return Tensor(shape: inputs[f].shape, data: y)
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let (f, o, c, inner) = layout(record.inputShapes)
        let full = record.inputs[f], other = record.inputs[o]
        let n = full.shape[0], per = c * inner
        precondition(gradOutput.count == n * per, "Multiply gradient \(gradOutput.shape) does not match the last forward")
        var dFull = [Float](repeating: 0, count: n * per), dOther = [Float](repeating: 0, count: other.count)
        gradOutput.data.withUnsafeBufferPointer { gp in
        full.data.withUnsafeBufferPointer { ap in
        other.data.withUnsafeBufferPointer { bp in
            let g = gp.baseAddress!, a = ap.baseAddress!, b = bp.baseAddress!
            if inner == 1 {
                for i in 0..<(n * per) { dFull[i] = g[i] * b[i]; dOther[i] = g[i] * a[i] }
                return
            }
            dFull.withUnsafeMutableBufferPointer { dp in
                for s in 0..<n {
                    for ch in 0..<c {
                        let base = s * per + ch * inner
                        scaleElements(dp.baseAddress! + base, g + base, b[s * c + ch], inner)
                        var sum: Float = 0
                        for i in base..<(base + inner) { sum += g[i] * a[i] }
                        dOther[s * c + ch] = sum
                    }
                }
            }
        }
        }
        }
        var grads = [Tensor](repeating: Tensor.zeros([0]), count: 2)
        grads[f] = Tensor(shape: record.inputShapes[f], data: dFull)
        grads[o] = Tensor(shape: record.inputShapes[o], data: dOther)
        return grads
    }
}

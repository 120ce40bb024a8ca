import Tensor

/// Channels `[start, end)` of the input: how `torch.chunk`/`torch.split` along dim 1 and
/// `x[:, a:b]` export, one node per piece.
///
/// Shapes: `[N, C, …]` → `[N, end − start, …]` (`0 ≤ start < end ≤ C`). Backward: `dy` placed
/// at the slice's channels, zeros elsewhere.
public final class ChannelSlice: Layer {
    public let start: Int
    public let end: Int

    public init(start: Int, end: Int) {
        precondition(start >= 0 && end > start, "ChannelSlice needs 0 ≤ start < end, got [\(start), \(end))")
        self.start = start; self.end = end
    }
    public var kind: String { "ChannelSlice" }
    public var summary: String { "channels [\(start), \(end))" }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1, let c = inputShapes[0].first else {
            throw NNError.shape(kind, "ChannelSlice expects one input with a channel axis, got \(inputShapes)")
        }
        guard end <= c else {
            throw NNError.shape(kind, "ChannelSlice takes channels [\(start), \(end)) of an input with \(c) channels")
        }
        return [end - start] + inputShapes[0].dropFirst()
    }

    /// x `[N, C, …]` → y `[N, end − start, …]`
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0], n = x.shape[0], per = x.sampleCount
        let inner = per / x.shape[1], size = (end - start) * inner
        precondition(end <= x.shape[1], "ChannelSlice [\(start), \(end)) of input \(x.shape)")
        let y = x.data.withUnsafeBufferPointer { xp in
            uninitializedFloats(n * size) { yb in
                for s in 0..<n { (yb + s * size).update(from: xp.baseAddress! + s * per + start * inner, count: size) }
            }
        }
        return Tensor(shape: [n, end - start] + x.shape.dropFirst(2), data: y)
    }

    /// dy `[N, end − start, …]` → dx `[N, C, …]`
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let shape = record.inputShapes[0], n = shape[0], per = shape.dropFirst().reduce(1, *)
        let inner = per / shape[1], size = (end - start) * inner
        precondition(gradOutput.count == n * size, "ChannelSlice gradient \(gradOutput.shape) does not match the last forward")
        var dx = [Float](repeating: 0, count: n * per)
        gradOutput.data.withUnsafeBufferPointer { gp in
            dx.withUnsafeMutableBufferPointer { dp in
                for s in 0..<n { (dp.baseAddress! + s * per + start * inner).update(from: gp.baseAddress! + s * size, count: size) }
            }
        }
        return [Tensor(shape: shape, data: dx)]
    }
}

/// ShuffleNet's channel shuffle with `groups` g: view the channels as `[g, C/g]`, transpose to
/// `[C/g, g]`, flatten (`x.view(N, g, C/g, H, W).transpose(1, 2).reshape(N, C, H, W)`), so
/// output channel `j·g + i` is input channel `i·(C/g) + j`.
///
/// Shapes: `[N, C, …]` → `[N, C, …]` (g divides C). Backward: the inverse permutation.
public final class ChannelShuffle: Layer {
    public let groups: Int

    public init(groups: Int) {
        precondition(groups >= 1, "ChannelShuffle needs groups ≥ 1")
        self.groups = groups
    }
    public var kind: String { "ChannelShuffle" }
    public var summary: String { "\(groups) groups" }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1, let c = inputShapes[0].first else {
            throw NNError.shape(kind, "ChannelShuffle expects one input with a channel axis, got \(inputShapes)")
        }
        guard c % groups == 0 else {
            throw NNError.shape(kind, "ChannelShuffle needs \(groups) groups to divide the \(c) channels")
        }
        return inputShapes[0]
    }

    /// Copies channel blocks of `inner` floats: `inverse` false maps input channel
    /// `i·(C/g) + j` to output `j·g + i`; true undoes it.
    private func permute(_ x: Tensor, inverse: Bool) -> Tensor {
        let n = x.shape[0], c = x.shape[1], per = x.sampleCount, inner = per / c, cg = c / groups
        let y = x.data.withUnsafeBufferPointer { xp in
            uninitializedFloats(n * per) { yb in
                for s in 0..<n {
                    for i in 0..<groups {
                        for j in 0..<cg {
                            let a = i * cg + j, b = j * groups + i
                            let (from, to) = inverse ? (b, a) : (a, b)
                            (yb + s * per + to * inner).update(from: xp.baseAddress! + s * per + from * inner, count: inner)
                        }
                    }
                }
            }
        }
        return Tensor(shape: x.shape, data: y)
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        precondition(inputs[0].rank >= 2 && inputs[0].shape[1] % groups == 0, "ChannelShuffle input \(inputs[0].shape)")
        return permute(inputs[0], inverse: false)
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        [permute(gradOutput, inverse: true)]
    }
}

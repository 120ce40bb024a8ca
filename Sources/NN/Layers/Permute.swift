import Tensor

/// Reorders the axes of each sample (the batch axis stays first): `torch.permute(x, [0] + dims+1)`,
/// ONNX `Transpose(perm = [0] + dims+1)`.
///
/// `dims` is a permutation of the per-sample axes `0..<rank`: output sample axis `i` is input
/// sample axis `dims[i]`, so a sample of shape `s` becomes `[s[dims[0]], s[dims[1]], ...]` and
///
///     y[n, j_0, j_1, ...] = x[n, i_0, i_1, ...]   with  i_{dims[k]} = j_k.
///
/// Example: `dims = [1, 2, 0]` turns `[C, H, W]` into `[H, W, C]`; a plain Flatten after it
/// gives the features in (h, w, c) order, which is how a channels-last framework flattens
/// (docs/design.md, "Layout conversions"). Backward applies the inverse permutation.
/// Shapes: `[N] + s` → `[N] + s∘dims`.
public final class Permute: Layer {
    /// Per-sample axis order: output axis `i` reads input axis `dims[i]`.
    public let dims: [Int]

    public var kind: String { "Permute" }
    public var summary: String { "dims \(dims)" }

    public init(dims: [Int]) {
        precondition(Self.isPermutation(dims), "Permute dims must be a permutation of 0..<\(dims.count), got \(dims)")
        self.dims = dims
    }

    /// Whether `dims` lists each of `0..<dims.count` once.
    public static func isPermutation(_ dims: [Int]) -> Bool {
        !dims.isEmpty && dims.sorted() == Array(0..<dims.count)
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try singleInputShape(inputShapes, kind)
        guard s.count == dims.count else {
            throw NNError.shape("", "Permute with dims \(dims) needs samples with \(dims.count) axes, got \(s)")
        }
        return dims.map { s[$0] }
    }

    /// The per-sample gather map for input shape `s`: output element `j` reads input element `map[j]`.
    /// Built per call (O(elements per sample), small next to the copy) so the layer holds no
    /// mutable state and can be called from several threads.
    private func gatherMap(for s: [Int]) -> [Int] {
        let rank = s.count, count = s.reduce(1, *)
        var inStride = [Int](repeating: 1, count: rank)
        for a in stride(from: rank - 2, through: 0, by: -1) { inStride[a] = inStride[a + 1] * s[a + 1] }
        let outShape = dims.map { s[$0] }
        // Walking the output in row-major order, the input offset moves by the stride of
        // the input axis each output axis reads.
        let step = dims.map { inStride[$0] }
        var src = [Int](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: rank), offset = 0
        for j in 0..<count {
            src[j] = offset
            var a = rank - 1
            while a >= 0 {
                index[a] += 1
                offset += step[a]
                if index[a] < outShape[a] { break }
                offset -= step[a] * outShape[a]
                index[a] = 0
                a -= 1
            }
        }
        return src
    }

    /// x `[N] + s` → y `[N] + s∘dims`
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        let s = Array(x.shape.dropFirst())
        let source = gatherMap(for: s)
        let n = x.batch, per = source.count
        var y = Tensor(shape: [n] + dims.map { s[$0] })
        x.data.withUnsafeBufferPointer { xp in
        y.data.withUnsafeMutableBufferPointer { yp in
        source.withUnsafeBufferPointer { sp in
            for i in 0..<n {
                let base = i * per
                for j in 0..<per { yp[base + j] = xp[base + sp[j]] }
            }
        }
        }
        }
        return y
    }

    /// dy `[N] + s∘dims` → dx `[N] + s` (the inverse permutation: a scatter through the same map).
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let inputShape = record.inputShapes[0]
        let source = gatherMap(for: Array(inputShape.dropFirst()))
        let n = gradOutput.batch, per = source.count
        var dx = Tensor(shape: inputShape)
        gradOutput.data.withUnsafeBufferPointer { gp in
        dx.data.withUnsafeMutableBufferPointer { dp in
        source.withUnsafeBufferPointer { sp in
            for i in 0..<n {
                let base = i * per
                for j in 0..<per { dp[base + sp[j]] = gp[base + j] }
            }
        }
        }
        }
        return [dx]
    }
}

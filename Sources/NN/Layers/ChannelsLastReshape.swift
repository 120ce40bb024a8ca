import Tensor

/// Keras' `Reshape` of channels-last data, applied to the engine's channels-first tensors.
///
/// Keras sees a per-sample `[C, H, W]` tensor of ours as `(H, W, C)` and a `[F]` one as `(F)`.
/// It reshapes in *its* row-major element order, so the result is not a plain view of our
/// memory: with `v` = the sample's elements in Keras order (`v[(h·W + w)·C + c] = x[c, h, w]`
/// for a 3-D input, `v = x` for a vector),
///
///     target (h', w', c'):  y[c, h, w] = v[(h·w' + w)·c' + c]      → our shape [c', h', w']
///     target (f):           y[i] = v[i]                             → our shape [f]
///
/// Both directions are one fixed permutation per sample, computed once per input shape:
/// forward gathers `y_i = x_{src(i)}`, backward scatters `dx_{src(i)} = dy_i`.
/// `targetShape` is Keras' `target_shape` (rank 1 or 3, one entry may be −1).
/// Shapes: `[N, C, H, W]` or `[N, F]` → `[N, c', h', w']` or `[N, f]`.
public final class ChannelsLastReshape: Layer {
    /// Keras' target shape, channels last, as given (may hold one −1).
    public let targetShape: [Int]

    public var kind: String { "ChannelsLastReshape" }
    public var summary: String { "Keras reshape to \(targetShape) (channels-last element order)" }

    // Per-sample gather map `src` for the input shape it was built for.
    private var mapInputShape: [Int] = []
    private var source: [Int] = []
    private var outputSampleShape: [Int] = []

    public init(targetShape: [Int]) {
        precondition(targetShape.count == 1 || targetShape.count == 3, "ChannelsLastReshape targets rank 1 or 3, got \(targetShape)")
        precondition(targetShape.filter { $0 == -1 }.count <= 1 && targetShape.allSatisfy { $0 > 0 || $0 == -1 },
                     "ChannelsLastReshape needs positive extents with at most one -1, got \(targetShape)")
        self.targetShape = targetShape
    }

    /// Our per-sample output shape for per-sample input `s`, or nil if the counts disagree.
    private func output(for s: [Int]) -> [Int]? {
        guard s.count == 1 || s.count == 3 else { return nil }
        let count = s.reduce(1, *)
        let known = targetShape.filter { $0 != -1 }.reduce(1, *)
        var t = targetShape
        if let hole = t.firstIndex(of: -1) {
            guard known > 0, count % known == 0 else { return nil }
            t[hole] = count / known
        } else if known != count {
            return nil
        }
        return t.count == 3 ? [t[2], t[0], t[1]] : t
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try singleInputShape(inputShapes, kind)
        guard s.count == 1 || s.count == 3 else {
            throw NNError.shape("", "ChannelsLastReshape takes [C, H, W] or [F] samples, got \(s)")
        }
        guard let out = output(for: s) else {
            throw NNError.shape("", "cannot reshape \(s.count == 3 ? "(\(s[1]), \(s[2]), \(s[0]))" : "(\(s[0]))") (\(s.reduce(1, *)) elements) to \(targetShape)")
        }
        return out
    }

    /// Builds `source` for per-sample input `s`: output element i reads input element source[i].
    private func buildMap(for s: [Int]) {
        guard s != mapInputShape else { return }
        guard let out = output(for: s) else { preconditionFailure("ChannelsLastReshape \(targetShape) got input \(s)") }
        let count = s.reduce(1, *)
        // keras[k] = our input index of the k-th element in Keras (channels-last) order.
        var keras = [Int](repeating: 0, count: count)
        if s.count == 3 {
            let (c, h, w) = (s[0], s[1], s[2])
            for y in 0..<h { for x in 0..<w { for ch in 0..<c { keras[(y * w + x) * c + ch] = (ch * h + y) * w + x } } }
        } else {
            for k in 0..<count { keras[k] = k }
        }
        var src = [Int](repeating: 0, count: count)
        if out.count == 3 {
            let (c, h, w) = (out[0], out[1], out[2])
            for ch in 0..<c { for y in 0..<h { for x in 0..<w { src[(ch * h + y) * w + x] = keras[(y * w + x) * c + ch] } } }
        } else {
            src = keras
        }
        source = src
        outputSampleShape = out
        mapInputShape = s
    }

    /// x `[N] + s` → y `[N] + out`
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        buildMap(for: Array(x.shape.dropFirst()))
        let n = x.batch, per = source.count
        var y = Tensor(shape: [n] + outputSampleShape)
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

    /// dy `[N] + out` → dx `[N] + s` (the inverse permutation).
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let inputShape = record.inputShapes[0]
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

import Tensor

/// Fully connected layer (`torch.nn.Linear`): `y = x Wᵀ + b`.
///
/// Shapes: input `[N, in]` → output `[N, out]`; `weight` `[out, in]`, `bias` `[out]`
/// (state-dict keys `weight`, `bias`). `bias` defaults to true. Weights start at zero; use
/// `initialiseLikePyTorch` or load a state dict.
///
/// Backward: `dx = dy W`, `dW += dyᵀ x`, `db += Σ_n dy_n`.
///
/// In `.inference` mode every sample is its own matrix-vector product (`y_n = W x_n + b`,
/// `dx_n = Wᵀ dy_n`), samples spread over the workers, so a sample's logits and input gradient
/// are bit-identical whatever batch it is in: BSS pairs, predictions and similarity do not
/// depend on the batch size or on which pairs share a batch (docs/design.md, "Determinism").
/// `.training` mode uses one product over the batch (row blocks on the workers), which is
/// faster and deterministic for a given batch and thread count.
public final class Linear: Layer {
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?

    // The mode of the last forward call (backward computes dx per sample after inference).
    private var mode = Mode.inference

    public init(inFeatures: Int, outFeatures: Int, bias: Bool = true) {
        precondition(inFeatures > 0 && outFeatures > 0, "Linear needs positive sizes, got \(inFeatures)->\(outFeatures)")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = Parameter(name: "weight", value: Tensor.zeros([outFeatures, inFeatures]))
        self.bias = bias ? Parameter(name: "bias", value: Tensor.zeros([outFeatures])) : nil
    }

    public var kind: String { "Linear" }
    public var summary: String { "\(inFeatures)->\(outFeatures)" + (bias == nil ? ", no bias" : "") }
    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }
    public var backwardReads: BackwardReads { .inputs }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1 else {
            throw NNError.shape("", "Linear takes one input, got \(inputShapes.count)")
        }
        guard inputShapes[0] == [inFeatures] else {
            throw NNError.shape("", "Linear expects per-sample input [\(inFeatures)], got \(inputShapes[0])"
                                + (inputShapes[0].count > 1 ? " (add a flatten layer first)" : ""))
        }
        return [outFeatures]
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]                                   // [N, in]
        precondition(x.rank == 2 && x.shape[1] == inFeatures, "Linear(\(summary)) got input \(x.shape)")
        let n = x.shape[0], out = outFeatures, inF = inFeatures
        self.mode = mode
        var y = Tensor(shape: [n, out])                     // [N, out]
        y.data.withUnsafeMutableBufferPointer { yp in
            let yb = yp.baseAddress!
            if let b = bias {
                // Broadcast the bias into y, then accumulate the product on top (beta = 1).
                b.value.data.withUnsafeBufferPointer { bp in
                    for r in 0..<n { (yb + r * out).update(from: bp.baseAddress!, count: out) }
                }
            }
            let beta: Float = bias == nil ? 0 : 1
            x.data.withUnsafeBufferPointer { xp in
                weight.value.data.withUnsafeBufferPointer { wp in
                    let xb = xp.baseAddress!, wb = wp.baseAddress!
                    if mode == .inference {
                        Parallel.forEachChunk(n) { rows, _ in
                            for r in rows { sgemv(m: out, n: inF, a: wb, x: xb + r * inF, beta: beta, y: yb + r * out) }
                        }
                    } else {
                        Linear.rowBlocks(n, work: n * out * inF) { rows in
                            sgemm(transB: true, m: rows.count, n: out, k: inF, a: xb + rows.lowerBound * inF,
                                  b: wb, beta: beta, c: yb + rows.lowerBound * out)
                        }
                    }
                }
            }
        }
        return y
    }

    /// Runs `body` over row blocks of `0..<n` on the workers when `work` (multiply-adds) pays
    /// for it, else once over all rows. The blocks depend only on `n` and the thread count.
    static func rowBlocks(_ n: Int, work: Int, _ body: (Range<Int>) -> Void) {
        if work < 1 << 18 { if n > 0 { body(0..<n) }; return }
        Parallel.forEachChunk(n) { rows, _ in body(rows) }
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let input = record.inputs[0]
        let n = record.inputShapes[0][0], out = outFeatures, inF = inFeatures
        precondition(gradOutput.shape == [n, out], "Linear backward: gradient \(gradOutput.shape), expected \([n, out])")
        var dx = Tensor(shape: [n, inF])                    // [N, in] = dy [N, out] · W [out, in]
        gradOutput.data.withUnsafeBufferPointer { dy in
            let dyb = dy.baseAddress!
            dx.data.withUnsafeMutableBufferPointer { dxp in
                weight.value.data.withUnsafeBufferPointer { wp in
                    let dxb = dxp.baseAddress!, wb = wp.baseAddress!
                    if mode == .inference {
                        Parallel.forEachChunk(n) { rows, _ in
                            for r in rows { sgemv(transA: true, m: out, n: inF, a: wb, x: dyb + r * out, y: dxb + r * inF) }
                        }
                    } else {
                        Linear.rowBlocks(n, work: n * out * inF) { rows in
                            sgemm(m: rows.count, n: inF, k: out, a: dyb + rows.lowerBound * out, b: wb,
                                  c: dxb + rows.lowerBound * inF)
                        }
                    }
                }
            }
            guard parameterGradients else { return }
            // dW [out, in] += dyᵀ [out, N] · x [N, in], by blocks of W's rows: each element is
            // one sum over the whole batch, whatever the blocking.
            input.data.withUnsafeBufferPointer { xp in
                weight.grad.data.withUnsafeMutableBufferPointer { gw in
                    let xb = xp.baseAddress!, gwb = gw.baseAddress!
                    Linear.rowBlocks(out, work: n * out * inF) { rows in
                        sgemm(transA: true, m: rows.count, n: inF, k: n, a: dyb + rows.lowerBound, lda: out,
                              b: xb, beta: 1, c: gwb + rows.lowerBound * inF)
                    }
                }
            }
            if let b = bias {
                b.grad.data.withUnsafeMutableBufferPointer { gb in
                    for r in 0..<n {
                        let row = dyb + r * out
                        for j in 0..<out { gb[j] += row[j] }
                    }
                }
            }
        }
        return [dx]
    }
}

import Tensor

/// 2-D convolution (cross-correlation, as in PyTorch's `nn.Conv2d`), with dilation and groups.
///
/// `y[n, o, oy, ox] = b[o] + Σ_{c, ki, kj} W[o, c, ki, kj] · x[n, g·I_g + c, oy·sh − top + ki·dh, ox·sw − left + kj·dw]`
/// with zeros outside the input, where `g = ⌊o / O_g⌋` is the output channel's group,
/// `I_g = inChannels / groups` and `O_g = outChannels / groups` (so each group of output
/// channels sees only its own slice of input channels; `groups == inChannels` is a depthwise
/// convolution).
///
/// Shapes: input `[N, inChannels, H, W]` → output `[N, outChannels, outH, outW]`,
/// `outH = ⌊(H + top + bottom − (kh − 1)·dh − 1) / sh⌋ + 1` (PyTorch's rule; likewise `outW`).
/// Parameters: `weight [outChannels, inChannels / groups, kh, kw]` (OIHW, PyTorch's), `bias
/// [outChannels]` when `bias` is true. Both start at zero; initialisation and import happen elsewhere.
/// Defaults: stride (1, 1), no padding, dilation (1, 1), one group, with bias.
///
/// Computation: depthwise convolutions by a direct kernel (`Conv2D+Depthwise.swift`); through
/// oneDNN when it is installed (`ConvBackend`, `Conv2D+OneDNN.swift`, ungrouped, non-pointwise
/// convolutions only); otherwise, and with `BSS_CONV=openblas`, per sample and group, `col = im2col(x_n,g) [K = I_g·kh·kw, P = outH·outW]` and
/// `y_n,g [O_g, P] = W_g [O_g, K] · col` (sgemm; `W_g` is a contiguous block of rows of the
/// OIHW weight); samples run in parallel (`Parallel`, OpenBLAS single-threaded meanwhile), each
/// worker with its own column buffer, reused across calls.
/// Backward per sample and group: `dx_n,g = col2im(W_gᵀ · dy_n,g)`, `dW_gᵀ += col · dy_n,gᵀ`
/// (into a per-worker partial sum, reduced at the end so workers never share a write),
/// `db += Σ_p dy_n`. The column matrix is rebuilt in backward instead of cached: for the whole
/// batch it would be `kh·kw` times the input.
///
/// Why per-sample products on parallel workers rather than one GEMM over the batch
/// (`col [K, N·P]`, OpenBLAS' own threads): the batched product is a large packed GEMM with a
/// skinny `O`, ~50 GFLOP/s per core here, and its column matrix is `kh·kw` times the batch
/// (75 MB for 128x16x32x32); the per-sample products fit OpenBLAS' small-matrix kernel when
/// blocked (`columnBlock`) and their scratch stays in L2. Measured on 128x16x32x32, 16→16 3x3:
/// batched 8–18 GFLOP/s forward, per-sample 60–70.
public final class Conv2D: Layer {
    public let inChannels: Int
    public let outChannels: Int
    /// (height, width)
    public let kernel: (Int, Int)
    /// (height, width)
    public let stride: (Int, Int)
    public let padding: Padding2D
    /// (height, width): distance between kernel taps.
    public let dilation: (Int, Int)
    /// Channel groups; divides both channel counts.
    public let groups: Int
    public let hasBias: Bool

    /// `[outChannels, inChannels / groups, kh, kw]`
    public let weight: Parameter
    /// `[outChannels]`, nil when the layer has no bias.
    public let bias: Parameter?

    public var kind: String { "Conv2D" }
    public var summary: String {
        func hw(_ p: (Int, Int)) -> String { p.0 == p.1 ? "\(p.0)" : "\(p.0)x\(p.1)" }
        return "\(kernel.0)x\(kernel.1), \(inChannels)->\(outChannels)"
            + (groups == 1 ? "" : groups == inChannels ? ", depthwise" + (outChannels == inChannels ? "" : " x\(outChannels / inChannels)")
                : ", groups \(groups)")
            + (stride == (1, 1) ? "" : ", stride \(hw(stride))")
            + (padding.isZero ? "" : ", padding \(padding)")
            + (dilation == (1, 1) ? "" : ", dilation \(hw(dilation))")
            + (hasBias ? "" : ", no bias")
    }
    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }
    public var backwardReads: BackwardReads { .inputs }

    // Geometry of one group of the last forward call, read by backward.
    private var geometry: ConvGeometry?
    // Whether the last forward was in inference mode: backward then keeps each sample's input
    // gradient independent of the batch (oneDNN path: one primitive per sample).
    private var lastInference = false
    // Per-worker scratch: column matrices [K, P] and partial dW/db sums, sized for `geometry`.
    let cols = ScratchBuffer()
    let partials = ScratchBuffer()

    public init(inChannels: Int, outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: Padding2D = .zero, dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true) {
        precondition(inChannels > 0 && outChannels > 0, "Conv2D needs positive channel counts")
        precondition(kernel.0 > 0 && kernel.1 > 0 && stride.0 > 0 && stride.1 > 0 && dilation.0 > 0 && dilation.1 > 0,
                     "Conv2D needs positive kernel, stride and dilation")
        precondition(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                     "Conv2D groups \(groups) must divide \(inChannels) and \(outChannels)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.hasBias = bias
        self.weight = Parameter(name: "weight", value: .zeros([outChannels, inChannels / groups, kernel.0, kernel.1]))
        self.bias = bias ? Parameter(name: "bias", value: .zeros([outChannels])) : nil
    }

    /// The geometry of one group (`channels` = the group's input channels).
    func geometry(channels: Int, height: Int, width: Int) -> ConvGeometry {
        ConvGeometry(channels: channels, height: height, width: width, kernelH: kernel.0, kernelW: kernel.1,
                     strideH: stride.0, strideW: stride.1, padTop: padding.top, padBottom: padding.bottom,
                     padLeft: padding.left, padRight: padding.right, dilationH: dilation.0, dilationW: dilation.1)
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1, inputShapes[0].count == 3 else {
            throw NNError.shape(kind, "Conv2D expects one input of shape [C, H, W], got \(inputShapes)")
        }
        let s = inputShapes[0]
        guard s[0] == inChannels else {
            throw NNError.shape(kind, "Conv2D expects \(inChannels) input channels, got \(s[0]) (input shape \(s))")
        }
        let g = geometry(channels: s[0] / groups, height: s[1], width: s[2])
        guard g.fits else {
            let span = dilation == (1, 1) ? "" : " (dilated extent \(g.spanH)x\(g.spanW))"
            throw NNError.shape(kind, "Conv2D kernel \(kernel.0)x\(kernel.1)\(span) is larger than the padded input "
                                + "\(s[1] + padding.top + padding.bottom)x\(s[2] + padding.left + padding.right) (input shape \(s))")
        }
        return [outChannels, g.outHeight, g.outWidth]
    }

    /// Columns per sgemm call. The per-sample products are cut into equal column blocks of at
    /// most 256 with `rows · inner · block ≤ 10⁶`, because OpenBLAS (0.3.21, SkylakeX-family
    /// kernels) sends products of up to 100³ multiply-adds to its small-matrix kernel, which
    /// skips packing: one core went from ~50 to ~110 GFLOP/s on the 16→16 3x3 32x32 product.
    /// Below 16 columns a block is too thin to gain, so the whole row is one call.
    static func columnBlock(rows: Int, inner: Int, columns: Int) -> Int {
        let fit = min(256, 1_000_000 / max(1, rows * inner) / 16 * 16)
        if fit < 16 || columns <= fit { return columns }
        let blocks = (columns + fit - 1) / fit
        return ((columns + blocks - 1) / blocks + 15) / 16 * 16
    }

    /// x `[N, I, H, W]` → y `[N, O, outH, outW]`
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        convolve(inputs[0], weights: weight.value.data, bias: bias?.value.data, activation: .none, perSample: mode == .inference)
    }

    /// `y = act(conv(x; weights) + bias)` (`activation`: identity, ReLU or ReLU6), for weights and bias shaped
    /// like this layer's (its own, or BatchNorm folded into them: `InferenceFusion`). Sets the
    /// state backward reads. `perSample`: inference's batch-invariant calls (docs/design.md,
    /// "Determinism").
    func convolve(_ x: Tensor, weights: [Float], bias: [Float]?, activation: ConvActivation, perSample: Bool) -> Tensor {
        precondition(x.rank == 4 && x.shape[1] == inChannels, "Conv2D input \(x.shape), expected [N, \(inChannels), H, W]")
        let g = geometry(channels: inChannels / groups, height: x.shape[2], width: x.shape[3])
        precondition(g.fits, "Conv2D kernel does not fit input \(x.shape)")
        geometry = g
        lastInference = perSample
        if perSample ? usesOneDNNForInference(g) : usesOneDNN(g),
           let y = forwardOneDNN(x, g, weights: weights, bias: bias, activation: activation, perSample: perSample) {
            return y
        }
        if isDepthwise { return forwardDepthwise(x, g, weights: weights, bias: bias, activation: activation) }
        // Per group: og output channels, k column rows; the group's input is `gin` floats.
        let n = x.shape[0], o = outChannels, og = o / groups, k = g.colRows, p = g.colColumns
        let gin = g.channels * g.height * g.width
        let inPer = x.sampleCount, chunks = Parallel.chunkCount(n)
        let block = Conv2D.columnBlock(rows: og, inner: k, columns: p)
        let colBase = g.isPointwise ? nil : cols.pointer(count: chunks * k * p)
        let y = [Float](unsafeUninitializedCapacity: n * o * p) { out, initialized in
            x.data.withUnsafeBufferPointer { xp in
            weights.withUnsafeBufferPointer { wp in
            withOptionalBuffer(bias) { bp in
                Parallel.forEachChunk(n) { samples, worker in
                    for s in samples {
                        for gi in 0..<groups {
                            let xs = xp.baseAddress! + s * inPer + gi * gin
                            let ys = out.baseAddress! + (s * o + gi * og) * p    // [O_g, P]
                            let wg = wp.baseAddress! + gi * og * k               // [O_g, K]
                            var b = UnsafePointer(xs)                           // [K, P]
                            if let colBase {
                                let col = colBase + worker * k * p
                                im2col(xs, g, into: col)
                                b = UnsafePointer(col)
                            }
                            // y_n,g [O_g, P] = W_g [O_g, K] · col [K, P], by column blocks.
                            for c0 in Swift.stride(from: 0, to: p, by: block) {
                                sgemm(m: og, n: min(block, p - c0), k: k, a: wg, b: b + c0, ldb: p,
                                      c: ys + c0, ldc: p)
                            }
                        }
                        let ys = out.baseAddress! + s * o * p
                        if let bp {
                            for oc in 0..<o {
                                let row = ys + oc * p, v = bp[oc]
                                for j in 0..<p { row[j] += v }
                            }
                        }
                        // (the fused activation while the sample's output is still in cache)
                        activation.apply(ys, o * p)
                    }
                }
            }
            }
            }
            initialized = n * o * p
        }
        return Tensor(shape: [n, o, g.outHeight, g.outWidth], data: y)
    }

    /// dy `[N, O, outH, outW]` → dx `[N, I, H, W]`; accumulates dW, db.
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        [backpropagate(gradOutput, input: record.inputs[0], weights: weight.value.data, parameterGradients: parameterGradients)]
    }

    /// The backward of the last `convolve` with `weights` (this layer's, or folded ones, which
    /// need `parameterGradients` false). `input` is that call's input (only its shape is read
    /// without parameter gradients).
    func backpropagate(_ gradOutput: Tensor, input: Tensor, weights: [Float], parameterGradients: Bool) -> Tensor {
        guard let g = geometry else { preconditionFailure("Conv2D.backward before forward") }
        let n = input.shape[0], o = outChannels, og = o / groups, k = g.colRows, p = g.colColumns
        let gin = g.channels * g.height * g.width
        precondition(gradOutput.shape == [n, o, g.outHeight, g.outWidth],
                     "Conv2D gradient \(gradOutput.shape) does not match output [\(n), \(o), \(g.outHeight), \(g.outWidth)]")
        if isDepthwise {
            return backwardDepthwise(gradOutput, input: input, g, weights: weights, parameterGradients: parameterGradients)
        }
        if usesOneDNN(g), let dx = backwardOneDNN(gradOutput, input: input, g, weights: weights, perSample: lastInference,
                                               parameterGradients: parameterGradients, partials: partials) {
            return dx
        }
        let inPer = input.sampleCount, chunks = Parallel.chunkCount(n)
        let block = Conv2D.columnBlock(rows: og, inner: k, columns: p)
        let colBase = g.isPointwise ? nil : cols.pointer(count: chunks * k * p)
        // Per worker: dy_gᵀ [P, O_g] (one group at a time), dWᵀ partials [groups][K, O_g], db partial [O].
        let partialSize = p * og + k * o + o
        let partialBase = parameterGradients ? partials.pointer(count: chunks * partialSize) : nil
        partialBase?.update(repeating: 0, count: chunks * partialSize)

        let dx = [Float](unsafeUninitializedCapacity: n * inPer) { dxp, initialized in
            input.data.withUnsafeBufferPointer { xp in
            gradOutput.data.withUnsafeBufferPointer { gp in
            weights.withUnsafeBufferPointer { wp in
                Parallel.forEachChunk(n) { samples, worker in
                    let col = colBase.map { $0 + worker * k * p }
                    for s in samples {
                        for gi in 0..<groups {
                            let dys = gp.baseAddress! + (s * o + gi * og) * p    // [O_g, P]
                            let dxs = dxp.baseAddress! + s * inPer + gi * gin  // [I_g, H, W]
                            let wg = wp.baseAddress! + gi * og * k             // [O_g, K]
                            // dx_n,g = col2im(W_gᵀ [K, O_g] · dy_n,g [O_g, P])
                            let dcol = col ?? dxs
                            for c0 in Swift.stride(from: 0, to: p, by: block) {
                                sgemm(transA: true, m: k, n: min(block, p - c0), k: og, a: wg,
                                      b: dys + c0, ldb: p, c: dcol + c0, ldc: p)
                            }
                            if let col {
                                col2imAssigning(col, g, into: dxs)
                            }
                            guard let partialBase else { continue }
                            // dW_gᵀ [K, O_g] += col_n [K, P] · dy_n,gᵀ [P, O_g]: this orientation (no
                            // transposed operand) is the one OpenBLAS' small-matrix kernel takes.
                            let dyT = partialBase + worker * partialSize
                            let dWT = dyT + p * og + gi * k * og, db = dyT + p * og + k * o + gi * og
                            for oc in 0..<og {
                                let row = dys + oc * p
                                var sum: Float = 0
                                for j in 0..<p { dyT[j * og + oc] = row[j]; sum += row[j] }
                                db[oc] += sum
                            }
                            let xs = xp.baseAddress! + s * inPer + gi * gin
                            var a = xs
                            if let col { im2col(xs, g, into: col); a = UnsafePointer(col) }
                            for c0 in Swift.stride(from: 0, to: p, by: block) {
                                sgemm(m: k, n: og, k: min(block, p - c0), a: a + c0, lda: p, b: dyT + c0 * og,
                                      beta: 1, c: dWT)
                            }
                        }
                    }
                }
            }
            }
            }
            initialized = n * inPer
        }
        if let partialBase {
            // Reduce the per-worker partial sums into the accumulators (each dW_gᵀ back to [O_g, K]).
            weight.grad.data.withUnsafeMutableBufferPointer { gw in
                for w in 0..<chunks {
                    for gi in 0..<groups {
                        let dWT = partialBase + w * partialSize + p * og + gi * k * og
                        let base = gi * og * k
                        for i in 0..<k { for oc in 0..<og { gw[base + oc * k + i] += dWT[i * og + oc] } }
                    }
                }
            }
            bias?.grad.data.withUnsafeMutableBufferPointer { gb in
                for w in 0..<chunks {
                    let db = partialBase + w * partialSize + p * og + k * o
                    for i in 0..<o { gb[i] += db[i] }
                }
            }
        }
        return Tensor(shape: input.shape, data: dx)
    }
}

/// A growable float buffer owned by a layer, reused across calls so the steady state allocates
/// nothing. Contents are undefined after `pointer(count:)` grows it.
final class ScratchBuffer {
    private var base: UnsafeMutablePointer<Float>?
    private var capacity = 0

    /// A pointer to at least `count` floats, valid until the next call or deinit.
    func pointer(count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity || base == nil {
            base?.deallocate()
            capacity = max(count, 1)
            base = .allocate(capacity: capacity)
        }
        return base!
    }

    deinit { base?.deallocate() }
}

/// Runs `body` with a buffer pointer to `array`, or nil when the array is nil.
@inline(__always)
func withOptionalBuffer<R>(_ array: [Float]?, _ body: (UnsafeBufferPointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0) }
}

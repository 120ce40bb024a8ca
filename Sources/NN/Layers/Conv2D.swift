import Tensor

/// 2-D convolution (cross-correlation, as in PyTorch's `nn.Conv2d`), dilation 1, groups 1.
///
/// `y[n, o, oy, ox] = b[o] + Σ_{c, ki, kj} W[o, c, ki, kj] · x[n, c, oy·sh − top + ki, ox·sw − left + kj]`
/// with zeros outside the input.
///
/// Shapes: input `[N, inChannels, H, W]` → output `[N, outChannels, outH, outW]`,
/// `outH = ⌊(H + top + bottom − kh) / sh⌋ + 1` (PyTorch's rule; likewise `outW`).
/// Parameters: `weight [outChannels, inChannels, kh, kw]` (OIHW), `bias [outChannels]` when
/// `bias` is true. Both start at zero; initialisation and import happen elsewhere.
/// Defaults: stride (1, 1), no padding, with bias.
///
/// Computation: per sample, `col = im2col(x_n) [K = I·kh·kw, P = outH·outW]` and
/// `y_n [O, P] = W [O, K] · col` (sgemm); samples run in parallel (`Parallel`, OpenBLAS
/// single-threaded meanwhile), each worker with its own column buffer, reused across calls.
/// Backward per sample: `dx_n = col2im(Wᵀ · dy_n)`, `dWᵀ += col · dy_nᵀ` (into a per-worker
/// partial sum, reduced at the end so workers never share a write), `db += Σ_p dy_n`.
/// The column matrix is rebuilt in backward instead of cached: for the whole batch it would be
/// `kh·kw` times the input.
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
    public let hasBias: Bool

    /// `[outChannels, inChannels, kh, kw]`
    public let weight: Parameter
    /// `[outChannels]`, nil when the layer has no bias.
    public let bias: Parameter?

    public var kind: String { "Conv2D" }
    public var summary: String {
        "\(kernel.0)x\(kernel.1), \(inChannels)->\(outChannels)"
            + (stride == (1, 1) ? "" : ", stride \(stride.0 == stride.1 ? "\(stride.0)" : "\(stride.0)x\(stride.1)")")
            + (padding.isZero ? "" : ", padding \(padding)")
            + (hasBias ? "" : ", no bias")
    }
    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }
    public var backwardReads: BackwardReads { .inputs }

    // Geometry of the last forward call, read by backward.
    private var geometry: ConvGeometry?
    // Per-worker scratch: column matrices [K, P] and partial dW/db sums, sized for `geometry`.
    private let cols = ScratchBuffer()
    private let partials = ScratchBuffer()

    public init(inChannels: Int, outChannels: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: Padding2D = .zero, bias: Bool = true) {
        precondition(inChannels > 0 && outChannels > 0, "Conv2D needs positive channel counts")
        precondition(kernel.0 > 0 && kernel.1 > 0 && stride.0 > 0 && stride.1 > 0,
                     "Conv2D needs positive kernel and stride")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.hasBias = bias
        self.weight = Parameter(name: "weight", value: .zeros([outChannels, inChannels, kernel.0, kernel.1]))
        self.bias = bias ? Parameter(name: "bias", value: .zeros([outChannels])) : nil
    }

    func geometry(channels: Int, height: Int, width: Int) -> ConvGeometry {
        ConvGeometry(channels: channels, height: height, width: width, kernelH: kernel.0, kernelW: kernel.1,
                     strideH: stride.0, strideW: stride.1, padTop: padding.top, padBottom: padding.bottom,
                     padLeft: padding.left, padRight: padding.right)
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1, inputShapes[0].count == 3 else {
            throw NNError.shape(kind, "Conv2D expects one input of shape [C, H, W], got \(inputShapes)")
        }
        let s = inputShapes[0]
        guard s[0] == inChannels else {
            throw NNError.shape(kind, "Conv2D expects \(inChannels) input channels, got \(s[0]) (input shape \(s))")
        }
        let g = geometry(channels: s[0], height: s[1], width: s[2])
        guard g.fits else {
            throw NNError.shape(kind, "Conv2D kernel \(kernel.0)x\(kernel.1) is larger than the padded input "
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
        let x = inputs[0]
        precondition(x.rank == 4 && x.shape[1] == inChannels, "Conv2D input \(x.shape), expected [N, \(inChannels), H, W]")
        let g = geometry(channels: inChannels, height: x.shape[2], width: x.shape[3])
        precondition(g.fits, "Conv2D kernel does not fit input \(x.shape)")
        geometry = g
        let n = x.shape[0], o = outChannels, k = g.colRows, p = g.colColumns
        let inPer = x.sampleCount, chunks = Parallel.chunkCount(n)
        let block = Conv2D.columnBlock(rows: o, inner: k, columns: p)
        let colBase = g.isPointwise ? nil : cols.pointer(count: chunks * k * p)
        let y = [Float](unsafeUninitializedCapacity: n * o * p) { out, initialized in
            x.data.withUnsafeBufferPointer { xp in
            weight.value.data.withUnsafeBufferPointer { wp in
            withOptionalBuffer(bias?.value.data) { bp in
                Parallel.forEachChunk(n) { samples, worker in
                    for s in samples {
                        let xs = xp.baseAddress! + s * inPer
                        let ys = out.baseAddress! + s * o * p        // [O, P]
                        var b = UnsafePointer(xs)                    // [K, P]
                        if let colBase {
                            let col = colBase + worker * k * p
                            im2col(xs, g, into: col)
                            b = UnsafePointer(col)
                        }
                        // y_n [O, P] = W [O, K] · col [K, P], by column blocks.
                        for c0 in Swift.stride(from: 0, to: p, by: block) {
                            sgemm(m: o, n: min(block, p - c0), k: k, a: wp.baseAddress!, b: b + c0, ldb: p,
                                  c: ys + c0, ldc: p)
                        }
                        if let bp {
                            for oc in 0..<o {
                                let row = ys + oc * p, v = bp[oc]
                                for j in 0..<p { row[j] += v }
                            }
                        }
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
        guard let g = geometry else { preconditionFailure("Conv2D.backward before forward") }
        let input = record.inputs[0]
        let n = input.shape[0], o = outChannels, k = g.colRows, p = g.colColumns
        precondition(gradOutput.shape == [n, o, g.outHeight, g.outWidth],
                     "Conv2D gradient \(gradOutput.shape) does not match output [\(n), \(o), \(g.outHeight), \(g.outWidth)]")
        let inPer = input.sampleCount, chunks = Parallel.chunkCount(n)
        let block = Conv2D.columnBlock(rows: o, inner: k, columns: p)
        let colBase = g.isPointwise ? nil : cols.pointer(count: chunks * k * p)
        // Per worker: dyᵀ [P, O], dWᵀ partial [K, O], db partial [O].
        let partialSize = p * o + k * o + o
        let partialBase = parameterGradients ? partials.pointer(count: chunks * partialSize) : nil
        partialBase?.update(repeating: 0, count: chunks * partialSize)

        let dx = [Float](unsafeUninitializedCapacity: n * inPer) { dxp, initialized in
            input.data.withUnsafeBufferPointer { xp in
            gradOutput.data.withUnsafeBufferPointer { gp in
            weight.value.data.withUnsafeBufferPointer { wp in
                Parallel.forEachChunk(n) { samples, worker in
                    let col = colBase.map { $0 + worker * k * p }
                    for s in samples {
                        let dys = gp.baseAddress! + s * o * p       // [O, P]
                        let dxs = dxp.baseAddress! + s * inPer      // [I, H, W]
                        // dx_n = col2im(Wᵀ [K, O] · dy_n [O, P])
                        let dcol = col ?? dxs
                        for c0 in Swift.stride(from: 0, to: p, by: block) {
                            sgemm(transA: true, m: k, n: min(block, p - c0), k: o, a: wp.baseAddress!,
                                  b: dys + c0, ldb: p, c: dcol + c0, ldc: p)
                        }
                        if let col {
                            col2imAssigning(col, g, into: dxs)
                        }
                        guard let partialBase else { continue }
                        // dWᵀ [K, O] += col_n [K, P] · dy_nᵀ [P, O]: this orientation (no
                        // transposed operand) is the one OpenBLAS' small-matrix kernel takes.
                        let dyT = partialBase + worker * partialSize, dWT = dyT + p * o, db = dWT + k * o
                        for oc in 0..<o {
                            let row = dys + oc * p
                            var sum: Float = 0
                            for j in 0..<p { dyT[j * o + oc] = row[j]; sum += row[j] }
                            db[oc] += sum
                        }
                        let xs = xp.baseAddress! + s * inPer
                        var a = xs
                        if let col { im2col(xs, g, into: col); a = UnsafePointer(col) }
                        for c0 in Swift.stride(from: 0, to: p, by: block) {
                            sgemm(m: k, n: o, k: min(block, p - c0), a: a + c0, lda: p, b: dyT + c0 * o,
                                  beta: 1, c: dWT)
                        }
                    }
                }
            }
            }
            }
            initialized = n * inPer
        }
        if let partialBase {
            // Reduce the per-worker partial sums into the accumulators (dWᵀ back to [O, K]).
            weight.grad.data.withUnsafeMutableBufferPointer { gw in
                for w in 0..<chunks {
                    let dWT = partialBase + w * partialSize + p * o
                    for i in 0..<k { for oc in 0..<o { gw[oc * k + i] += dWT[i * o + oc] } }
                }
            }
            bias?.grad.data.withUnsafeMutableBufferPointer { gb in
                for w in 0..<chunks {
                    let db = partialBase + w * partialSize + p * o + k * o
                    for i in 0..<o { gb[i] += db[i] }
                }
            }
        }
        return [Tensor(shape: input.shape, data: dx)]
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

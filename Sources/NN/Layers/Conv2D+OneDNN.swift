import CDNNL
import Foundation
import Tensor

/// Which library computes `Conv2D`: oneDNN (loaded at run time, `Sources/CDNNL`) when it is
/// installed and passes its load check, otherwise the OpenBLAS path (im2col + sgemm).
/// `BSS_CONV=openblas` forces the OpenBLAS path; `BSS_CONV=onednn` asks for oneDNN and says so
/// on stderr when it is unavailable. See docs/design.md, "Convolution backends".
///
/// Both paths are deterministic in the same way (docs/design.md, "Determinism"): in `.inference`
/// the oneDNN path runs one mini-batch-1 primitive per sample, in training one primitive per
/// worker's chunk of samples, with weight gradients summed over the chunks in chunk order.
public enum ConvBackend: String, Sendable {
    case oneDNN = "onednn"
    case openBLAS = "openblas"

    /// The backend chosen from the environment and what is installed (decided once).
    public static let automatic: ConvBackend = {
        let asked = ProcessInfo.processInfo.environment["BSS_CONV"]?.lowercased()
        if asked == "openblas" { return .openBLAS }
        if bss_dnnl_load() == 1 { return .oneDNN }
        if asked == "onednn" {
            FileHandle.standardError.write(Data("bss: BSS_CONV=onednn, but \(oneDNNMessage); using OpenBLAS\n".utf8))
        }
        return .openBLAS
    }()

    /// The backend Conv2D uses; tests switch it to compare the two paths.
    nonisolated(unsafe) public static var current: ConvBackend = automatic

    /// What was loaded, or why oneDNN is not used (for `bss-bench` and diagnostics).
    public static var oneDNNMessage: String {
        _ = bss_dnnl_load()
        return String(cString: bss_dnnl_message())
    }

    /// Whether oneDNN can run now (loaded and checked).
    public static var oneDNNAvailable: Bool { bss_dnnl_load() == 1 }

    /// Inference group primitives so far (docs/design.md, "Convolution backends"): shapes whose
    /// 16-sample primitive reproduced the per-sample bits (used), and shapes where it did not
    /// (those run one sample per call).
    public static var groupChecks: (passed: Int, failed: Int) {
        var p: Int32 = 0, f: Int32 = 0
        bss_dnnl_group_counts(&p, &f)
        return (Int(p), Int(f))
    }
}

/// The activation a convolution applies to its result in the same call (inference fusion,
/// `FusedConvBlock`); the raw values are the C shim's `BSS_DNNL_*` post-op codes.
enum ConvActivation: Int32 {
    case none = 0
    /// `max(y, 0)`
    case relu = 1
    /// `min(max(y, 0), 6)` (ReLU6)
    case relu6 = 2

    /// Applies the activation in place to `n` floats at `p` (the OpenBLAS and depthwise paths,
    /// per sample while the output is in cache): the same scalar expressions as `ReLU` and
    /// `PointwiseActivation(.relu6)`.
    @inline(__always)
    func apply(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        switch self {
        case .none: break
        case .relu: NN.relu(p, p, n)
        case .relu6: for i in 0..<n { p[i] = min(max(p[i], 0), 6) }
        }
    }
}

extension Conv2D {
    /// The oneDNN shape of a chunk of `n` samples.
    func dnnlShape(_ g: ConvGeometry, n: Int) -> bss_conv_shape {
        bss_conv_shape(n: Int32(n), c: Int32(inChannels), h: Int32(g.height), w: Int32(g.width), o: Int32(outChannels),
                       kh: Int32(kernel.0), kw: Int32(kernel.1), sh: Int32(stride.0), sw: Int32(stride.1),
                       pt: Int32(g.padTop), pb: Int32(g.padBottom), pl: Int32(g.padLeft), pr: Int32(g.padRight),
                       dh: Int32(dilation.0), dw: Int32(dilation.1), g: Int32(groups))
    }

    /// Whether a call of geometry `g` goes to oneDNN. Grouped convolutions stay on the OpenBLAS
    /// path, and so do pointwise ones (1x1, stride 1, no padding): there they are one plain sgemm
    /// per sample without im2col, while oneDNN adds two reorders per sample, which cost more than
    /// they save on small images (MobileNetV2 at 64x64 ran slower with them on oneDNN).
    /// 2·N·O·H'·W'·C·KH·KW: the FLOPs of one pass (forward, data or weight gradient) over `n`
    /// samples, recorded for the benchmark's convolution rate (`BLAS.profile`).
    func gemmFLOPs(_ g: ConvGeometry, n: Int) -> Int {
        2 * n * outChannels * g.outHeight * g.outWidth * (inChannels / groups) * kernel.0 * kernel.1
    }

    func usesOneDNN(_ g: ConvGeometry) -> Bool { groups == 1 && !g.isPointwise && ConvBackend.current == .oneDNN }

    /// Whether an inference forward (`perSample`) of geometry `g` goes to oneDNN: as
    /// `usesOneDNN`, and also pointwise and depthwise convolutions on small images (at most 64
    /// output positions), where the per-sample sgemm has too few columns and the direct
    /// depthwise kernel too short rows to be efficient, while oneDNN runs groups of samples per
    /// call (`BSS_DNNL_GROUP`) in its channel-blocked layout. Measured on MobileNetV2's 4x4 and
    /// 2x2 layers (one core, 32 samples): 960→160 at 2x2 2.9 ms (sgemm) → 1.4 ms, 320→1280
    /// 10.8 → 3.7. Backward keeps the other paths (`usesOneDNN`).
    func usesOneDNNForInference(_ g: ConvGeometry) -> Bool {
        guard ConvBackend.current == .oneDNN else { return false }
        if usesOneDNN(g) { return true }
        // (`isDepthwise`: not with BSS_DEPTHWISE=gemm, which keeps the per-group sgemm path)
        return (groups == 1 && g.isPointwise || isDepthwise) && g.colColumns <= 64
    }

    /// y = conv(x) + b through oneDNN, per worker chunk; nil when oneDNN refused the shape
    /// (the caller then takes the OpenBLAS path).
    func forwardOneDNN(_ x: Tensor, _ g: ConvGeometry, weights: [Float], bias: [Float]?, activation: ConvActivation,
                       perSample: Bool) -> Tensor? {
        let n = x.shape[0], inPer = x.sampleCount, outPer = outChannels * g.outHeight * g.outWidth
        BLAS.recordConvolution(flops: gemmFLOPs(g, n: n))
        let chunks = Parallel.chunkCount(n)
        var status = [Int32](repeating: 0, count: chunks)
        let y = [Float](unsafeUninitializedCapacity: n * outPer) { out, initialized in
            status.withUnsafeMutableBufferPointer { st in
            x.data.withUnsafeBufferPointer { xp in
            weights.withUnsafeBufferPointer { wp in
            withOptionalBuffer(bias) { bp in
                Parallel.forEachChunk(n) { samples, worker in
                    var s = dnnlShape(g, n: samples.count)
                    st[worker] = bss_dnnl_conv_forward(&s, perSample ? 1 : 0, xp.baseAddress! + samples.lowerBound * inPer,
                                                       wp.baseAddress!, bp?.baseAddress, activation.rawValue,
                                                       out.baseAddress! + samples.lowerBound * outPer)
                }
            }
            }
            }
            }
            initialized = n * outPer
        }
        guard status.allSatisfy({ $0 == 0 }) else { return nil }
        return Tensor(shape: [n, outChannels, g.outHeight, g.outWidth], data: y)
    }

    /// dx through oneDNN; with `parameterGradients`, dW and db per worker chunk into partial sums
    /// added to the accumulators in chunk order. nil when oneDNN refused the shape (nothing was
    /// accumulated then).
    func backwardOneDNN(_ dy: Tensor, input: Tensor, _ g: ConvGeometry, weights: [Float], perSample: Bool,
                        parameterGradients: Bool, partials: ScratchBuffer) -> Tensor? {
        let n = input.shape[0], inPer = input.sampleCount, outPer = dy.sampleCount
        BLAS.recordConvolution(flops: gemmFLOPs(g, n: n) * (parameterGradients ? 2 : 1))
        let chunks = Parallel.chunkCount(n), wCount = weight.value.count, o = outChannels
        let partialSize = wCount + o
        let partialBase = parameterGradients ? partials.pointer(count: chunks * partialSize) : nil
        var status = [Int32](repeating: 0, count: chunks)
        let dx = [Float](unsafeUninitializedCapacity: n * inPer) { dxp, initialized in
            status.withUnsafeMutableBufferPointer { st in
            input.data.withUnsafeBufferPointer { xp in
            dy.data.withUnsafeBufferPointer { gp in
            weights.withUnsafeBufferPointer { wp in
                Parallel.forEachChunk(n) { samples, worker in
                    var s = dnnlShape(g, n: samples.count)
                    let dys = gp.baseAddress! + samples.lowerBound * outPer
                    st[worker] = bss_dnnl_conv_backward_data(&s, perSample ? 1 : 0, dys, wp.baseAddress!,
                                                             dxp.baseAddress! + samples.lowerBound * inPer)
                    guard st[worker] == 0, let partialBase else { return }
                    let dW = partialBase + worker * partialSize
                    st[worker] = bss_dnnl_conv_backward_weights(&s, xp.baseAddress! + samples.lowerBound * inPer, dys,
                                                                dW, bias == nil ? nil : dW + wCount)
                }
            }
            }
            }
            }
            initialized = n * inPer
        }
        guard status.allSatisfy({ $0 == 0 }) else { return nil }
        if let partialBase {
            weight.grad.data.withUnsafeMutableBufferPointer { gw in
                for w in 0..<chunks {
                    let dW = partialBase + w * partialSize
                    for i in 0..<wCount { gw[i] += dW[i] }
                }
            }
            bias?.grad.data.withUnsafeMutableBufferPointer { gb in
                for w in 0..<chunks {
                    let db = partialBase + w * partialSize + wCount
                    for i in 0..<o { gb[i] += db[i] }
                }
            }
        }
        return Tensor(shape: input.shape, data: dx)
    }
}

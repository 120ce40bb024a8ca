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

    /// Samples per training-mode forward and backward-data primitive call (`BSS_DNNL_PART`,
    /// default 0: a worker's whole chunk in one call). Smaller parts keep a call's blocked
    /// copies in cache.
    static let trainingPart: Int = Int(ProcessInfo.processInfo.environment["BSS_DNNL_PART"] ?? "") ?? 0

    /// A worker's samples cut into the calls that run them: one per-sample call covers them all
    /// in inference (the C side loops), training calls take `trainingPart` samples each.
    static func parts(of samples: Range<Int>, perSample: Bool) -> [Range<Int>] {
        let part = trainingPart
        guard !perSample, part > 0, samples.count > part else { return [samples] }
        return Swift.stride(from: samples.lowerBound, to: samples.upperBound, by: part).map { $0..<min($0 + part, samples.upperBound) }
    }
}

extension Conv2D {
    /// The oneDNN shape of a chunk of `n` samples.
    func dnnlShape(_ g: ConvGeometry, n: Int) -> bss_conv_shape {
        bss_conv_shape(n: Int32(n), c: Int32(inChannels), h: Int32(g.height), w: Int32(g.width), o: Int32(outChannels),
                       kh: Int32(kernel.0), kw: Int32(kernel.1), sh: Int32(stride.0), sw: Int32(stride.1),
                       pt: Int32(g.padTop), pb: Int32(g.padBottom), pl: Int32(g.padLeft), pr: Int32(g.padRight),
                       dh: Int32(dilation.0), dw: Int32(dilation.1))
    }

    /// Whether a call of geometry `g` goes to oneDNN. Grouped convolutions stay on the OpenBLAS
    /// path, and so do pointwise ones (1x1, stride 1, no padding): there they are one plain sgemm
    /// per sample without im2col, while oneDNN adds two reorders per sample, which cost more than
    /// they save on small images (MobileNetV2 at 64x64 ran slower with them on oneDNN).
    func usesOneDNN(_ g: ConvGeometry) -> Bool { groups == 1 && !g.isPointwise && ConvBackend.current == .oneDNN }

    /// y = conv(x) + b through oneDNN, per worker chunk; nil when oneDNN refused the shape
    /// (the caller then takes the OpenBLAS path).
    func forwardOneDNN(_ x: Tensor, _ g: ConvGeometry, weights: [Float], bias: [Float]?, relu: Bool,
                       perSample: Bool) -> Tensor? {
        let n = x.shape[0], inPer = x.sampleCount, outPer = outChannels * g.outHeight * g.outWidth
        let chunks = Parallel.chunkCount(n)
        var status = [Int32](repeating: 0, count: chunks)
        let y = [Float](unsafeUninitializedCapacity: n * outPer) { out, initialized in
            status.withUnsafeMutableBufferPointer { st in
            x.data.withUnsafeBufferPointer { xp in
            weights.withUnsafeBufferPointer { wp in
            withOptionalBuffer(bias) { bp in
                Parallel.forEachChunk(n) { samples, worker in
                    for part in ConvBackend.parts(of: samples, perSample: perSample) where st[worker] == 0 {
                        var s = dnnlShape(g, n: part.count)
                        st[worker] = bss_dnnl_conv_forward(&s, perSample ? 1 : 0, xp.baseAddress! + part.lowerBound * inPer,
                                                           wp.baseAddress!, bp?.baseAddress, relu ? 1 : 0,
                                                           out.baseAddress! + part.lowerBound * outPer)
                    }
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
                    for part in ConvBackend.parts(of: samples, perSample: perSample) where st[worker] == 0 {
                        var ps = dnnlShape(g, n: part.count)
                        st[worker] = bss_dnnl_conv_backward_data(&ps, perSample ? 1 : 0, gp.baseAddress! + part.lowerBound * outPer,
                                                                 wp.baseAddress!, dxp.baseAddress! + part.lowerBound * inPer)
                    }
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

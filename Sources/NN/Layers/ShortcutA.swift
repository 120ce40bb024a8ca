import Tensor

/// The parameter-free ResNet shortcut "option A" (He et al. 2015, CIFAR models): subsample by
/// `stride`, then add zero channels up to `outChannels`: `padBefore` of them before the
/// input's channels, the rest after. Implementations differ here: 0 before (all appended at
/// the end) is the BSS authors' code; `(outChannels − C) / 2` on each side is the other common
/// CIFAR ResNet (README, "Presets").
///
/// `y[n, b + c, i, j] = x[n, c, i·s, j·s]` for `c < C` (b = `padBefore`), 0 on every other
/// channel; exactly `F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, b, outChannels − C − b))` in PyTorch.
///
/// Shapes: `[N, C, H, W]` → `[N, outChannels, ⌈H/s⌉, ⌈W/s⌉]`, needs `b + C ≤ outChannels`.
/// Backward: `dx[n, c, i·s, j·s] = dy[n, b + c, i, j]` for `c < C`, 0 elsewhere.
public final class ShortcutA: Layer {
    public let outChannels: Int
    public let stride: Int
    /// Zero channels before the input's channels.
    public let padBefore: Int

    public var kind: String { "ShortcutA" }
    public var summary: String {
        "subsample \(stride), zero-pad channels to \(outChannels)" + (padBefore > 0 ? " (\(padBefore) before)" : "")
    }

    public init(outChannels: Int, stride: Int, padBefore: Int = 0) {
        precondition(outChannels > 0 && stride > 0 && padBefore >= 0, "ShortcutA needs positive outChannels and stride")
        self.outChannels = outChannels
        self.stride = stride
        self.padBefore = padBefore
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1, inputShapes[0].count == 3 else {
            throw NNError.shape(kind, "ShortcutA expects one input of shape [C, H, W], got \(inputShapes)")
        }
        let s = inputShapes[0]
        guard s[0] <= outChannels else {
            throw NNError.shape(kind, "ShortcutA cannot shrink \(s[0]) channels to \(outChannels)")
        }
        guard padBefore + s[0] <= outChannels else {
            throw NNError.shape(kind, "ShortcutA cannot put \(padBefore) zero channels before \(s[0]) channels within \(outChannels)")
        }
        return [outChannels, (s[1] + stride - 1) / stride, (s[2] + stride - 1) / stride]
    }

    /// x `[N, C, H, W]` → y `[N, outChannels, ⌈H/s⌉, ⌈W/s⌉]`
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        precondition(x.rank == 4 && padBefore + x.shape[1] <= outChannels, "ShortcutA input \(x.shape) does not fit \(outChannels) channels")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h + stride - 1) / stride, ow = (w + stride - 1) / stride
        let oc = outChannels, s = stride, plane = oh * ow, b = padBefore
        let y = [Float](unsafeUninitializedCapacity: n * oc * plane) { yp, initialized in
            x.data.withUnsafeBufferPointer { xp in
                Parallel.forEachChunk(n) { samples, _ in
                    for i in samples {
                        for ch in 0..<c {
                            let src = xp.baseAddress! + (i * c + ch) * h * w
                            let dst = yp.baseAddress! + (i * oc + b + ch) * plane
                            for oy in 0..<oh {
                                let sr = src + oy * s * w, dr = dst + oy * ow
                                if s == 2 {
                                    for ox in 0..<ow { dr[ox] = sr[2 * ox] }
                                } else {
                                    for ox in 0..<ow { dr[ox] = sr[ox * s] }
                                }
                            }
                        }
                        // Added channels are 0.
                        (yp.baseAddress! + i * oc * plane).initialize(repeating: 0, count: b * plane)
                        (yp.baseAddress! + (i * oc + b + c) * plane).initialize(repeating: 0, count: (oc - b - c) * plane)
                    }
                }
            }
            initialized = n * oc * plane
        }
        return Tensor(shape: [n, outChannels, oh, ow], data: y)
    }

    /// dy `[N, outChannels, oh, ow]` → dx `[N, C, H, W]`
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let inputShape = record.inputShapes[0]
        let (n, c, h, w) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let oh = (h + stride - 1) / stride, ow = (w + stride - 1) / stride
        precondition(gradOutput.shape == [n, outChannels, oh, ow], "ShortcutA gradient \(gradOutput.shape) does not match the last forward")
        let oc = outChannels, s = stride, plane = oh * ow, b = padBefore
        let dx = [Float](unsafeUninitializedCapacity: n * c * h * w) { dp, initialized in
            gradOutput.data.withUnsafeBufferPointer { gp in
                Parallel.forEachChunk(n) { samples, _ in
                    for i in samples {
                        let dxs = dp.baseAddress! + i * c * h * w
                        if s != 1 { dxs.initialize(repeating: 0, count: c * h * w) }
                        for ch in 0..<c {
                            let src = gp.baseAddress! + (i * oc + b + ch) * plane
                            let dst = dxs + ch * h * w
                            for oy in 0..<oh {
                                let sr = src + oy * ow, dr = dst + oy * s * w
                                if s == 2 {
                                    for ox in 0..<ow { dr[2 * ox] = sr[ox] }
                                } else {
                                    for ox in 0..<ow { dr[ox * s] = sr[ox] }
                                }
                            }
                        }
                    }
                }
            }
            initialized = n * c * h * w
        }
        return [Tensor(shape: inputShape, data: dx)]
    }
}

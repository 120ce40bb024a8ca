import Tensor

/// 2-D max pooling over each channel, as PyTorch's `nn.MaxPool2d` (dilation 1).
///
/// `y[n, c, oy, ox] = max_{ki, kj} x[n, c, oy·sh − top + ki, ox·sw − left + kj]`, where padded
/// positions count as −∞ (they never win), so Keras' `padding='same'` max pooling is this layer
/// with the asymmetric `Padding2D` Keras implies.
///
/// Shapes: `[N, C, H, W]` → `[N, C, outH, outW]`, `outH = ⌊(H + top + bottom − kh) / sh⌋ + 1`,
/// or with `ceilMode` the ceiling, less one when the last window would start below the input
/// and its top padding (PyTorch's rule, `poolOutputSize`); such windows are clipped to the input.
/// Defaults: stride = kernel, no padding, floor. Each side's padding must be smaller than the
/// kernel (so no window is padding only).
///
/// Backward: the whole `dy` of a window goes to its arg-max, the first maximum in row-major
/// window order on ties (PyTorch's CPU rule); NaN propagates like PyTorch's.
public final class MaxPool2D: Layer {
    /// (height, width)
    public let kernel: (Int, Int)
    /// (height, width); defaults to `kernel`.
    public let stride: (Int, Int)
    public let padding: Padding2D
    /// Output size rounds up (PyTorch's `ceil_mode=True`).
    public let ceilMode: Bool

    public var kind: String { "MaxPool2D" }
    public var summary: String { poolSummary(kernel, stride, padding) + (ceilMode ? ", ceil mode" : "") }

    // Last forward: input shape and, per output element, the flat index of its arg-max
    // within the sample's plane (Int32: planes are far below 2³¹ elements).
    private var argmax: [Int32] = []

    public init(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: Padding2D = .zero, ceilMode: Bool = false) {
        precondition(kernel.0 > 0 && kernel.1 > 0, "MaxPool2D needs a positive kernel")
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.ceilMode = ceilMode
        precondition(self.stride.0 > 0 && self.stride.1 > 0, "MaxPool2D needs a positive stride")
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard padding.top < kernel.0 && padding.bottom < kernel.0 && padding.left < kernel.1 && padding.right < kernel.1 else {
            throw NNError.shape(kind, "MaxPool2D padding \(padding) must be smaller than the kernel \(kernel.0)x\(kernel.1) on every side")
        }
        return try poolOutputShape(kind, inputShapes, kernel, stride, padding, ceilMode: ceilMode)
    }

    /// x `[N, C, H, W]` → y `[N, C, outH, outW]`
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        let g = poolGeometry(x.shape, kernel, stride, padding)
        let planes = x.shape[0] * x.shape[1], hw = g.height * g.width
        let (oh, ow) = poolOutputSize(g, ceilMode: ceilMode)
        if argmax.count != planes * oh * ow { argmax = [Int32](repeating: 0, count: planes * oh * ow) }
        var y = [Float](repeating: 0, count: planes * oh * ow)
        x.data.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
        argmax.withUnsafeMutableBufferPointer { ap in
            let xb = xp.baseAddress!, yb = yp.baseAddress!, ab = ap.baseAddress!
            Parallel.forEach(planes) { pl in
                let src = xb + pl * hw
                var o = pl * oh * ow
                for oy in 0..<oh {
                    let rows = poolWindow(oy, g.strideH, g.padTop, g.kernelH, g.height)
                    for ox in 0..<ow {
                        let cols = poolWindow(ox, g.strideW, g.padLeft, g.kernelW, g.width)
                        // Start from the first in-bounds element: padding is −∞ and never wins.
                        var best = rows.lowerBound * g.width + cols.lowerBound
                        var m = src[best]
                        for iy in rows {
                            let r = iy * g.width
                            for ix in cols where src[r + ix] > m || src[r + ix].isNaN {
                                m = src[r + ix]; best = r + ix
                            }
                        }
                        yb[o] = m; ab[o] = Int32(best)
                        o += 1
                    }
                }
            }
        }
        }
        }
        return Tensor(shape: [x.shape[0], x.shape[1], oh, ow], data: y)
    }

    /// dy `[N, C, outH, outW]` → dx `[N, C, H, W]`: each dy added at its window's arg-max.
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let inputShape = record.inputShapes[0]
        precondition(gradOutput.count == argmax.count, "MaxPool2D gradient \(gradOutput.shape) does not match the last forward")
        let planes = inputShape[0] * inputShape[1], hw = inputShape[2] * inputShape[3]
        let per = argmax.count / max(planes, 1)
        var dx = [Float](repeating: 0, count: planes * hw)
        gradOutput.data.withUnsafeBufferPointer { gp in
        dx.withUnsafeMutableBufferPointer { dp in
        argmax.withUnsafeBufferPointer { ap in
            let gb = gp.baseAddress!, db = dp.baseAddress!, ab = ap.baseAddress!
            Parallel.forEach(planes) { pl in
                let dst = db + pl * hw
                for o in (pl * per)..<((pl + 1) * per) { dst[Int(ab[o])] += gb[o] }
            }
        }
        }
        }
        return [Tensor(shape: inputShape, data: dx)]
    }
}

// MARK: - Shared by the pooling layers

/// Input rows (or columns) covered by output position `o`, clipped to `0..<size`; the rest of
/// the window is padding.
@inline(__always)
func poolWindow(_ o: Int, _ stride: Int, _ pad: Int, _ kernel: Int, _ size: Int) -> Range<Int> {
    let start = o * stride - pad
    return max(0, start)..<min(size, start + kernel)
}

/// Per-channel window geometry for a batch `[N, C, H, W]`.
func poolGeometry(_ shape: [Int], _ kernel: (Int, Int), _ stride: (Int, Int), _ padding: Padding2D) -> ConvGeometry {
    precondition(shape.count == 4, "pooling expects [N, C, H, W], got \(shape)")
    let g = ConvGeometry(channels: shape[1], height: shape[2], width: shape[3], kernelH: kernel.0, kernelW: kernel.1,
                         strideH: stride.0, strideW: stride.1, padTop: padding.top, padBottom: padding.bottom,
                         padLeft: padding.left, padRight: padding.right)
    precondition(g.fits, "pooling window \(kernel) does not fit input \(shape)")
    return g
}

/// Output rows (or columns) of a pooling window: `⌊(size + padBefore + padAfter − kernel) / stride⌋ + 1`,
/// or with `ceilMode` the ceiling, less one if that last window would start at or after
/// `size + padBefore` (PyTorch's rule: the last window must start inside the input or its
/// leading padding).
@inline(__always)
func poolOutputSize(_ size: Int, kernel: Int, stride: Int, padBefore: Int, padAfter: Int, ceilMode: Bool) -> Int {
    let span = size + padBefore + padAfter - kernel
    guard ceilMode else { return span / stride + 1 }
    var out = (span + stride - 1) / stride + 1
    if (out - 1) * stride >= size + padBefore { out -= 1 }
    return out
}

/// (outH, outW) of a pooling geometry (`ConvGeometry.outHeight` is the floor-mode size).
func poolOutputSize(_ g: ConvGeometry, ceilMode: Bool) -> (Int, Int) {
    (poolOutputSize(g.height, kernel: g.kernelH, stride: g.strideH, padBefore: g.padTop, padAfter: g.padBottom, ceilMode: ceilMode),
     poolOutputSize(g.width, kernel: g.kernelW, stride: g.strideW, padBefore: g.padLeft, padAfter: g.padRight, ceilMode: ceilMode))
}

/// Output shape of a pooling layer for per-sample `[C, H, W]`, or a `NNError.shape`.
func poolOutputShape(_ kind: String, _ inputShapes: [[Int]], _ kernel: (Int, Int), _ stride: (Int, Int),
                     _ padding: Padding2D, ceilMode: Bool = false) throws -> [Int] {
    guard inputShapes.count == 1, inputShapes[0].count == 3 else {
        throw NNError.shape(kind, "\(kind) expects one input of shape [C, H, W], got \(inputShapes)")
    }
    let s = inputShapes[0]
    let g = ConvGeometry(channels: s[0], height: s[1], width: s[2], kernelH: kernel.0, kernelW: kernel.1,
                         strideH: stride.0, strideW: stride.1, padTop: padding.top, padBottom: padding.bottom,
                         padLeft: padding.left, padRight: padding.right)
    guard g.fits else {
        throw NNError.shape(kind, "\(kind) window \(kernel.0)x\(kernel.1) is larger than the padded input "
                            + "\(s[1] + padding.top + padding.bottom)x\(s[2] + padding.left + padding.right) (input shape \(s))")
    }
    let (oh, ow) = poolOutputSize(g, ceilMode: ceilMode)
    return [s[0], oh, ow]
}

func poolSummary(_ kernel: (Int, Int), _ stride: (Int, Int), _ padding: Padding2D) -> String {
    "\(kernel.0)x\(kernel.1)"
        + (stride == kernel ? "" : ", stride \(stride.0 == stride.1 ? "\(stride.0)" : "\(stride.0)x\(stride.1)")")
        + (padding.isZero ? "" : ", padding \(padding)")
}

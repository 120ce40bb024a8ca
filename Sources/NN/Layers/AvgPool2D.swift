import Tensor

/// 2-D average pooling over each channel, as PyTorch's `nn.AvgPool2d`.
///
/// `y[n, c, oy, ox] = (1 / d) · Σ_{in-bounds ki, kj} x[n, c, oy·sh − top + ki, ox·sw − left + kj]`
/// with `d` = the number of window elements inside the padded input when `countIncludePad`
/// (PyTorch's default: padding counts as zeros; `kh·kw` except for the windows `ceilMode` lets
/// run past the padding) or `d` = the number of in-bounds elements of the window otherwise
/// (what Keras' `padding='same'` average pooling does).
///
/// Shapes: `[N, C, H, W]` → `[N, C, outH, outW]`, `outH = ⌊(H + top + bottom − kh) / sh⌋ + 1`,
/// or with `ceilMode` PyTorch's ceiling rule (`poolOutputSize`).
/// Defaults: stride = kernel, no padding, `countIncludePad` true, floor.
/// Backward: every in-bounds element of a window gets `dy / d`.
public final class AvgPool2D: Layer {
    /// (height, width)
    public let kernel: (Int, Int)
    /// (height, width); defaults to `kernel`.
    public let stride: (Int, Int)
    public let padding: Padding2D
    public let countIncludePad: Bool
    /// Output size rounds up (PyTorch's `ceil_mode=True`).
    public let ceilMode: Bool

    public var kind: String { "AvgPool2D" }
    public var summary: String {
        poolSummary(kernel, stride, padding) + (countIncludePad || padding.isZero ? "" : ", padding not counted")
            + (ceilMode ? ", ceil mode" : "")
    }

    public init(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: Padding2D = .zero, countIncludePad: Bool = true,
                ceilMode: Bool = false) {
        precondition(kernel.0 > 0 && kernel.1 > 0, "AvgPool2D needs a positive kernel")
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.countIncludePad = countIncludePad
        self.ceilMode = ceilMode
        precondition(self.stride.0 > 0 && self.stride.1 > 0, "AvgPool2D needs a positive stride")
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let out = try poolOutputShape(kind, inputShapes, kernel, stride, padding, ceilMode: ceilMode)
        guard countIncludePad || (padding.top < kernel.0 && padding.bottom < kernel.0
                                  && padding.left < kernel.1 && padding.right < kernel.1) else {
            throw NNError.shape(kind, "AvgPool2D without counted padding needs padding \(padding) smaller than the kernel "
                                + "\(kernel.0)x\(kernel.1) on every side (a window would hold no input)")
        }
        return out
    }

    /// 1 / divisor for output (oy, ox), whose window clipped to the input is `rows` x `cols`.
    @inline(__always)
    private func scale(_ oy: Int, _ ox: Int, _ rows: Range<Int>, _ cols: Range<Int>, _ g: ConvGeometry) -> Float {
        guard countIncludePad else { return 1 / Float(max(1, rows.count * cols.count)) }
        // The window clipped to the padded input (PyTorch's pool_size): kh·kw unless ceil
        // mode let it run past the trailing padding.
        let y0 = oy * g.strideH - g.padTop, x0 = ox * g.strideW - g.padLeft
        let h = min(y0 + g.kernelH, g.height + g.padBottom) - y0, w = min(x0 + g.kernelW, g.width + g.padRight) - x0
        return 1 / Float(h * w)
    }

    /// x `[N, C, H, W]` → y `[N, C, outH, outW]`
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        let g = poolGeometry(x.shape, kernel, stride, padding)
        let planes = x.shape[0] * x.shape[1], hw = g.height * g.width
        let (oh, ow) = poolOutputSize(g, ceilMode: ceilMode)
        var y = [Float](repeating: 0, count: planes * oh * ow)
        x.data.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
            let xb = xp.baseAddress!, yb = yp.baseAddress!
            Parallel.forEach(planes) { pl in
                let src = xb + pl * hw
                var o = pl * oh * ow
                for oy in 0..<oh {
                    let rows = poolWindow(oy, g.strideH, g.padTop, g.kernelH, g.height)
                    for ox in 0..<ow {
                        let cols = poolWindow(ox, g.strideW, g.padLeft, g.kernelW, g.width)
                        var s: Float = 0
                        for iy in rows { for ix in cols { s += src[iy * g.width + ix] } }
                        yb[o] = s * scale(oy, ox, rows, cols, g)
                        o += 1
                    }
                }
            }
        }
        }
        return Tensor(shape: [x.shape[0], x.shape[1], oh, ow], data: y)
    }

    /// dy `[N, C, outH, outW]` → dx `[N, C, H, W]`: dy / d spread over each window's input.
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let inputShape = record.inputShapes[0]
        let g = poolGeometry(inputShape, kernel, stride, padding)
        let planes = inputShape[0] * inputShape[1], hw = g.height * g.width
        let (oh, ow) = poolOutputSize(g, ceilMode: ceilMode)
        precondition(gradOutput.shape == [inputShape[0], inputShape[1], oh, ow],
                     "AvgPool2D gradient \(gradOutput.shape) does not match the last forward")
        var dx = [Float](repeating: 0, count: planes * hw)
        gradOutput.data.withUnsafeBufferPointer { gp in
        dx.withUnsafeMutableBufferPointer { dp in
            let gb = gp.baseAddress!, db = dp.baseAddress!
            Parallel.forEach(planes) { pl in
                let dst = db + pl * hw
                var o = pl * oh * ow
                for oy in 0..<oh {
                    let rows = poolWindow(oy, g.strideH, g.padTop, g.kernelH, g.height)
                    for ox in 0..<ow {
                        let cols = poolWindow(ox, g.strideW, g.padLeft, g.kernelW, g.width)
                        let v = gb[o] * scale(oy, ox, rows, cols, g)
                        for iy in rows { for ix in cols { dst[iy * g.width + ix] += v } }
                        o += 1
                    }
                }
            }
        }
        }
        return [Tensor(shape: inputShape, data: dx)]
    }
}

import Tensor

/// Adaptive 2-D average pooling to a fixed output size, as PyTorch's `nn.AdaptiveAvgPool2d`.
///
/// Output row `i` of `outH` averages input rows `⌊i·H / outH⌋ ..< ⌈(i + 1)·H / outH⌉` (likewise
/// columns), so windows may overlap or differ in size, and an output larger than the input
/// repeats rows: `y[n, c, i, j] = mean of x[n, c, rows(i), cols(j)]`.
///
/// Shapes: `[N, C, H, W]` → `[N, C, outH, outW]` (any H, W ≥ 1; `(1, 1)` keeps the `[C, 1, 1]`
/// shape that torchvision then flattens, unlike `GlobalAvgPool`).
/// Backward: each window element gets `dy / (window size)`.
public final class AdaptiveAvgPool2D: Layer {
    /// (height, width)
    public let outputSize: (Int, Int)

    public init(outputSize: (Int, Int)) {
        precondition(outputSize.0 >= 1 && outputSize.1 >= 1, "AdaptiveAvgPool2D needs a positive output size")
        self.outputSize = outputSize
    }
    public var kind: String { "AdaptiveAvgPool2D" }
    public var summary: String { "to \(outputSize.0)x\(outputSize.1)" }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1, inputShapes[0].count == 3, inputShapes[0][1] > 0, inputShapes[0][2] > 0 else {
            throw NNError.shape(kind, "AdaptiveAvgPool2D expects one input of shape [C, H, W] with H, W > 0, got \(inputShapes)")
        }
        return [inputShapes[0][0], outputSize.0, outputSize.1]
    }

    /// Input indices averaged into output index `i` of `out` (PyTorch's start/end rule).
    @inline(__always)
    static func window(_ i: Int, _ out: Int, _ size: Int) -> Range<Int> {
        (i * size / out)..<(((i + 1) * size + out - 1) / out)
    }

    /// x `[N, C, H, W]` → y `[N, C, outH, outW]`
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        precondition(x.rank == 4, "AdaptiveAvgPool2D expects [N, C, H, W], got \(x.shape)")
        let planes = x.shape[0] * x.shape[1], h = x.shape[2], w = x.shape[3], (oh, ow) = outputSize
        let y = x.data.withUnsafeBufferPointer { xp in
            uninitializedFloats(planes * oh * ow) { yb in
                let xb = xp.baseAddress!
                parallelChunks(planes, work: planes * h * w) { r in
                    for pl in r {
                        let src = xb + pl * h * w
                        for i in 0..<oh {
                            let rows = Self.window(i, oh, h)
                            for j in 0..<ow {
                                let cols = Self.window(j, ow, w)
                                var s: Float = 0
                                for iy in rows { for ix in cols { s += src[iy * w + ix] } }
                                yb[(pl * oh + i) * ow + j] = s / Float(rows.count * cols.count)
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [x.shape[0], x.shape[1], oh, ow], data: y)
    }

    /// dy `[N, C, outH, outW]` → dx `[N, C, H, W]`
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let shape = record.inputShapes[0]
        let planes = shape[0] * shape[1], h = shape[2], w = shape[3], (oh, ow) = outputSize
        precondition(gradOutput.count == planes * oh * ow, "AdaptiveAvgPool2D gradient \(gradOutput.shape) does not match the last forward")
        var dx = [Float](repeating: 0, count: planes * h * w)
        gradOutput.data.withUnsafeBufferPointer { gp in
        dx.withUnsafeMutableBufferPointer { dp in
            let gb = gp.baseAddress!, db = dp.baseAddress!
            parallelChunks(planes, work: planes * h * w) { r in
                for pl in r {
                    let dst = db + pl * h * w
                    for i in 0..<oh {
                        let rows = Self.window(i, oh, h)
                        for j in 0..<ow {
                            let cols = Self.window(j, ow, w)
                            let v = gb[(pl * oh + i) * ow + j] / Float(rows.count * cols.count)
                            for iy in rows { for ix in cols { dst[iy * w + ix] += v } }
                        }
                    }
                }
            }
        }
        }
        return [Tensor(shape: shape, data: dx)]
    }
}

/// Global max pooling: the maximum of each channel over all spatial positions, as
/// `F.adaptive_max_pool2d(x, 1).flatten(1)` or Keras' `GlobalMaxPooling2D`.
///
/// `y[n, c] = max_{h, w} x[n, c, h, w]`
///
/// Shapes: `[N, C, H, W]` → `[N, C]`. Backward: `dy[n, c]` goes to the first maximum in
/// row-major order (NaN propagates and wins, as in `MaxPool2D`).
public final class GlobalMaxPool: Layer {
    public var kind: String { "GlobalMaxPool" }
    public var summary: String { "max over H, W" }
    // Last forward: per plane, the flat index of its maximum.
    private var argmax: [Int32] = []

    public init() {}

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1, inputShapes[0].count == 3, inputShapes[0][1] > 0, inputShapes[0][2] > 0 else {
            throw NNError.shape(kind, "GlobalMaxPool expects one input of shape [C, H, W] with H, W > 0, got \(inputShapes)")
        }
        return [inputShapes[0][0]]
    }

    /// x `[N, C, H, W]` → y `[N, C]`
    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        precondition(x.rank == 4, "GlobalMaxPool expects [N, C, H, W], got \(x.shape)")
        let planes = x.shape[0] * x.shape[1], hw = x.shape[2] * x.shape[3]
        argmax = [Int32](repeating: 0, count: planes)
        var y = [Float](repeating: 0, count: planes)
        x.data.withUnsafeBufferPointer { xp in
            for pl in 0..<planes {
                let src = xp.baseAddress! + pl * hw
                var best = 0, m = src[0]
                for i in 1..<max(1, hw) where src[i] > m || (src[i].isNaN && !m.isNaN) { m = src[i]; best = i }
                y[pl] = m; argmax[pl] = Int32(best)
            }
        }
        return Tensor(shape: [x.shape[0], x.shape[1]], data: y)
    }

    /// dy `[N, C]` → dx `[N, C, H, W]`
    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let shape = record.inputShapes[0], planes = shape[0] * shape[1], hw = shape[2] * shape[3]
        precondition(gradOutput.count == planes && argmax.count == planes, "GlobalMaxPool gradient \(gradOutput.shape) does not match the last forward")
        var dx = [Float](repeating: 0, count: planes * hw)
        for pl in 0..<planes { dx[pl * hw + Int(argmax[pl])] = gradOutput.data[pl] }
        return [Tensor(shape: shape, data: dx)]
    }
}

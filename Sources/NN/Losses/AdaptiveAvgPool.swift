import Tensor

/// Adaptive average pooling of `[N, C, H, W]` maps to `[N, C, outH, outW]`, with PyTorch's
/// bins: output row `i` averages input rows `⌊i·H/outH⌋ ..< ⌈(i+1)·H/outH⌉` (columns
/// likewise), so bins may overlap when `H` is not a multiple of `outH`. Used by the attention
/// and FSP losses to bring two maps to the same size (docs/algorithm.md, "Feature methods").
public func adaptiveAvgPool2d(_ x: Tensor, height outH: Int, width outW: Int) -> Tensor {
    precondition(x.rank == 4 && outH >= 1 && outW >= 1, "adaptiveAvgPool2d expects [N, C, H, W] and a positive size, got \(x.shape)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    if h == outH && w == outW { return x }
    let rows = adaptiveBins(h, outH), cols = adaptiveBins(w, outW)
    var y = Tensor(shape: [n, c, outH, outW])
    x.data.withUnsafeBufferPointer { src in
        y.data.withUnsafeMutableBufferPointer { dst in
            for plane in 0..<(n * c) {
                let s = src.baseAddress! + plane * h * w, d = dst.baseAddress! + plane * outH * outW
                for (i, r) in rows.enumerated() {
                    for (j, q) in cols.enumerated() {
                        var sum: Float = 0
                        for a in r { for b in q { sum += s[a * w + b] } }
                        d[i * outW + j] = sum / Float(r.count * q.count)
                    }
                }
            }
        }
    }
    return y
}

/// The gradient of `adaptiveAvgPool2d` with respect to its input of shape `inputShape`, given
/// the gradient `g` of its output: each output's gradient is spread evenly over its bin.
public func adaptiveAvgPool2dBackward(_ g: Tensor, inputShape: [Int]) -> Tensor {
    precondition(g.rank == 4 && inputShape.count == 4 && Array(g.shape.prefix(2)) == Array(inputShape.prefix(2)),
                 "adaptiveAvgPool2dBackward: gradient \(g.shape) does not fit input \(inputShape)")
    let (h, w, outH, outW) = (inputShape[2], inputShape[3], g.shape[2], g.shape[3])
    if h == outH && w == outW { return g }
    let rows = adaptiveBins(h, outH), cols = adaptiveBins(w, outW)
    var dx = Tensor(shape: inputShape)
    g.data.withUnsafeBufferPointer { src in
        dx.data.withUnsafeMutableBufferPointer { dst in
            for plane in 0..<(inputShape[0] * inputShape[1]) {
                let s = src.baseAddress! + plane * outH * outW, d = dst.baseAddress! + plane * h * w
                for (i, r) in rows.enumerated() {
                    for (j, q) in cols.enumerated() {
                        let share = s[i * outW + j] / Float(r.count * q.count)
                        for a in r { for b in q { d[a * w + b] += share } }
                    }
                }
            }
        }
    }
    return dx
}

/// PyTorch's adaptive pooling bins of `size` inputs into `out` outputs.
func adaptiveBins(_ size: Int, _ out: Int) -> [Range<Int>] {
    (0..<out).map { i in (i * size / out)..<(((i + 1) * size + out - 1) / out) }
}

import NN
import Tensor

/// A float64 re-evaluation of a graph in inference mode, one sample at a time, written
/// straight from each layer's defining formula (no BLAS, no shared kernels).
///
/// Why: a finite-difference check in float32 divides rounding noise of ~1e-6 by 2h, so it can
/// neither use a small h (noise) nor a large one (ReLU/max-pool kinks inside the interval).
/// In float64 the noise is ~1e-15 and h = 1e-5 stays clear of almost every kink, so the
/// engine's float32 gradients can be held to a tolerance set by float32 itself.
///
/// Layers covered: Conv2D, BatchNorm (running statistics), ReLU, Add, MaxPool2D, AvgPool2D,
/// GlobalAvgPool, Flatten (NCHW), Linear, Dropout (identity), Identity, ShortcutA. Any other
/// layer returns nil so a test can say what is missing instead of checking the wrong thing.
public enum Reference64 {
    /// A per-sample activation: values and per-sample shape.
    public struct Value { public var data: [Double]; public var shape: [Int] }

    /// The output node's activation for one sample `x` (per-sample shape `graph.inputShape`).
    public static func forward(_ graph: Graph, _ x: [Double]) -> [Double]? {
        var acts: [Value] = []
        for node in graph.nodes.prefix(graph.output + 1) {
            let ins = node.inputs.map { s -> Value in
                switch s { case .input: return Value(data: x, shape: graph.inputShape); case let .node(j): return acts[j] }
            }
            guard let out = apply(node.layer, ins) else { return nil }
            acts.append(out)
        }
        return acts.last?.data
    }

    static func doubles(_ t: Tensor) -> [Double] { t.data.map(Double.init) }

    static func apply(_ layer: Layer, _ ins: [Value]) -> Value? {
        let x = ins[0]
        switch layer {
        case let l as Conv2D: return conv(l, x)
        case let l as BatchNorm:
            let (w, b, m, v) = (doubles(l.weight.value), doubles(l.bias.value), doubles(l.runningMean.value), doubles(l.runningVar.value))
            let plane = x.data.count / l.channels
            var y = x
            for i in 0..<y.data.count {
                let c = i / plane
                y.data[i] = (x.data[i] - m[c]) / (v[c] + Double(l.eps)).squareRoot() * w[c] + b[c]
            }
            return y
        case is ReLU: return Value(data: x.data.map { max($0, 0) }, shape: x.shape)
        case is Add:
            var y = x
            for other in ins.dropFirst() { for i in 0..<y.data.count { y.data[i] += other.data[i] } }
            return y
        case let l as MaxPool2D: return pool(x, l.kernel, l.stride, l.padding, max: true, countIncludePad: false)
        case let l as AvgPool2D: return pool(x, l.kernel, l.stride, l.padding, max: false, countIncludePad: l.countIncludePad)
        case is GlobalAvgPool:
            let c = x.shape[0], plane = x.data.count / c
            return Value(data: (0..<c).map { ch in x.data[(ch * plane)..<((ch + 1) * plane)].reduce(0, +) / Double(plane) }, shape: [c])
        case is Flatten: return Value(data: x.data, shape: [x.data.count])
        case let l as Linear:
            let w = doubles(l.weight.value), b = l.bias.map { doubles($0.value) }
            let y = (0..<l.outFeatures).map { o in
                (0..<l.inFeatures).reduce(b?[o] ?? 0) { $0 + w[o * l.inFeatures + $1] * x.data[$1] }
            }
            return Value(data: y, shape: [l.outFeatures])
        case is Dropout, is Identity: return x
        case let l as ShortcutA:
            let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2]), s = l.stride
            let oh = (h + s - 1) / s, ow = (w + s - 1) / s
            var y = [Double](repeating: 0, count: l.outChannels * oh * ow)
            let b = l.padBefore
            for ch in 0..<c { for i in 0..<oh { for j in 0..<ow { y[((b + ch) * oh + i) * ow + j] = x.data[(ch * h + i * s) * w + j * s] } } }
            return Value(data: y, shape: [l.outChannels, oh, ow])
        default: return nil
        }
    }

    static func conv(_ l: Conv2D, _ x: Value) -> Value {
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (kh, kw) = l.kernel, (sh, sw) = l.stride, p = l.padding
        let oh = (h + p.top + p.bottom - kh) / sh + 1, ow = (w + p.left + p.right - kw) / sw + 1
        let wt = doubles(l.weight.value), b = l.bias.map { doubles($0.value) }
        var y = [Double](repeating: 0, count: l.outChannels * oh * ow)
        x.data.withUnsafeBufferPointer { xp in
        wt.withUnsafeBufferPointer { wp in
        y.withUnsafeMutableBufferPointer { yp in
            for o in 0..<l.outChannels { for i in 0..<oh { for j in 0..<ow {
                // Only the kernel taps that land inside the input (zero padding adds nothing).
                let y0 = i * sh - p.top, x0 = j * sw - p.left
                let r0 = max(0, -y0), c0 = max(0, -x0)
                let rows = r0..<max(r0, min(kh, h - y0)), cols = c0..<max(c0, min(kw, w - x0))
                var s = b?[o] ?? 0
                for ci in 0..<c { for a in rows {
                    let wr = ((o * c + ci) * kh + a) * kw, xr = (ci * h + y0 + a) * w + x0
                    for bb in cols { s += wp[wr + bb] * xp[xr + bb] }
                } }
                yp[(o * oh + i) * ow + j] = s
            } } }
        }
        }
        }
        return Value(data: y, shape: [l.outChannels, oh, ow])
    }

    static func pool(_ x: Value, _ k: (Int, Int), _ s: (Int, Int), _ p: Padding2D, max isMax: Bool, countIncludePad: Bool) -> Value {
        let (c, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let oh = (h + p.top + p.bottom - k.0) / s.0 + 1, ow = (w + p.left + p.right - k.1) / s.1 + 1
        var y = [Double](repeating: 0, count: c * oh * ow)
        for ch in 0..<c { for i in 0..<oh { for j in 0..<ow {
            var best = -Double.infinity, sum = 0.0, count = 0
            for a in 0..<k.0 { for b in 0..<k.1 {
                let yy = i * s.0 - p.top + a, xx = j * s.1 - p.left + b
                if yy < 0 || yy >= h || xx < 0 || xx >= w { if countIncludePad { count += 1 }; continue }
                let v = x.data[(ch * h + yy) * w + xx]
                best = Swift.max(best, v); sum += v; count += 1
            } }
            y[(ch * oh + i) * ow + j] = isMax ? best : sum / Double(count)
        } } }
        return Value(data: y, shape: [c, oh, ow])
    }
}

import Foundation
import ModelIO

/// The operators with attributes to translate: Conv, Gemm, Add/Mul, Reshape, pooling, Slice
/// and Pad (ONNXConverter+Ops.swift has the table).
extension ONNXConverter {
    private func act(_ n: Onnx_NodeProto, _ i: Int, _ loc: String) throws -> (String, [Int]) {
        guard i < n.input.count, case let .act(l, s)? = values[n.input[i]] else {
            throw ModelIOError(.unsupported, file: file, location: loc, "input \(i) must be computed from the model input")
        }
        return (l, s)
    }

    private func const(_ n: Onnx_NodeProto, _ i: Int) -> ONNXTensor? {
        guard i < n.input.count, !n.input[i].isEmpty, case let .const(t)? = values[n.input[i]] else { return nil }
        return t
    }

    /// `pads` `[top, left, bottom, right]` (or `auto_pad`) → `[top, bottom, left, right]`.
    private func padding(_ n: Onnx_NodeProto, _ loc: String, input s: [Int], kernel k: [Int], stride st: [Int], dilation d: [Int]) throws -> [Int] {
        let auto = attrString(n, "auto_pad", default: "NOTSET")
        switch auto {
        case "NOTSET":
            let p = try attrInts(n, "pads") ?? [0, 0, 0, 0]
            guard p.count == 4, p.allSatisfy({ $0 >= 0 }) else {
                throw ModelIOError(.unsupported, file: file, location: loc, "pads \(p); 2-D non-negative pads are supported")
            }
            return [p[0], p[2], p[1], p[3]]
        case "VALID": return [0, 0, 0, 0]
        case "SAME_UPPER", "SAME_LOWER":
            // Output ⌈in / stride⌉; the odd pixel goes after (UPPER) or before (LOWER).
            var r: [Int] = []
            for a in 0..<2 {
                let outSize = (s[a + 1] + st[a] - 1) / st[a]
                let total = max((outSize - 1) * st[a] + (k[a] - 1) * d[a] + 1 - s[a + 1], 0)
                let small = total / 2
                r += auto == "SAME_UPPER" ? [small, total - small] : [total - small, small]
            }
            return r
        default:
            throw ModelIOError(.unsupported, file: file, location: loc, "auto_pad \(auto) is not supported")
        }
    }

    func conv(_ n: Onnx_NodeProto, loc: String) throws {
        let (x, s) = try act(n, 0, loc)
        guard s.count == 3, let w = const(n, 1), w.shape.count == 4 else {
            throw ModelIOError(.unsupported, file: file, location: loc, "only 2-D convolutions with constant OIHW weights are supported")
        }
        let groups = try attrInt(n, "group", default: 1)
        let k = Array(w.shape[2...])
        if let ks = try attrInts(n, "kernel_shape"), ks != k {
            throw ModelIOError(.malformed, file: file, location: loc, "kernel_shape \(ks) disagrees with the weight's \(w.shape)")
        }
        let st = try attrInts(n, "strides") ?? [1, 1], d = try attrInts(n, "dilations") ?? [1, 1]
        guard st.count == 2, d.count == 2, st.allSatisfy({ $0 > 0 }), d.allSatisfy({ $0 > 0 }), groups > 0, s[0] == w.shape[1] * groups else {
            throw ModelIOError(.mismatch, file: file, location: loc,
                               "strides \(st), dilations \(d), group \(groups) do not fit weight \(w.shape) on input \(s)")
        }
        var ls = LayerSpec(name: layerName(n, weight: n.input[1]), type: "conv2d")
        ls.inChannels = s[0]; ls.outChannels = w.shape[0]; ls.kernel = k; ls.stride = st; ls.dilation = d
        ls.groups = groups; ls.padding = try padding(n, loc, input: s, kernel: k, stride: st, dilation: d)
        let b = const(n, 2)
        if n.input.count > 2 && !n.input[2].isEmpty && b?.count != w.shape[0] {
            throw ModelIOError(.mismatch, file: file, location: loc, "bias must be a constant of \(w.shape[0]) values")
        }
        ls.bias = b != nil
        let (name, _) = try addLayer(ls, node: n, inputs: [x], output: n.output[0])
        addWeight(name, "weight", w.floats, shape: w.shape)
        if let b { addWeight(name, "bias", b.floats, shape: [w.shape[0]]) }
    }

    func gemm(_ n: Onnx_NodeProto, loc: String) throws {
        let (x, s) = try act(n, 0, loc)
        guard try attrInt(n, "transA", default: 0) == 0 else {
            throw ModelIOError(.unsupported, file: file, location: loc, "transA=1 (a transposed activation) is not supported")
        }
        guard s.count == 1, let w = const(n, 1), w.shape.count == 2 else {
            throw ModelIOError(.unsupported, file: file, location: loc, "only [N, features] × a constant 2-D weight is supported")
        }
        let transB = try attrInt(n, "transB", default: 0) == 1
        let alpha = attrFloat(n, "alpha", default: 1), beta = attrFloat(n, "beta", default: 1)
        let (outF, inF) = transB ? (w.shape[0], w.shape[1]) : (w.shape[1], w.shape[0])
        guard inF == s[0] else {
            throw ModelIOError(.mismatch, file: file, location: loc, "weight \(w.shape) (transB=\(transB ? 1 : 0)) does not take \(s[0]) features")
        }
        var weight = transB ? w.floats : transpose(w.floats, rows: inF, cols: outF)
        if alpha != 1 { weight = weight.map { $0 * alpha } }
        weight = channelsLastColumns(weight, input: n.input[0], outFeatures: outF)
        var bias: [Float]?
        if let c = const(n, 2) {
            guard c.count == outF || c.count == 1 else {
                throw ModelIOError(.unsupported, file: file, location: loc, "C of shape \(c.shape) must give one value per output (\(outF))")
            }
            bias = (c.count == 1 ? [Float](repeating: Float(c.values[0]), count: outF) : c.floats).map { $0 * beta }
        } else if n.input.count > 2 && !n.input[2].isEmpty {
            throw ModelIOError(.unsupported, file: file, location: loc, "C must be a constant")
        }
        var ls = LayerSpec(name: layerName(n, weight: n.input[1]), type: "linear")
        ls.inFeatures = inF; ls.outFeatures = outF; ls.bias = bias != nil
        let (name, _) = try addLayer(ls, node: n, inputs: [x], output: n.output[0])
        addWeight(name, "weight", weight, shape: [outF, inF])
        if let bias { addWeight(name, "bias", bias, shape: [outF]) }
        if !transB || alpha != 1 || beta != 1 {
            note("gemm", "Gemm weights to Linear [out, in] (transposed where transB=0; alpha and beta multiplied in)")
        }
    }

    /// Add/Sub/Mul/Div of two activations or of an activation and a constant.
    ///
    /// - Two activations: Add/Mul of equal shapes → Add/Multiply; Mul by a `[C, 1, 1]` operand
    ///   (squeeze-and-excitation) → Multiply; Sub a − b → Rescaling(−1) of b, then Add (exact);
    ///   Div and other broadcasting shapes → Elementwise (ONNXConverter+Broadcast.swift).
    /// - A constant that is a scalar or one value per channel (`[C, 1, 1]`, `[1, C, 1, 1]`, `[C]`
    ///   for features) → Rescaling: x + c, x − c (offset −c), c − x (scale −1, offset c), x · c,
    ///   x / c (scale 1/c: within one rounding of the division, recorded as a conversion).
    func binary(_ n: Onnx_NodeProto, loc: String) throws {
        let out = n.output[0], op = n.opType
        guard n.input.count == 2 else { throw ModelIOError(.malformed, file: file, location: loc, "needs two inputs") }
        if case let .act(a, sa)? = values[n.input[0]], case let .act(b, sb)? = values[n.input[1]] {
            if sa == sb, op == "Add" || op == "Mul" {
                try addLayer(LayerSpec(name: layerName(n), type: op == "Add" ? "add" : "multiply"), node: n, inputs: [a, b], output: out)
                return
            }
            if sa == sb, op == "Sub" {
                var neg = LayerSpec(name: layerName(n) + ".negate", type: "rescaling"); neg.scale = [-1]; neg.offset = [0]
                let (nb, _) = try addLayer(neg, node: n, inputs: [b])
                try addLayer(LayerSpec(name: layerName(n), type: "add"), node: n, inputs: [a, nb], output: out)
                note("sub", "Sub of two activations → Add of the first and the negated second (exact)")
                return
            }
            // ONNX broadcasting aligns trailing axes: [C, 1, 1] against [C, H, W] is one value per channel.
            func perChannel(_ p: [Int], of f: [Int]) -> Bool { p.count == f.count && p.first == f.first && p.dropFirst().allSatisfy { $0 == 1 } }
            if op == "Mul", perChannel(sb, of: sa) || perChannel(sa, of: sb) {
                try addLayer(LayerSpec(name: layerName(n), type: "multiply"), node: n, inputs: [a, b], output: out)
                return
            }
            try broadcastBinary(n, loc: loc, a: (a, sa), b: (b, sb))
            return
        }
        var ai = false
        if case .act? = values[n.input[0]] { ai = true }
        let (x, s) = try act(n, ai ? 0 : 1, loc)
        guard let c = const(n, ai ? 1 : 0) else { throw ModelIOError(.malformed, file: file, location: loc, "an input is missing") }
        // MatMul + Add: the constant becomes the Linear's bias.
        if op == "Add", case let (linear, outF)? = pendingBias[n.input[ai ? 0 : 1]],
           readers[n.input[ai ? 0 : 1]] == 1, c.count == outF, c.shape.last == outF {
            setWeight(linear, "bias", c.floats)
            values[out] = values[n.input[ai ? 0 : 1]]
            return
        }
        // Broadcasting aligns trailing axes: one value per channel is [C, 1, 1] (leading 1s allowed).
        let dims = Array(c.shape.drop { $0 == 1 })
        let perChannel = dims.first == s[0] && dims.dropFirst().allSatisfy { $0 == 1 } && dims.count == s.count
        guard c.count == 1 || perChannel else {
            throw ModelIOError(.unsupported, file: file, location: loc,
                               "a constant of shape \(c.shape) on per-sample shape \(s); only scalars and one value per channel are modelled")
        }
        var ls = LayerSpec(name: layerName(n), type: "rescaling")
        switch (op, ai) {
        case ("Mul", _): ls.scale = c.floats; ls.offset = [0]
        case ("Add", _): ls.scale = [1]; ls.offset = c.floats
        case ("Sub", true): ls.scale = [1]; ls.offset = c.floats.map { -$0 }
        case ("Sub", false): ls.scale = [-1]; ls.offset = c.floats
        case ("Div", true):
            guard c.values.allSatisfy({ $0 != 0 && $0.isFinite }) else {
                throw ModelIOError(.unsupported, file: file, location: loc, "division by a constant containing 0 or a non-finite value")
            }
            ls.scale = c.values.map { Float(1 / $0) }; ls.offset = [0]
            note("div", "Div by a constant → Rescaling by its reciprocal (equal to the division within one rounding; exact for powers of two)")
        default:
            throw ModelIOError(.unsupported, file: file, location: loc, "a constant divided by an activation is not modelled")
        }
        note("rescaling", "Add/Sub/Mul/Div with a scalar or per-channel constant → Rescaling (x · scale + offset)")
        try addLayer(ls, node: n, inputs: [x], output: out)
    }

    /// Reshape keeping the batch axis: the target's first entry must be the batch (folded
    /// `x.size(0)`, 0, or -1 with the rest fixed); `[-1]` per sample is a flatten.
    func reshape(_ n: Onnx_NodeProto, loc: String) throws {
        if try reshapeView(n, loc: loc) { return }
        let (x, s) = try act(n, 0, loc)
        guard let t = const(n, 1), t.shape.count == 1, t.count >= 1 else {
            throw ModelIOError(.unsupported, file: file, location: loc, "the target shape must fold to a constant vector")
        }
        if try attrInt(n, "allowzero", default: 0) == 1 && t.values.contains(0) {
            throw ModelIOError(.unsupported, file: file, location: loc, "allowzero=1 with a 0 in the target shape (an empty tensor) is not supported")
        }
        let first = t.values[0]
        var rest: [Int] = []
        for v in t.values.dropFirst() {
            guard v.isFinite, v == v.rounded(), v >= -1, v < 1e12 else {
                throw ModelIOError(.unsupported, file: file, location: loc, "target shape \(t.values) uses the batch size after the first axis")
            }
            rest.append(Int(v))
        }
        let count = s.reduce(1, *)
        guard first.isNaN || first == 0 || (first == -1 && !rest.contains(-1)) || first == 1 else {
            throw ModelIOError(.unsupported, file: file, location: loc, "target shape \(t.values) does not keep the batch axis first")
        }
        for (i, d) in rest.enumerated() where d == 0 { rest[i] = i + 1 < s.count ? s[i + 1] : 0 }
        if rest == [-1] || rest == [count] {
            if s.count == 1 { values[n.output[0]] = values[n.input[0]] } else {
                try addLayer(LayerSpec(name: layerName(n), type: "flatten"), node: n, inputs: [x], output: n.output[0])
            }
            note("reshape", "Reshape to [batch, -1] (x.view(x.size(0), -1), shape computation folded at import) → Flatten")
            return
        }
        // A Reshape to the shape the activation already has is nothing: tf2onnx writes the
        // channels-last transposes around a 1×1 map as Reshapes [N, C, 1, 1] → [-1, C, 1, 1].
        var resolved = rest
        if let i = resolved.firstIndex(of: -1), resolved.filter({ $0 == -1 }).count == 1 {
            let known = resolved.filter { $0 != -1 }.reduce(1, *)
            if known > 0, count % known == 0 { resolved[i] = count / known }
        }
        if resolved == s {
            values[n.output[0]] = values[n.input[0]]
            note("reshape-identity", "Reshape to the per-sample shape the activation already has (tf2onnx's channels-last transpose of a 1×1 map) → nothing")
            return
        }
        var ls = LayerSpec(name: layerName(n), type: "reshape"); ls.shape = rest
        try addLayer(ls, node: n, inputs: [x], output: n.output[0])
    }

    func pool(_ n: Onnx_NodeProto, loc: String) throws {
        let (x, s) = try act(n, 0, loc)
        guard s.count == 3, let k = try attrInts(n, "kernel_shape"), k.count == 2, k.allSatisfy({ $0 > 0 }) else {
            throw ModelIOError(.unsupported, file: file, location: loc, "only 2-D pooling with a kernel_shape is supported")
        }
        let st = try attrInts(n, "strides") ?? [1, 1]
        let d = try attrInts(n, "dilations") ?? [1, 1]
        guard d == [1, 1] else { throw ModelIOError(.unsupported, file: file, location: loc, "dilations \(d) in pooling are not modelled") }
        guard try attrInt(n, "storage_order", default: 0) == 0 else {
            throw ModelIOError(.unsupported, file: file, location: loc, "storage_order=1 is not supported")
        }
        var ls = LayerSpec(name: layerName(n), type: n.opType == "MaxPool" ? "maxpool2d" : "avgpool2d")
        ls.kernel = k; ls.stride = st
        ls.padding = try padding(n, loc, input: s, kernel: k, stride: st, dilation: d)
        ls.ceilMode = try attrInt(n, "ceil_mode", default: 0) == 1
        if n.opType == "AveragePool" { ls.countIncludePad = try attrInt(n, "count_include_pad", default: 0) == 1 }
        try addLayer(ls, node: n, inputs: [x], output: n.output[0])
    }

    /// Slice of an activation: channel ranges (step 1) → ChannelSlice; `::s` on H and W from 0
    /// to the end → a 1×1 pool with stride s (the ResNet "option A" shortcut's subsampling).
    func slice(_ n: Onnx_NodeProto, loc: String) throws {
        let (x, s) = try act(n, 0, loc)
        guard let starts = const(n, 1)?.ints, let ends = const(n, 2)?.ints else {
            throw ModelIOError(.unsupported, file: file, location: loc, "starts and ends must be constants")
        }
        let axes = n.input.count > 3 && !n.input[3].isEmpty ? const(n, 3)?.ints : Array(0..<starts.count)
        let steps = n.input.count > 4 && !n.input[4].isEmpty ? const(n, 4)?.ints : starts.map { _ in 1 }
        guard let axes, let steps, axes.count == starts.count, steps.count == starts.count, ends.count == starts.count else {
            throw ModelIOError(.unsupported, file: file, location: loc, "axes and steps must be constants of the starts' length")
        }
        var cur = x, shape = s
        let rank = s.count + 1
        for k in 0..<axes.count {
            let a = axes[k] < 0 ? axes[k] + rank : axes[k]
            guard a >= 1, a < rank else { throw ModelIOError(.unsupported, file: file, location: loc, "slicing the batch axis is not supported") }
            let idx = sliceIndices(dim: shape[a - 1], start: starts[k], end: ends[k], step: steps[k])
            if idx.count == shape[a - 1] && steps[k] == 1 { continue }
            if a == 1, steps[k] == 1, let lo = idx.first, let hi = idx.last {
                var ls = LayerSpec(name: layerName(n), type: "slice"); ls.start = lo; ls.end = hi + 1
                (cur, shape) = try addLayer(ls, node: n, inputs: [cur])
            } else if a >= 2, shape.count == 3, steps[k] > 0, idx.first == 0, idx.count == (shape[a - 1] + steps[k] - 1) / steps[k] {
                var ls = LayerSpec(name: layerName(n), type: "avgpool2d")
                ls.kernel = [1, 1]; ls.stride = a == 2 ? [steps[k], 1] : [1, steps[k]]
                (cur, shape) = try addLayer(ls, node: n, inputs: [cur])
                note("slice", "Slice x[..., ::s] → 1×1 average pool with stride s (the same subsampling)")
            } else {
                throw ModelIOError(.unsupported, file: file, location: loc,
                                   "slice \(starts[k])..<\(ends[k]) step \(steps[k]) on axis \(a) of \(s); channel ranges and ::s on H/W are modelled")
            }
        }
        values[n.output[0]] = .act(cur, shape)
    }

    /// Zero Pad of an activation: on H/W → ZeroPad2D; on channels only → zero channels
    /// (ShortcutA with stride 1, the ResNet "option A" shortcut's padding).
    func pad(_ n: Onnx_NodeProto, loc: String) throws {
        let (x, s) = try act(n, 0, loc)
        guard attrString(n, "mode", default: "constant") == "constant" else {
            throw ModelIOError(.unsupported, file: file, location: loc, "mode \(attrString(n, "mode", default: "")) is not modelled; only zero padding is")
        }
        if let v = const(n, 2), v.values.contains(where: { $0 != 0 }) {
            throw ModelIOError(.unsupported, file: file, location: loc, "padding value \(v.values) is not modelled; only 0 is")
        }
        guard n.input.count < 4 || n.input[3].isEmpty else {
            throw ModelIOError(.unsupported, file: file, location: loc, "the axes input is not supported")
        }
        let rank = s.count + 1
        guard let p = const(n, 1)?.ints, p.count == 2 * rank, s.count == 3 else {
            throw ModelIOError(.unsupported, file: file, location: loc, "pads must fold to a constant of \(2 * rank) integers on [C, H, W] samples")
        }
        let before = Array(p[0..<rank]), after = Array(p[rank...])
        guard before.allSatisfy({ $0 >= 0 }), after.allSatisfy({ $0 >= 0 }), before[0] == 0, after[0] == 0 else {
            throw ModelIOError(.unsupported, file: file, location: loc, "pads \(p): negative pads or padding the batch axis is not modelled")
        }
        note("pad", "zero Pad → ZeroPad2D on H/W, zero channels (ShortcutA, stride 1) on C; pads computed by the exporter folded at import")
        var cur = x
        if before[1] != 0 || after[1] != 0 {
            var ls = LayerSpec(name: layerName(n), type: "shortcut_a")
            ls.outChannels = s[0] + before[1] + after[1]; ls.stride = [1, 1]; ls.padBefore = before[1]
            (cur, _) = try addLayer(ls, node: n, inputs: [cur])
        }
        if before[2...].contains(where: { $0 != 0 }) || after[2...].contains(where: { $0 != 0 }) {
            var ls = LayerSpec(name: layerName(n), type: "zeropad2d")
            ls.padding = [before[2], after[2], before[3], after[3]]
            (cur, _) = try addLayer(ls, node: n, inputs: [cur])
        }
        if cur == x { values[n.output[0]] = values[n.input[0]] } else {
            values[n.output[0]] = .act(cur, shapeOf(cur))
        }
    }
}

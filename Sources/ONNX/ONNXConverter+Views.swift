import Foundation
import ModelIO

/// Layout operators on activations: Transpose (a `permute` layer, or part of a channel shuffle),
/// Squeeze/Unsqueeze, ReduceMean over H and W, Split on channels, and the Erf-based GELU
/// pattern fused to one `gelu` layer.
///
/// - A `Transpose` that keeps the batch axis first is a `permute` layer over the sample axes:
///   tf2onnx's channels-last flatten `Transpose(perm 0,2,3,1)` → `Flatten` becomes `permute`
///   [1, 2, 0] + `flatten` (docs/design.md, "Layout conversions"), unless only Gemm/MatMul read
///   the flattened features: then the order goes into their weights (ONNXConverter+FlattenOrder.swift).
/// - `Reshape [N, g, C/g, H, W]` → `Transpose(perm 0,2,1,3,4)` → `Reshape [N, C, H, W]`:
///   `channel_shuffle` with g groups (ShuffleNet; what torch.onnx writes for `channel_shuffle`).
///   The intermediate tensors are `.view`s resolved by the node reading them; any other reader
///   of a view is an error naming it.
extension ONNXConverter {
    /// Refuses a node that reads a view it cannot resolve.
    func checkViews(_ n: Onnx_NodeProto, loc: String) throws {
        for (i, name) in n.input.enumerated() {
            guard case let .view(v, _, s)? = values[name] else { continue }
            let ok: Bool
            switch (v, n.opType) {
            case (.grouped, "Transpose"), (.shuffled, "Reshape"): ok = i == 0
            default: ok = false
            }
            guard ok else {
                throw ModelIOError(.unsupported, file: file, location: loc,
                                   "reads '\(name)', a \(describe(v)) of a \(s) activation; such a view is modelled only as \(expected(v))")
            }
        }
    }

    private func describe(_ v: View) -> String {
        switch v {
        case let .grouped(g): return "Reshape into \(g) channel groups"
        case let .shuffled(g): return "transpose of \(g) channel groups"
        }
    }

    private func expected(_ v: View) -> String {
        switch v {
        case .grouped: return "the input of a Transpose with perm [0, 2, 1, 3, 4] (channel shuffle)"
        case .shuffled: return "the input of a Reshape back to [N, C, H, W] (channel shuffle)"
        }
    }

    private func activation(_ n: Onnx_NodeProto, _ loc: String) throws -> (String, [Int]) {
        guard case let .act(l, s)? = values[n.input[0]] else {
            throw ModelIOError(.unsupported, file: file, location: loc, "input 0 must be computed from the model input")
        }
        return (l, s)
    }

    func transposeView(_ n: Onnx_NodeProto, loc: String) throws {
        let perm = try attrInts(n, "perm")
        if case let .view(.grouped(g), x, s)? = values[n.input[0]] {
            guard perm == [0, 2, 1, 3, 4] else {
                throw ModelIOError(.unsupported, file: file, location: loc, "perm \(perm ?? []) of channel groups; [0, 2, 1, 3, 4] (channel shuffle) is modelled")
            }
            values[n.output[0]] = .view(.shuffled(g), x, s)
            return
        }
        let (x, s) = try activation(n, loc)
        let identity = Array(0...s.count)
        if perm == nil && s.count == 1 || perm == identity {
            values[n.output[0]] = values[n.input[0]]
        } else if perm == [0, 2, 3, 1], let flat = foldableChannelsLastFlatten(n, shape: s) {
            // Read only through a flatten by dense layers: the order goes into their weights.
            values[n.output[0]] = values[n.input[0]]
            channelsLastFlat[flat] = s
        } else if let perm, perm.first == 0, perm.sorted() == identity {
            var ls = LayerSpec(name: layerName(n), type: "permute"); ls.dims = perm.dropFirst().map { $0 - 1 }
            try addLayer(ls, node: n, inputs: [x], output: n.output[0])
            note("permute", "Transpose keeping the batch axis → Permute over the sample axes (tf2onnx's channels-last flatten: Permute [1, 2, 0] + Flatten)")
        } else {
            throw ModelIOError(.unsupported, file: file, location: loc,
                               "Transpose with perm \(perm.map { "\($0)" } ?? "reversed") of a \(s) activation; transposes that keep the batch axis first and the channel shuffle are modelled")
        }
    }

    /// The Reshapes of the view patterns; false when `n` is an ordinary Reshape.
    func reshapeView(_ n: Onnx_NodeProto, loc: String) throws -> Bool {
        // The first entry is the batch (NaN when folded from Shape), the rest integers.
        guard n.input.count > 1, case let .const(t)? = values[n.input[1]], t.count >= 1,
              let rest = ONNXTensor(shape: [t.count - 1], values: Array(t.values.dropFirst())).ints else { return false }
        let target = t.values
        switch values[n.input[0]] {
        case let .view(.shuffled(g), x, s)?:
            guard rest == s || rest == [-1] + s.dropFirst() || rest == [s[0], -1, s[2]] || rest == [s[0], s[1], -1] else {
                throw ModelIOError(.unsupported, file: file, location: loc, "shuffled channel groups reshaped to \(target); [N, \(s[0]), \(s[1]), \(s[2])] is modelled")
            }
            var ls = LayerSpec(name: layerName(n), type: "channel_shuffle"); ls.groups = g
            try addLayer(ls, node: n, inputs: [x], output: n.output[0])
            note("shuffle", "Reshape → Transpose(0, 2, 1, 3, 4) → Reshape (channel shuffle) → ChannelShuffle")
            return true
        case let .act(x, s)? where s.count == 3 && rest.count == 4:
            // [N, g, C/g, H, W]: the first step of a channel shuffle.
            let first = t.values[0]
            guard first.isNaN || first == 0 || first == -1 || first == 1 else { return false }
            var r = rest
            for (i, d) in r.enumerated() where d == 0 { r[i] = i < s.count ? s[i] : d }
            if let i = r.firstIndex(of: -1) { r[i] = s.reduce(1, *) / max(r.filter { $0 != -1 }.reduce(1, *), 1) }
            guard r[0] > 0, r[0] * r[1] == s[0], r[2] == s[1], r[3] == s[2] else { return false }
            values[n.output[0]] = .view(.grouped(r[0]), x, s)
            return true
        default:
            return false
        }
    }

    /// Unsqueeze/Squeeze of an activation: the per-sample shape changes, the data does not, so
    /// it is a Reshape (Flatten when the result is `[features]`), or nothing when the shape stays.
    func squeeze(_ n: Onnx_NodeProto, loc: String) throws {
        let (x, s) = try activation(n, loc)
        var axes: [Int]
        if n.input.count > 1, !n.input[1].isEmpty {
            guard case let .const(t)? = values[n.input[1]], let v = t.ints else {
                throw ModelIOError(.unsupported, file: file, location: loc, "axes must be a constant")
            }
            axes = v
        } else {
            axes = try attrInts(n, "axes") ?? []
        }
        var shape = s
        if n.opType == "Unsqueeze" {
            let r = s.count + 1 + axes.count
            for a in axes.map({ $0 < 0 ? $0 + r : $0 }).sorted() {
                guard a >= 1, a <= shape.count + 1 else {
                    throw ModelIOError(.unsupported, file: file, location: loc, "axis \(a) of a [N] + \(s) activation; the batch axis stays first")
                }
                shape.insert(1, at: a - 1)
            }
        } else {
            let r = s.count + 1
            let drop = Set(axes.map { $0 < 0 ? $0 + r : $0 })
            guard !drop.contains(0) else {
                throw ModelIOError(.unsupported, file: file, location: loc, "axes \(axes) squeeze the batch axis (0), which stays free")
            }
            guard drop.allSatisfy({ $0 >= 1 && $0 < r && s[$0 - 1] == 1 }) else {
                throw ModelIOError(.unsupported, file: file, location: loc, "axes \(axes) of a [N] + \(s) activation; only per-sample axes of size 1 are squeezed")
            }
            shape = s.enumerated().filter { axes.isEmpty ? $0.element != 1 : !drop.contains($0.offset + 1) }.map(\.element)
        }
        if shape == s { values[n.output[0]] = values[n.input[0]]; return }
        note("squeeze", "Squeeze/Unsqueeze of an activation → Reshape (Flatten to [features]): the data is unchanged")
        if shape.count == 1 {
            try addLayer(LayerSpec(name: layerName(n), type: "flatten"), node: n, inputs: [x], output: n.output[0])
        } else {
            var ls = LayerSpec(name: layerName(n), type: "reshape"); ls.shape = shape
            try addLayer(ls, node: n, inputs: [x], output: n.output[0])
        }
    }

    /// ReduceMean over H and W: keepdims 1 → average pool to 1×1 (`[C, 1, 1]`), keepdims 0 →
    /// global average pool (`[C]`).
    func reduceMean(_ n: Onnx_NodeProto, loc: String) throws {
        let (x, s) = try activation(n, loc)
        var axes = try attrInts(n, "axes")
        if n.input.count > 1, !n.input[1].isEmpty {
            guard case let .const(t)? = values[n.input[1]], let v = t.ints else {
                throw ModelIOError(.unsupported, file: file, location: loc, "axes must be a constant")
            }
            axes = v
        }
        let keep = try attrInt(n, "keepdims", default: 1) == 1
        let normalised = Set((axes ?? []).map { $0 < 0 ? $0 + s.count + 1 : $0 })
        guard s.count == 3, normalised == [2, 3] else {
            throw ModelIOError(.unsupported, file: file, location: loc, "ReduceMean over axes \(axes ?? []) of [N] + \(s); only H and W (2, 3) of [N, C, H, W] are modelled")
        }
        note("reducemean", "ReduceMean over H, W → global average pool (keepdims 1 keeps [C, 1, 1])")
        if keep {
            var ls = LayerSpec(name: layerName(n), type: "adaptive_avgpool2d"); ls.outputSize = [1, 1]
            try addLayer(ls, node: n, inputs: [x], output: n.output[0])
        } else {
            try addLayer(LayerSpec(name: layerName(n), type: "global_avgpool"), node: n, inputs: [x], output: n.output[0])
        }
    }

    /// Split along channels → one ChannelSlice per output.
    func split(_ n: Onnx_NodeProto, loc: String) throws {
        let (x, s) = try activation(n, loc)
        let axis = try attrInt(n, "axis", default: 0)
        guard axis == 1 || axis == -(s.count + 1) + 1 else {
            throw ModelIOError(.unsupported, file: file, location: loc, "Split on axis \(axis); only the channel axis (1) is modelled")
        }
        var sizes: [Int]
        if n.input.count > 1, !n.input[1].isEmpty {
            guard case let .const(t)? = values[n.input[1]], let v = t.ints else {
                throw ModelIOError(.unsupported, file: file, location: loc, "split sizes must be a constant")
            }
            sizes = v
        } else if let v = try attrInts(n, "split") {
            sizes = v
        } else {
            let k = n.output.count
            let each = (s[0] + k - 1) / k
            sizes = (0..<k).map { min(each, max(s[0] - $0 * each, 0)) }
        }
        guard sizes.count == n.output.count, sizes.allSatisfy({ $0 > 0 }), sizes.reduce(0, +) == s[0] else {
            throw ModelIOError(.unsupported, file: file, location: loc, "split sizes \(sizes) do not divide \(s[0]) channels into \(n.output.count) outputs")
        }
        var start = 0
        for (o, size) in zip(n.output, sizes) {
            if !o.isEmpty {
                var ls = LayerSpec(name: layerName(n), type: "slice"); ls.start = start; ls.end = start + size
                try addLayer(ls, node: n, inputs: [x], output: o)
            }
            start += size
        }
    }
}

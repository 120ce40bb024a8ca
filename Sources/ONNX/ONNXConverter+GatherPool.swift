import Foundation
import ModelIO

/// The adaptive average pool as torch.export (`torch.onnx.export(dynamo=True)`) writes it when
/// every pooling window along an axis has the same length K (torchvision VGG's
/// `AdaptiveAvgPool2d((7, 7))` on a 1×1 map, where K = 1 and every pixel is repeated 7 × 7 times;
/// 8 → 7 with K = 2; 4 → 2 with K = 2):
///
///     Transpose(perm 2, 3, 0, 1)              [N, C, H, W] → [H, W, N, C]
///     GatherND(indices [Oh, Kh, Ow, Kw, 2])   → [Oh, Kh, Ow, Kw, N, C]    (each index an (h, w) pair)
///     Transpose(perm 4, 5, 0, 1, 2, 3)        → [N, C, Oh, Kh, Ow, Kw]
///     ReduceMean(axes 3, 5, keepdims 0)       → [N, C, Oh, Ow]
///
/// so `y[n, c, i, j]` is the mean of `x[n, c, h, w]` over the (h, w) pairs gathered for (i, j).
/// That is `AdaptiveAvgPool2D` to (Oh, Ow) exactly when, for every (i, j), those pairs are the
/// window rows(i) × cols(j) of docs/architecture-spec.md (`⌊i·H/Oh⌋ ..< ⌈(i+1)·H/Oh⌉`), each
/// once. The fusion below checks the structure (any order of the index axes, (h, w) or (w, h)
/// pairs, every intermediate read only inside the pattern) before the operator check, so
/// anything else leaves the GatherND to be refused as an unsupported operator; the conversion
/// then checks every index against the input's H and W and refuses a mismatch naming the
/// GatherND. (Windows of different lengths are written with Where/Gather/Div, which stay refused.)
extension ONNXConverter {
    struct GatherPool {
        /// The index tensor, `[..., 2]`.
        var indices: ONNXTensor
        /// The index axes that become the output's rows and columns.
        var rowAxis: Int, columnAxis: Int
        /// The pairs are (w, h) (the first Transpose was perm 3, 2, 0, 1).
        var swapped: Bool
        /// The ReduceMean, which names the layer.
        var reduce: Onnx_NodeProto
    }

    func fuseGatherPool(_ nodes: [Onnx_NodeProto]) throws -> [Onnx_NodeProto] {
        guard nodes.contains(where: { $0.opType == "GatherND" }) else { return nodes }
        var consumers: [String: [Int]] = [:], producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for name in n.input where !name.isEmpty { consumers[name, default: []].append(i) }
            for o in n.output where !o.isEmpty { producer[o] = i }
        }
        func constant(_ name: String) -> ONNXTensor? {
            if case let .const(t)? = values[name] { return t }
            if let p = producer[name], nodes[p].opType == "Constant" { return try? constantValue(nodes[p]) }
            return nil
        }
        /// The single node reading `name`, when there is exactly one.
        func soleReader(_ name: String, _ op: String) -> Int? {
            guard let r = consumers[name], r.count == 1, nodes[r[0]].opType == op, nodes[r[0]].output.count == 1 else { return nil }
            return r[0]
        }
        var removed = Set<Int>(), replacement: [Int: Onnx_NodeProto] = [:]
        for (gi, g) in nodes.enumerated() where g.opType == "GatherND" && g.input.count == 2 && g.output.count == 1 {
            guard let ti = producer[g.input[0]], nodes[ti].opType == "Transpose", nodes[ti].input.count == 1,
                  soleReader(g.input[0], "GatherND") == gi,
                  let perm1 = try? attrInts(nodes[ti], "perm"), perm1 == [2, 3, 0, 1] || perm1 == [3, 2, 0, 1],
                  (try? attrInt(g, "batch_dims", default: 0)) == 0,
                  let idx = constant(g.input[1]), idx.integer, idx.shape.count >= 3, idx.shape.last == 2,
                  let bi = soleReader(g.output[0], "Transpose"), let perm2 = try? attrInts(nodes[bi], "perm"),
                  let ri = soleReader(nodes[bi].output[0], "ReduceMean"), nodes[ri].input[0] == nodes[bi].output[0],
                  (try? attrInt(nodes[ri], "keepdims", default: 1)) == 0 else { continue }
            // GatherND gives [index axes (k of them), N, C]; the second Transpose must bring N, C first.
            let k = idx.shape.count - 1, rank = k + 2
            guard perm2.count == rank, perm2[0] == k, perm2[1] == k + 1, perm2.sorted() == Array(0..<rank) else { continue }
            var axes = (try? attrInts(nodes[ri], "axes")) ?? nil
            if nodes[ri].input.count > 1, !nodes[ri].input[1].isEmpty { axes = constant(nodes[ri].input[1])?.ints }
            guard let axes, !axes.isEmpty else { continue }
            let reduced = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
            let kept = (2..<rank).filter { !reduced.contains($0) }
            guard reduced.count == axes.count, reduced.allSatisfy({ $0 >= 2 && $0 < rank }), kept.count == 2 else { continue }
            var fused = g
            fused.input = [nodes[ti].input[0], g.input[1]]
            fused.output = [nodes[ri].output[0]]
            gatherPools[fused.output[0]] = GatherPool(indices: idx, rowAxis: perm2[kept[0]], columnAxis: perm2[kept[1]],
                                                      swapped: perm1[0] == 3, reduce: nodes[ri])
            removed.formUnion([ti, gi, bi, ri])
            replacement[ri] = fused
        }
        guard !removed.isEmpty else { return nodes }
        return nodes.enumerated().compactMap { i, n in replacement[i] ?? (removed.contains(i) ? nil : n) }
    }

    /// The fused GatherND → AdaptiveAvgPool2D, after checking that its indices are the pool's windows.
    func gatherPool(_ n: Onnx_NodeProto, loc: String) throws {
        guard let p = gatherPools[n.output[0]] else {
            throw ModelIOError(.unsupported, file: file, location: loc, "GatherND is read only as torch.export's adaptive average pool (Transpose → GatherND → Transpose → ReduceMean)")
        }
        guard case let .act(x, s)? = values[n.input[0]], s.count == 3 else {
            throw ModelIOError(.unsupported, file: file, location: loc, "the gathered tensor must be an [N, C, H, W] activation (transposed to [H, W, N, C])")
        }
        let (h, w) = (s[1], s[2])
        let dims = Array(p.indices.shape.dropLast())
        let (oh, ow) = (dims[p.rowAxis], dims[p.columnAxis])
        guard let raw = p.indices.ints, oh > 0, ow > 0 else {
            throw ModelIOError(.unsupported, file: file, location: loc, "indices \(p.indices.shape) must be integers with non-empty output axes")
        }
        // The flat positions h·W + w gathered for each output (i, j), in index order.
        var gathered = [[Int]](repeating: [], count: oh * ow)
        var strides = [Int](repeating: 1, count: dims.count)
        for a in stride(from: dims.count - 2, through: 0, by: -1) { strides[a] = strides[a + 1] * dims[a + 1] }
        for e in 0..<(raw.count / 2) {
            var (r, c) = (raw[2 * e], raw[2 * e + 1])
            if p.swapped { swap(&r, &c) }
            // GatherND allows negative indices from the end.
            if r < 0 { r += h }
            if c < 0 { c += w }
            guard r >= 0, r < h, c >= 0, c < w else {
                throw ModelIOError(.malformed, file: file, location: loc, "index (\(raw[2 * e]), \(raw[2 * e + 1])) is outside the \(h)×\(w) map")
            }
            let i = e / strides[p.rowAxis] % oh, j = e / strides[p.columnAxis] % ow
            gathered[i * ow + j].append(r * w + c)
        }
        for i in 0..<oh {
            for j in 0..<ow {
                let rows = AdaptiveWindow.range(i, oh, h), cols = AdaptiveWindow.range(j, ow, w)
                let want = rows.flatMap { r in cols.map { r * w + $0 } }
                guard gathered[i * ow + j].sorted() == want else {
                    let got = gathered[i * ow + j].prefix(8).map { "(\($0 / w), \($0 % w))" }.joined(separator: ", ")
                    throw ModelIOError(.unsupported, file: file, location: loc,
                                       "the indices gathered for output (\(i), \(j)) are \(got)\(gathered[i * ow + j].count > 8 ? ", …" : ""), not the window rows \(rows.lowerBound)..<\(rows.upperBound) × columns \(cols.lowerBound)..<\(cols.upperBound) of an adaptive average pool of the \(h)×\(w) map to \(oh)×\(ow); GatherND is read only as that pool (Transpose → GatherND → Transpose → ReduceMean)")
                }
            }
        }
        var ls = LayerSpec(name: layerName(p.reduce), type: "adaptive_avgpool2d"); ls.outputSize = [oh, ow]
        note("gather-pool", "Transpose → GatherND → Transpose → ReduceMean (torch.export's adaptive average pool, windows of equal length; every index checked against the pool's windows) → AdaptiveAvgPool2D")
        try addLayer(ls, node: n, inputs: [x], output: n.output[0])
    }
}

/// PyTorch's adaptive pooling window (docs/architecture-spec.md, `adaptive_avgpool2d`): output
/// index `i` of `out` averages input indices `⌊i·size/out⌋ ..< ⌈(i+1)·size/out⌉`.
enum AdaptiveWindow {
    static func range(_ i: Int, _ out: Int, _ size: Int) -> Range<Int> {
        (i * size / out)..<(((i + 1) * size + out - 1) / out)
    }
}

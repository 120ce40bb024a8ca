import Foundation
import ModelIO

/// `LayerNormalization` → the engine's `layernorm` (normalisation over the channels at every
/// position, docs/formats.md, "ONNX"):
/// - on `[N, F]` features with axis −1 (or 1): `nn.LayerNorm(F)`;
/// - on images only in the form our writer gives it and Keras' `LayerNormalization()` exports
///   to: `Transpose(0, 2, 3, 1)` → `LayerNormalization(axis −1)` → `Transpose(0, 3, 1, 2)`,
///   fused here to one node marked with the internal attribute `bss.channels` before conversion.
/// ONNX's LayerNormalization over several axes (axis 1 of `[N, C, H, W]`) is another operation
/// and is refused. Scale and bias must be constants of one value per channel.
extension ONNXConverter {
    static let channelsMark = "bss.channels"

    func fuseChannelLayerNorm(_ nodes: [Onnx_NodeProto]) throws -> [Onnx_NodeProto] {
        guard nodes.contains(where: { $0.opType == "LayerNormalization" }) else { return nodes }
        var consumers: [String: [Int]] = [:], producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for name in n.input where !name.isEmpty { consumers[name, default: []].append(i) }
            for o in n.output where !o.isEmpty { producer[o] = i }
        }
        var removed = Set<Int>(), replacement: [Int: Onnx_NodeProto] = [:]
        for (li, ln) in nodes.enumerated() where ln.opType == "LayerNormalization" && !ln.input.isEmpty {
            guard let ti = producer[ln.input[0]], nodes[ti].opType == "Transpose", (try? attrInts(nodes[ti], "perm")) == [0, 2, 3, 1],
                  consumers[ln.input[0]]?.count == 1, let axis = try? attrInt(ln, "axis", default: -1), axis == -1 || axis == 3,
                  ln.output.dropFirst().allSatisfy({ $0.isEmpty || consumers[$0] == nil }),
                  let back = consumers[ln.output[0]], back.count == 1, nodes[back[0]].opType == "Transpose",
                  (try? attrInts(nodes[back[0]], "perm")) == [0, 3, 1, 2] else { continue }
            var fused = ln
            fused.input[0] = nodes[ti].input[0]
            fused.output = [nodes[back[0]].output[0]]
            fused.attribute.removeAll { $0.name == "axis" }
            var mark = Onnx_AttributeProto(); mark.name = Self.channelsMark; mark.type = .int; mark.i = 1
            fused.attribute.append(mark)
            removed.formUnion([ti, li, back[0]])
            replacement[back[0]] = fused
            note("layernorm-nhwc", "Transpose to channels-last → LayerNormalization(axis −1) → Transpose back → LayerNorm over channels")
        }
        guard !removed.isEmpty else { return nodes }
        return nodes.enumerated().compactMap { i, n in replacement[i] ?? (removed.contains(i) ? nil : n) }
    }

    func layerNormalization(_ n: Onnx_NodeProto, loc: String) throws {
        guard case let .act(x, s)? = values[n.input[0]] else {
            throw ModelIOError(.unsupported, file: file, location: loc, "input 0 must be computed from the model input")
        }
        let fused = n.attribute.contains { $0.name == Self.channelsMark }
        let axis = try attrInt(n, "axis", default: -1)
        guard fused || (s.count == 1 && (axis == -1 || axis == 1)) else {
            throw ModelIOError(.unsupported, file: file, location: loc,
                               "LayerNormalization over axes \(axis)… of [N] + \(s); over the features of [N, F] (axis −1) and over channels (written as Transpose → LayerNormalization → Transpose) are modelled")
        }
        for (k, o) in n.output.enumerated() where k > 0 && !o.isEmpty && readers[o, default: 0] > 0 {
            throw ModelIOError(.unsupported, file: file, location: loc, "output \(k) (mean or inverse deviation) is used; only the normalised output is modelled")
        }
        let c = s[0]
        func param(_ i: Int, _ what: String, default d: Float) throws -> [Float] {
            guard i < n.input.count, !n.input[i].isEmpty else { return [Float](repeating: d, count: c) }
            guard case let .const(t)? = values[n.input[i]], t.count == c else {
                throw ModelIOError(.unsupported, file: file, location: loc, "\(what) must be a constant of \(c) values")
            }
            return t.floats
        }
        let scale = try param(1, "scale", default: 1), bias = try param(2, "bias", default: 0)
        var ls = LayerSpec(name: layerName(n, weight: n.input.count > 1 ? n.input[1] : nil), type: "layernorm")
        ls.channels = c; ls.eps = attrFloat(n, "epsilon", default: 1e-5)
        let (name, _) = try addLayer(ls, node: n, inputs: [x], output: n.output[0])
        addWeight(name, "weight", scale, shape: [c])
        addWeight(name, "bias", bias, shape: [c])
    }
}

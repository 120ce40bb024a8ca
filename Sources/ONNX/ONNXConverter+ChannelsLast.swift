import Foundation
import ModelIO

/// The channels-last entry of tf2onnx's Keras models (docs/formats.md, "ONNX"): the NHWC input
/// reaches the first NCHW operator through a `Transpose (0, 3, 1, 2)`, possibly after a chain of
/// elementwise `Mul`/`Add`/`Sub`/`Div` by scalars or per-channel constants (Keras `Rescaling` and
/// `Normalization` layers, e.g. EfficientNet's preprocessing, which tf2onnx leaves before the
/// Transpose). The engine takes the transposed tensor as its input (data layout NHWC); the chain
/// is applied after it, each constant `[..., C]` (broadcast over the channels-last axis) becoming
/// `[C, 1, 1]`, which is the same arithmetic on the same values.
extension ONNXConverter {
    struct ChannelsLastEntry {
        /// The graph's nodes with the entry rewritten: chain nodes read NCHW-shaped constants,
        /// the Transpose is an `Identity`.
        var nodes: [Onnx_NodeProto]
        /// How many elementwise nodes stood between the input and the Transpose.
        var chain: Int
    }

    /// The entry starting at the graph input `input`, or nil when the input is not read that way.
    /// Each node on the way must be the sole reader of the previous tensor.
    func channelsLastEntry(_ nodes: [Onnx_NodeProto], input: String) throws -> ChannelsLastEntry? {
        var readers: [String: [Int]] = [:]
        for (i, n) in nodes.enumerated() { for name in Set(n.input) where !name.isEmpty { readers[name, default: []].append(i) } }
        var current = input
        var chain: [(node: Int, constInput: Int, constant: ONNXTensor)] = []
        while let r = readers[current], r.count == 1, chain.count < 16 {
            let n = nodes[r[0]]
            if n.opType == "Transpose" {
                guard (try? attrInts(n, "perm")) == [0, 3, 1, 2] else { return nil }
                return rewrite(nodes, chain: chain, transpose: r[0])
            }
            guard ["Mul", "Add", "Sub", "Div"].contains(n.opType), n.input.count == 2, n.output.count == 1 else { return nil }
            let k = n.input[0] == current ? 1 : 0
            guard n.input[1 - k] == current, case let .const(c)? = values[n.input[k]], Self.channelsLastBroadcast(c.shape) else { return nil }
            chain.append((r[0], k, c))
            current = n.output[0]
        }
        return nil
    }

    /// A constant that broadcasts against `[N, H, W, C]` one value per channel or one in all:
    /// every dimension 1 except perhaps the last, rank at most 4.
    static func channelsLastBroadcast(_ shape: [Int]) -> Bool {
        shape.count <= 4 && shape.dropLast().allSatisfy { $0 == 1 }
    }

    private func rewrite(_ nodes: [Onnx_NodeProto], chain: [(node: Int, constInput: Int, constant: ONNXTensor)], transpose: Int) -> ChannelsLastEntry {
        var out = nodes
        for (i, link) in chain.enumerated() {
            let c = link.constant
            // [.., C] → [C, 1, 1]; a single value stays a scalar.
            let nchw = c.count == 1 ? ONNXTensor(shape: [], values: c.values) : ONNXTensor(shape: [c.count, 1, 1], values: c.values)
            let name = "\(nodes[link.node].input[link.constInput])#nchw\(i)"
            values[name] = .const(nchw)
            out[link.node].input[link.constInput] = name
        }
        out[transpose].opType = "Identity"
        out[transpose].attribute = []
        return ChannelsLastEntry(nodes: out, chain: chain.count)
    }
}

import Foundation
import ModelIO

/// tf2onnx's channels-last flatten before a dense layer, folded into the dense weights
/// (docs/formats.md, "ONNX"; the same rule as Keras' Dense after Flatten, docs/design.md,
/// "Layout conversions"):
///
///     Transpose(perm 0, 2, 3, 1) → Flatten (axis 1) or Reshape [batch, −1] → Gemm / MatMul (+ Add)
///
/// flattens `[C, H, W]` in (h, w, c) order, so the dense weight's input columns are in that
/// order. When every reader of the flattened features is a Gemm or MatMul taking them as its
/// first input, the Transpose is dropped: the engine flattens in (c, h, w) order and each
/// weight's columns are permuted to match,
///
///     columns[(h·W + w)·C + c] = (c·H + h)·W + w        ours[o, columns[k]] = theirs[o, k]
///
/// which is the same sum of the same products (in another order). Otherwise (another reader, the
/// features being the graph's output, a Reshape whose target is not a constant `[batch, −1]`)
/// the Transpose stays a `permute` layer.
extension ONNXConverter {
    /// The output of the Flatten/Reshape reading the Transpose `n` of a `[C, H, W]` activation,
    /// when the permutation can be folded into the Linears reading it; nil otherwise.
    func foldableChannelsLastFlatten(_ n: Onnx_NodeProto, shape s: [Int]) -> String? {
        guard s.count == 3, n.output.count == 1, n.output[0] != graphOutput,
              let r = consumers[n.output[0]], r.count == 1, r[0].input.first == n.output[0], r[0].output.count == 1 else { return nil }
        let f = r[0], flat = f.output[0]
        switch f.opType {
        case "Flatten":
            guard (try? attrInt(f, "axis", default: 1)) == 1 else { return nil }
        case "Reshape":
            // [batch, −1] or [batch, C·H·W], the batch as 0, −1 or folded from Shape (NaN).
            guard f.input.count == 2, case let .const(t)? = values[f.input[1]], t.count == 2 else { return nil }
            let first = t.values[0], second = t.values[1], count = Double(s.reduce(1, *))
            guard first.isNaN || first == 0 || first == -1, second == count || (second == -1 && first != -1) else { return nil }
        default:
            return nil
        }
        guard flat != graphOutput, let dense = consumers[flat], !dense.isEmpty,
              dense.allSatisfy({ ($0.opType == "Gemm" || $0.opType == "MatMul") && $0.input.first == flat && !$0.input.dropFirst().contains(flat) })
        else { return nil }
        return flat
    }

    /// The Linear weight `[out, in]` with its columns taken from (h, w, c) to (c, h, w) order
    /// when `input` is a folded channels-last flatten; unchanged otherwise.
    func channelsLastColumns(_ weight: [Float], input: String, outFeatures: Int) -> [Float] {
        guard let s = channelsLastFlat[input] else { return weight }
        let (c, h, w) = (s[0], s[1], s[2]), inF = c * h * w
        precondition(weight.count == outFeatures * inF, "the Linear reads the \(s) flatten")
        var out = [Float](repeating: 0, count: weight.count)
        for o in 0..<outFeatures {
            for y in 0..<h { for x in 0..<w { for ch in 0..<c {
                out[o * inF + (ch * h + y) * w + x] = weight[o * inF + (y * w + x) * c + ch]
            } } }
        }
        note("nhwc-flatten", "channels-last flatten (Transpose(0, 2, 3, 1) → Flatten) read only by Gemm/MatMul → Flatten in (c, h, w) order, the Linear weight columns permuted from (h, w, c) (no Permute layer)")
        return out
    }
}

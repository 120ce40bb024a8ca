import Foundation
import ModelIO

/// The Erf-based GELU pattern exporters write for `GELU()` before opset 20, fused to one
/// `Gelu` node (then the engine's `gelu` layer, approximate "none"):
///
///     d = Div(x, √2) or Mul(x, 1/√2);  e = Erf(d);  a = Add(e, 1);
///     y = Mul(Mul(x, a), 0.5)  or  Mul(Mul(x, 0.5), a)
///
/// The constants are checked (within 1e-6 relative) and every intermediate must be read only
/// by the next node of the pattern; otherwise the nodes stay as they are (and Erf is refused).
extension ONNXConverter {
    func fuseGelu(_ nodes: [Onnx_NodeProto]) throws -> [Onnx_NodeProto] {
        guard nodes.contains(where: { $0.opType == "Erf" }) else { return nodes }
        var consumers: [String: [Int]] = [:]
        var producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for name in n.input where !name.isEmpty { consumers[name, default: []].append(i) }
            for o in n.output where !o.isEmpty { producer[o] = i }
        }
        // A scalar constant input: an initializer or a Constant node's value.
        func scalar(_ name: String) -> Double? {
            if case let .const(t)? = values[name], t.count == 1 { return t.values[0] }
            if let p = producer[name], nodes[p].opType == "Constant", let t = try? constantValue(nodes[p]), t.count == 1 { return t.values[0] }
            return nil
        }
        func near(_ v: Double?, _ want: Double) -> Bool { v.map { abs($0 - want) <= 1e-6 * abs(want) } ?? false }
        /// The one node reading `name`, if exactly one does.
        func only(_ name: String) -> Int? { consumers[name].flatMap { $0.count == 1 ? $0[0] : nil } }
        /// For a binary node: the other input when one input is `name`.
        func other(_ n: Onnx_NodeProto, _ name: String) -> String? {
            guard n.input.count == 2 else { return nil }
            return n.input[0] == name ? n.input[1] : n.input[1] == name ? n.input[0] : nil
        }

        var removed = Set<Int>(), replacement: [Int: Onnx_NodeProto] = [:]
        for (ei, e) in nodes.enumerated() where e.opType == "Erf" && e.input.count == 1 {
            guard let di = producer[e.input[0]], only(e.input[0]) == ei else { continue }
            let d = nodes[di]
            guard d.input.count == 2, (d.opType == "Div" && near(scalar(d.input[1]), 2.0.squareRoot()))
                    || (d.opType == "Mul" && (near(scalar(d.input[1]), 0.5.squareRoot()) || near(scalar(d.input[0]), 0.5.squareRoot()))) else { continue }
            let x = d.opType == "Mul" && scalar(d.input[1]) == nil ? d.input[1] : d.input[0]
            guard let ai = only(e.output[0]), nodes[ai].opType == "Add",
                  let one = other(nodes[ai], e.output[0]), near(scalar(one), 1),
                  let mi = only(nodes[ai].output[0]), nodes[mi].opType == "Mul", let m = Optional(nodes[mi]) else { continue }
            var pattern = [di, ei, ai, mi]
            let output: String
            if other(m, nodes[ai].output[0]) == x, let hi = only(m.output[0]), nodes[hi].opType == "Mul",
               let half = other(nodes[hi], m.output[0]), near(scalar(half), 0.5) {
                pattern.append(hi); output = nodes[hi].output[0]          // (x · a) · 0.5
            } else if let h = other(m, nodes[ai].output[0]), let hi = producer[h], only(h) == mi, nodes[hi].opType == "Mul",
                      let half = other(nodes[hi], x), near(scalar(half), 0.5) {
                pattern.append(hi); output = m.output[0]                  // (x · 0.5) · a
            } else { continue }
            var g = Onnx_NodeProto()
            g.opType = "Gelu"; g.name = e.name.isEmpty ? output : e.name
            g.input = [x]; g.output = [output]
            removed.formUnion(pattern)
            replacement[pattern.max()!] = g
            note("gelu", "the Erf pattern x · ½ (1 + erf(x/√2)) → GELU (approximate none)")
        }
        guard !removed.isEmpty else { return nodes }
        return nodes.enumerated().compactMap { i, n in replacement[i] ?? (removed.contains(i) ? nil : n) }
    }
}

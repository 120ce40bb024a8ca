import Foundation
import ModelIO

/// The tanh-form GELU written out as arithmetic, fused to one `Gelu` node (approximate "tanh",
/// then the engine's `gelu` layer):
///
///     y = 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))
///
/// in any grouping and operand order of the products, with x³ as `Pow(x, 3)`, `x · x · x` or
/// `x · (x · x)`. This covers what torch.onnx writes for `GELU(approximate="tanh")` below
/// opset 20 and what our own writer writes (ONNXWriter+Layers.swift). Constants are checked
/// within 1e-6 relative; every intermediate must be read only inside the pattern, otherwise
/// the nodes stay as they are (and are refused or mapped one by one).
extension ONNXConverter {
    func fuseGeluTanh(_ nodes: [Onnx_NodeProto]) throws -> [Onnx_NodeProto] {
        guard nodes.contains(where: { $0.opType == "Tanh" }) else { return nodes }
        var consumers: [String: [Int]] = [:], producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for name in n.input where !name.isEmpty { consumers[name, default: []].append(i) }
            for o in n.output where !o.isEmpty { producer[o] = i }
        }
        func scalar(_ name: String) -> Double? {
            if case let .const(t)? = values[name], t.count == 1 { return t.values[0] }
            if let p = producer[name], nodes[p].opType == "Constant", let t = try? constantValue(nodes[p]), t.count == 1 { return t.values[0] }
            return nil
        }
        func near(_ v: Double, _ want: Double) -> Bool { abs(v - want) <= 1e-6 * abs(want) }
        func single(_ name: String) -> Bool { consumers[name]?.count == 1 }

        /// A product flattened through single-reader Mul (and Pow by 3) nodes: the constant
        /// factor, the other factors (tensor names, sorted) and the nodes expanded.
        struct Product { var constant = 1.0; var factors: [String] = []; var nodes: [Int] = [] }
        func flatten(_ name: String, stopAt leaves: Set<String>, into p: inout Product) {
            if let c = scalar(name) { p.constant *= c; return }
            if !leaves.contains(name), single(name), let i = producer[name] {
                let n = nodes[i]
                if n.opType == "Mul", n.input.count == 2 {
                    p.nodes.append(i)
                    for input in n.input { flatten(input, stopAt: leaves, into: &p) }
                    return
                }
                if n.opType == "Pow", n.input.count == 2, let e = scalar(n.input[1]), e == 3 {
                    p.nodes.append(i)
                    p.factors += Array(repeating: n.input[0], count: 3)
                    return
                }
            }
            p.factors.append(name)
        }
        func product(of i: Int, leaves: Set<String>) -> Product {
            var p = Product(nodes: [i])
            for input in nodes[i].input { flatten(input, stopAt: leaves, into: &p) }
            p.factors.sort()
            return p
        }

        var removed = Set<Int>(), replacement: [Int: Onnx_NodeProto] = [:]
        for (ti, t) in nodes.enumerated() where t.opType == "Tanh" && t.input.count == 1 && !removed.contains(ti) {
            // √(2/π) · sum
            guard single(t.input[0]), let ai = producer[t.input[0]], nodes[ai].opType == "Mul" else { continue }
            let arg = product(of: ai, leaves: [])
            guard near(arg.constant, (2 / Double.pi).squareRoot()), arg.factors.count == 1,
                  single(arg.factors[0]), let si = producer[arg.factors[0]], nodes[si].opType == "Add", nodes[si].input.count == 2 else { continue }
            // sum = x + 0.044715 · x³
            var found: (x: String, inner: Product)?
            for k in 0..<2 {
                let x = nodes[si].input[k], other = nodes[si].input[1 - k]
                guard single(other), let ci = producer[other], nodes[ci].opType == "Mul" || nodes[ci].opType == "Pow" else { continue }
                var p = Product()
                flatten(other, stopAt: [x], into: &p)
                if near(p.constant, 0.044715), p.factors == [x, x, x] { found = (x, p); break }
            }
            guard let (x, inner) = found else { continue }
            // one = tanh + 1
            guard single(t.output[0]), let oi = consumers[t.output[0]]?.first, nodes[oi].opType == "Add", nodes[oi].input.count == 2,
                  let c = scalar(nodes[oi].input[0] == t.output[0] ? nodes[oi].input[1] : nodes[oi].input[0]), near(c, 1) else { continue }
            let one = nodes[oi].output[0]
            // y = 0.5 · x · one: the Mul chain above `one`, at most three products up.
            var top: (Int, Product)?
            var cur = one
            for _ in 0..<3 {
                guard single(cur), let mi = consumers[cur]?.first, nodes[mi].opType == "Mul" else { break }
                let p = product(of: mi, leaves: [x, one])
                if near(p.constant, 0.5), p.factors == [one, x].sorted() { top = (mi, p); break }
                cur = nodes[mi].output[0]
            }
            guard let (mi, out) = top else { continue }
            let pattern = Set([ai, si, ti, oi] + arg.nodes + inner.nodes + out.nodes)
            // Every intermediate is read only inside the pattern.
            let inside = pattern.filter { $0 != mi }.allSatisfy { i in
                nodes[i].output.allSatisfy { o in (consumers[o] ?? []).allSatisfy { pattern.contains($0) } }
            }
            guard inside, pattern.isDisjoint(with: removed) else { continue }
            var g = Onnx_NodeProto()
            g.opType = "Gelu"; g.name = t.name.isEmpty ? nodes[mi].output[0] : t.name
            g.input = [x]; g.output = [nodes[mi].output[0]]
            var a = Onnx_AttributeProto(); a.name = "approximate"; a.type = .string; a.s = Data("tanh".utf8)
            g.attribute = [a]
            removed.formUnion(pattern)
            replacement[pattern.max()!] = g
            note("gelu-tanh", "the tanh pattern 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))) → GELU (approximate tanh)")
        }
        guard !removed.isEmpty else { return nodes }
        return nodes.enumerated().compactMap { i, n in replacement[i] ?? (removed.contains(i) ? nil : n) }
    }
}

import NN

/// Where Keras' channels-last flatten order lives in our graph (docs/design.md, "Layout conversions").
///
/// Keras flattens an image `(H, W, C)` in (h, w, c) order; the engine flattens `[C, H, W]` in
/// (c, h, w) order. A Dense kernel after such a flatten has its `[in, out]` rows in Keras'
/// order, so on import its columns are permuted into ours, and on export back:
///
///     columns[(h·W + w)·C + c] = c·H·W + h·W + w        our weight[o, columns[k]] = kernel[k, o]
///
/// The rule is read off the graph, so every Keras reader and writer agrees on it: a Linear
/// fed, through nodes that keep each feature in place (`keepsFeatureOrder`), by a Flatten of
/// an NCHW image `[C, H, W]` (C > 1 and H·W > 1, not produced by a `Permute`) holds a Keras
/// kernel in permuted form. Where Keras' flattened features reach anything else, the importer
/// builds `Permute([1, 2, 0])` + Flatten instead, whose output already is in Keras' order.
package enum KerasFlattenOrder {
    /// Engine layers that act on each feature alone, so a feature order passes through them.
    static func keepsFeatureOrder(_ layer: Layer) -> Bool {
        layer is ReLU || layer is Sigmoid || layer is Tanh || layer is Identity || layer is Dropout || layer is PointwiseActivation
    }

    /// Whether flattening `[C, H, W]` gives different orders in Keras and here.
    static func reorders(_ s: [Int]) -> Bool { s.count == 3 && s[0] > 1 && s[1] * s[2] > 1 }

    /// Keras' flatten index → ours, for `[C, H, W]` samples.
    static func columns(_ s: [Int]) -> [Int] {
        let (c, h, w) = (s[0], s[1], s[2])
        var columns = [Int](repeating: 0, count: c * h * w)
        for y in 0..<h { for x in 0..<w { for ch in 0..<c { columns[(y * w + x) * c + ch] = (ch * h + y) * w + x } } }
        return columns
    }

    /// The Flatten node whose Keras-order features the Linear node `index` reads, if any.
    static func flatten(feeding index: Int, in graph: Graph) -> Int? {
        guard graph.nodes[index].layer is Linear, graph.nodes[index].inputs.count == 1,
              case var .node(j) = graph.nodes[index].inputs[0] else { return nil }
        while keepsFeatureOrder(graph.nodes[j].layer) {
            guard graph.nodes[j].inputs.count == 1, case let .node(k) = graph.nodes[j].inputs[0] else { return nil }
            j = k
        }
        let node = graph.nodes[j]
        guard node.layer is Flatten, node.inputs.count == 1 else { return nil }
        switch node.inputs[0] {
        case .input: return reorders(graph.inputShape) ? j : nil
        case let .node(k): return reorders(graph.nodes[k].outputShape) && !(graph.nodes[k].layer is Permute) ? j : nil
        }
    }

    /// The column map (`columns`) for the Linear node `index`, or nil when its kernel needs none.
    package static func columns(forLinear index: Int, in graph: Graph) -> [Int]? {
        guard let f = flatten(feeding: index, in: graph) else { return nil }
        switch graph.nodes[f].inputs[0] {
        case .input: return columns(graph.inputShape)
        case let .node(k): return columns(graph.nodes[k].outputShape)
        }
    }

    /// `columns(forLinear:)` by node name.
    static func columns(forNode name: String, in graph: Graph) -> [Int]? {
        graph.index(of: name).flatMap { columns(forLinear: $0, in: graph) }
    }
}

import Foundation
import NN

/// The human-readable lines `inspect` prints for a Keras import (`Model.conversions`).
enum KerasConversions {
    static func describe(_ built: KerasBuiltModel) -> [String] {
        var lines: [String] = []
        let input = built.graph.inputShape
        if input.count == 3 {
            lines.append("input \(KerasLayerTranslator.kerasShape(input)) channels-last → engine \(input) (NCHW); data for this model is read as NHWC by default and converted once")
        } else {
            lines.append("input \(KerasLayerTranslator.kerasShape(input)) → engine \(input)")
        }
        var convs = 0, denses = 0
        var same: [String] = [], bnEps: [(String, String)] = [], bnMomentum = Set<String>(), constants: [String] = []
        var folded: [String] = [], flattens: [String] = [], reshapes: [String] = [], activations: [String] = [], nested: [String] = []
        var denseConvs: [String] = [], normConstants: [String] = [], hardSigmoids: [String] = []
        var depthwise: [String] = [], separable: [String] = [], constantOps: [String] = []
        for n in built.notes {
            switch n {
            case .convKernel: convs += 1
            case .denseKernel: denses += 1
            case let .samePadding(node, p): same.append("\(node) \(p)")
            case let .batchNorm(node, eps, m): bnEps.append((eps, node)); bnMomentum.insert(m)
            case let .batchNormConstant(node, what): constants.append("\(node): \(what)")
            case let .flattenIntoDense(node): folded.append(node)
            case let .channelsLastFlatten(node): flattens.append(node)
            case let .channelsLastReshape(node): reshapes.append(node)
            case let .activationNode(node): activations.append(node)
            case let .nestedModel(node, cls): nested.append("\(cls) '\(node)' → nodes \(node)/…")
            case let .denseAsConv(node): denseConvs.append(node)
            case let .normalizationConstants(node): normConstants.append(node)
            case let .depthwiseKernel(node): depthwise.append(node)
            case let .separable(node): separable.append(node)
            case let .constantOperation(node): constantOps.append(node)
            case let .hardSigmoid(node, formula):
                hardSigmoids.append("\(node) → \(formula == "hardsigmoid_keras2" ? "clip(0.2 x + 0.5, 0, 1) (tf.keras 2)" : "relu6(x + 3)/6 (Keras 3)")")
            }
        }
        if convs > 0 { lines.append("Conv2D kernels HWIO → OIHW (\(plural(convs, "layer")))") }
        if denses > 0 { lines.append("Dense kernels [in, out] → [out, in] (\(plural(denses, "layer")))") }
        if !same.isEmpty {
            lines.append("padding='same' made explicit per side as TensorFlow pads (extra row/column at the bottom/right): " + same.joined(separator: ", "))
        }
        if !bnEps.isEmpty {
            var groups: [(String, [String])] = []
            for (eps, node) in bnEps {
                if let i = groups.firstIndex(where: { $0.0 == eps }) { groups[i].1.append(node) } else { groups.append((eps, [node])) }
            }
            let epsText = groups.map { "\($0.0): \($0.1.joined(separator: ", "))" }.joined(separator: "; ")
            let momentumText = bnMomentum.sorted().map { m -> String in
                let torch = Double(m).map { 1 - $0 }.map { String(format: "%g", $0) } ?? "?"
                return "\(m) → \(torch)"
            }.joined(separator: ", ")
            lines.append("BatchNormalization gamma/beta/moving_mean/moving_variance → weight/bias/running_mean/running_var; epsilon kept (\(epsText)); momentum \(momentumText) (PyTorch convention: 1 − Keras momentum)")
        }
        lines += constants.map { "BatchNormalization \($0)" }
        if !folded.isEmpty {
            let graph = built.graph
            let pairs = graph.nodes.indices.compactMap { i -> String? in
                KerasFlattenOrder.flatten(feeding: i, in: graph).map { "\(graph.nodes[$0].name) → \(graph.nodes[i].name)" }
            }
            lines.append("Keras flattens (h, w, c), the engine (c, h, w): plain Flatten, and the Dense kernels it feeds have their rows permuted from Keras' (h, w, c) to (c, h, w) order (exact; put back on export): " + pairs.joined(separator: ", "))
        }
        if !flattens.isEmpty {
            lines.append("flattened features read by layers other than Dense keep Keras' (h, w, c) order: Permute [1, 2, 0] (node '<layer>/nhwc') + Flatten: " + flattens.joined(separator: ", "))
        }
        if !reshapes.isEmpty {
            lines.append("Reshape to (h, w, c) reorders elements as Keras does on channels-last data: Permute to (h, w, c) '<layer>/nhwc' (images), Reshape, Permute back '<layer>/nchw': " + reshapes.joined(separator: ", "))
        }
        if !denseConvs.isEmpty {
            lines.append("Dense on an image acts on each position's channels: a 1x1 Conv2D, kernel [in, out] → [out, in, 1, 1]: " + denseConvs.joined(separator: ", "))
        }
        if !normConstants.isEmpty {
            lines.append("Normalization with mean/variance in its config → Rescaling by 1/max(√variance, 1e-7) and −mean/max(√variance, 1e-7): " + normConstants.joined(separator: ", "))
        }
        if !depthwise.isEmpty {
            lines.append("DepthwiseConv2D → Conv2D with groups = input channels, depthwise_kernel [kh, kw, c, m] → [c·m, 1, kh, kw]: " + depthwise.joined(separator: ", "))
        }
        if !separable.isEmpty {
            lines.append("SeparableConv2D → a depthwise Conv2D '<layer>/depthwise' (no bias) then a 1x1 Conv2D '<layer>' with the bias; pointwise_kernel [1, 1, in, out] → OIHW: " + separable.joined(separator: ", "))
        }
        if !constantOps.isEmpty {
            lines.append("arithmetic with a number (Keras 3 operations such as x + 3.0) → Rescaling: " + constantOps.joined(separator: ", "))
        }
        if !hardSigmoids.isEmpty {
            lines.append("hard_sigmoid by the file's keras_version: " + hardSigmoids.joined(separator: ", "))
        }
        if !activations.isEmpty { lines.append("activation arguments became separate nodes: " + activations.joined(separator: ", ")) }
        lines += nested.map { "nested \($0) (flattened into the graph)" }
        if let s = built.softmaxSplitFrom {
            lines.append("final softmax of '\(s)' split off: the engine outputs logits; probabilities = softmax(logits)")
        }
        return lines
    }

    private static func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
}

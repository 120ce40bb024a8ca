import Foundation
import NN
import ModelCore

/// A Keras layer that owns weights, located in the model and in our graph.
struct KerasWeightedLayer {
    /// Keras layer names from the outermost model down (`["block", "block_conv"]`).
    var path: [String]
    /// Graph node holding its parameters (`"block/block_conv"`).
    var node: String
    var className: String
    /// Keras variable names in Keras' order.
    var variables: [String]
    /// Whether Keras trains it (its own and every enclosing model's `trainable` flag).
    var trainable: Bool
    /// Variables held by another graph node than `node` (SeparableConv2D's `depthwise_kernel`).
    var variableNodes: [String: String] = [:]

    /// The graph node holding `variable`.
    func node(for variable: String) -> String { variableNodes[variable] ?? node }

    /// BatchNorm's moving statistics and Normalization's statistics are never trainable in Keras.
    func isTrainable(_ variable: String) -> Bool {
        trainable && !["moving_mean", "moving_variance", "mean", "variance", "count"].contains(variable)
    }
}

/// A Keras model config turned into our graph.
struct KerasBuiltModel {
    var graph: Graph
    /// The same graph as a spec, when every node has a spec type (nil otherwise).
    var spec: ArchitectureSpec?
    var weighted: [KerasWeightedLayer]
    var notes: [KerasNote]
    /// The Keras layer whose final softmax was split off, if any.
    var softmaxSplitFrom: String?
}

/// Builds our graph from a Keras model config.
///
/// - Functional layers are added in dependency order (config order where it allows); Sequential
///   layers in sequence. Keras tensors `(H, W, C)` become `[C, H, W]`.
/// - A nested Sequential/Functional model is flattened into the graph: its layers become nodes
///   named `<outer>/<inner>` (e.g. `block/block_conv`), fed by the outer model's tensor.
/// - An `activation=` argument becomes its own node `<layer>/<activation>` after the layer.
/// - A Flatten (or Reshape to a vector) of an image is a plain Flatten when only Dense layers
///   read it (`onlyDenseReads`; the readers fold the order into the kernels, `KerasFlattenOrder`),
///   else `Permute([1, 2, 0])` + Flatten; so the graph has the engine's one layout.
/// - A softmax at the very end (an `activation='softmax'` of the output layer, or an output
///   `Activation('softmax')`/`Softmax` layer) is left out, so the graph outputs logits.
struct KerasGraphBuilder {
    let file: String
    private(set) var graph: Graph
    private var specLayers: [LayerSpec] = []
    private var expressible = true
    private var weighted: [KerasWeightedLayer] = []
    private var notes: [KerasNote] = []
    private var softmaxSplitFrom: String?
    /// Keras path of the concrete layer that produces the model output.
    private let finalPath: [String]
    /// The `keras_version` the file records, if any (`KerasLayerTranslator.translate`).
    var kerasVersion: String?

    static func build(_ model: KerasModelConfig, file: String, kerasVersion: String? = nil) throws -> KerasBuiltModel {
        try refuseUnsupported(model, file: file)
        let inputShape = try engineInputShape(model, file: file)
        var b = KerasGraphBuilder(file: file, graph: Graph(inputShape: inputShape), finalPath: try outputPath(model, file: file))
        b.kerasVersion = kerasVersion
        let out = try b.addModel(model, prefix: [], input: .input, trainable: true)
        guard case let .node(outIndex) = out else {
            throw ModelIOError(.unsupported, file: file, location: "model '\(model.name)'", "the model has no layers between its input and output")
        }
        if outIndex != b.graph.nodes.count - 1 { b.graph.setOutput(outIndex) }
        let outShape = b.graph.outputShape
        guard outShape.count == 1 else {
            throw ModelIOError(.unsupported, file: file, location: "model '\(model.name)'",
                               "the output is \(KerasLayerTranslator.kerasShape(outShape)); a classifier must output a vector of class scores")
        }
        var spec: ArchitectureSpec?
        if b.expressible {
            var s = ArchitectureSpec(name: model.name, inputShape: inputShape, classes: outShape[0], layers: b.specLayers,
                                     output: outIndex == b.graph.nodes.count - 1 ? nil : b.graph.nodes[outIndex].name)
            s.inputLayout = DataLayout.nhwc.rawValue
            spec = s
        }
        return KerasBuiltModel(graph: b.graph, spec: spec, weighted: b.weighted, notes: b.notes, softmaxSplitFrom: b.softmaxSplitFrom)
    }

    /// One error listing every layer (nested ones as `<outer>/<inner>`) whose class or
    /// activation the importer does not know, so a user sees the whole gap at once.
    static func refuseUnsupported(_ model: KerasModelConfig, file: String) throws {
        var found: [String] = []
        func scan(_ m: KerasModelConfig, _ prefix: [String]) {
            for l in m.layers {
                let path = (prefix + [l.name]).joined(separator: "/")
                if let inner = l.model { scan(inner, prefix + [l.name]); continue }
                if !KerasLayerTranslator.supportedClasses.contains(l.className) {
                    found.append("\(path) (\(l.className))")
                } else if let a = l.config["activation"], let name = a.stringValue ?? a["config"]?.stringValue ?? a["class_name"]?.stringValue,
                          !KerasLayerTranslator.supportedActivations.contains(name) {
                    found.append("\(path) (\(l.className), activation '\(name)')")
                }
            }
        }
        scan(model, [])
        guard found.isEmpty else {
            throw ModelIOError(.unsupported, file: file, location: "model '\(model.name)'",
                               "\(found.count) unsupported layer\(found.count == 1 ? "" : "s"): \(found.joined(separator: ", ")); supported classes: \(KerasLayerTranslator.supportedClasses.joined(separator: ", ")); activations: \(KerasLayerTranslator.supportedActivations.joined(separator: ", "))")
        }
    }

    /// `(H, W, C)` → `[C, H, W]`, `(F)` → `[F]`; every size must be known.
    static func engineInputShape(_ model: KerasModelConfig, file: String) throws -> [Int] {
        guard let shape = model.inputShape else {
            throw ModelIOError(.malformed, file: file, location: "model '\(model.name)'",
                               "the config declares no input shape (no InputLayer batch_shape)")
        }
        let dims = shape.compactMap { $0 }
        let text = "(" + shape.map { $0.map(String.init) ?? "None" }.joined(separator: ", ") + ")"
        guard dims.count == shape.count, dims.allSatisfy({ $0 > 0 }) else {
            throw ModelIOError(.unsupported, file: file, location: "model '\(model.name)'",
                               "input shape \(text) has unknown sizes; the engine needs fixed input sizes")
        }
        switch dims.count {
        case 1: return dims
        case 3: return [dims[2], dims[0], dims[1]]
        default:
            throw ModelIOError(.unsupported, file: file, location: "model '\(model.name)'",
                               "input shape \(text): only vectors (features) and images (height, width, channels) are supported")
        }
    }

    /// The Keras path of the concrete layer whose output is the model output.
    static func outputPath(_ model: KerasModelConfig, file: String) throws -> [String] {
        guard let layer = model.layers.first(where: { $0.name == model.outputLayer }) else { return [model.outputLayer] }
        if let inner = layer.model { return [layer.name] + (try outputPath(inner, file: file)) }
        return [layer.name]
    }

    // MARK: Models and layers

    private mutating func addModel(_ m: KerasModelConfig, prefix: [String], input: Graph.Source, trainable: Bool) throws -> Graph.Source {
        let loc = prefix.isEmpty ? "model '\(m.name)'" : "layer '\(prefix.joined(separator: "/"))'"
        if !prefix.isEmpty, let declared = m.inputShape, declared.allSatisfy({ $0 != nil }) {
            // A nested model's own input declaration must agree with the tensor it is called on.
            let expected = try Self.engineInputShape(m, file: file)
            let actual = shape(of: input)
            guard expected == actual else {
                throw ModelIOError(.mismatch, file: file, location: loc,
                                   "the nested model expects \(KerasLayerTranslator.kerasShape(expected)) but is called on \(KerasLayerTranslator.kerasShape(actual))")
            }
        }
        let active = trainable && m.trainable
        if m.kind == .sequential {
            var current = input
            for layer in m.layers where layer.className != "InputLayer" {
                current = try addLayer(layer, of: m, prefix: prefix, inputs: [current], trainable: active,
                                       consumed: layer.name != m.outputLayer)
            }
            return current
        }
        var sources: [String: Graph.Source] = [m.inputLayer!: input]
        let consumers = Set(m.layers.flatMap(\.inbound))
        for layer in try Self.dependencyOrder(m, file: file, location: loc) {
            if layer.className == "InputLayer" {
                guard layer.name == m.inputLayer else {
                    throw ModelIOError(.unsupported, file: file, location: "layer '\(layer.name)'",
                                       "a second model input; only single-input models can be imported")
                }
                continue
            }
            let inputs = layer.inbound.map { sources[$0]! }
            sources[layer.name] = try addLayer(layer, of: m, prefix: prefix, inputs: inputs, trainable: active,
                                               consumed: consumers.contains(layer.name))
        }
        return sources[m.outputLayer]!
    }

    /// Functional layers ordered so every layer follows its inputs; config order where free.
    static func dependencyOrder(_ m: KerasModelConfig, file: String, location: String) throws -> [KerasLayer] {
        let names = Set(m.layers.map(\.name))
        for l in m.layers {
            for n in l.inbound where !names.contains(n) {
                throw ModelIOError(.malformed, file: file, location: "layer '\(l.name)'", "its input '\(n)' is not a layer of the model")
            }
            if l.inbound.isEmpty && l.className != "InputLayer" && l.model == nil {
                throw ModelIOError(.malformed, file: file, location: "layer '\(l.name)'", "the layer has no inbound node")
            }
        }
        var placed = Set<String>(), order: [KerasLayer] = [], pending = m.layers
        while !pending.isEmpty {
            guard let i = pending.firstIndex(where: { $0.inbound.allSatisfy(placed.contains) }) else {
                throw ModelIOError(.malformed, file: file, location: location,
                                   "the layers \(pending.map(\.name)) depend on each other in a cycle")
            }
            placed.insert(pending[i].name)
            order.append(pending.remove(at: i))
        }
        return order
    }

    /// Whether only Dense layers of `m` read the vector `name` outputs (`features` values),
    /// directly or through layers whose nodes keep each feature in place
    /// (`KerasFlattenOrder.keepsFeatureOrder`). Then a channels-last flatten folds into those
    /// Dense kernels. Conservative: a model output, a nested model or anything unknown says no,
    /// and the flatten is built as Permute + Flatten instead (the same numbers either way).
    private func onlyDenseReads(_ name: String, in m: KerasModelConfig, features: Int) -> Bool {
        guard name != m.outputLayer else { return false }
        let readers: [KerasLayer]
        if m.kind == .sequential {
            let chain = m.layers.filter { $0.className != "InputLayer" }
            guard let i = chain.firstIndex(where: { $0.name == name }), i + 1 < chain.count else { return false }
            readers = [chain[i + 1]]
        } else {
            readers = m.layers.filter { $0.inbound.contains(name) }
        }
        return !readers.isEmpty && readers.allSatisfy { r in
            guard r.model == nil, m.kind == .sequential || r.inbound == [name],
                  let t = try? KerasLayerTranslator.translate(r, node: r.name, inputShapes: [[features]], file: file,
                                                              kerasVersion: kerasVersion),
                  let layers = try? t.ops.map({ try GraphBuilder.makeLayer($0.spec, origin: file) }),
                  let first = layers.first else { return false }
            if first is Linear { return true }
            return layers.allSatisfy(KerasFlattenOrder.keepsFeatureOrder) && onlyDenseReads(r.name, in: m, features: features)
        }
    }

    /// Adds `layer` (of model `m`)'s nodes; returns the source carrying its output. `consumed`:
    /// another layer of the same model reads its output (then a final softmax cannot be split off).
    private mutating func addLayer(_ layer: KerasLayer, of m: KerasModelConfig, prefix: [String], inputs: [Graph.Source],
                                   trainable: Bool, consumed: Bool) throws -> Graph.Source {
        let path = prefix + [layer.name]
        let node = path.joined(separator: "/")
        if let inner = layer.model {
            guard inputs.count == 1 else {
                throw ModelIOError(.unsupported, file: file, location: "layer '\(node)'", "a nested model with \(inputs.count) inputs")
            }
            notes.append(.nestedModel(node: node, className: inner.className))
            return try addModel(inner, prefix: path, input: inputs[0], trainable: trainable && layer.trainable)
        }
        var denseOnly = false
        if ["Flatten", "Reshape"].contains(layer.className), inputs.count == 1, KerasFlattenOrder.reorders(shape(of: inputs[0])) {
            denseOnly = onlyDenseReads(layer.name, in: m, features: shape(of: inputs[0]).reduce(1, *))
        }
        var t = try KerasLayerTranslator.translate(layer, node: node, inputShapes: inputs.map(shape(of:)), file: file,
                                                   kerasVersion: kerasVersion, denseOnly: denseOnly)
        if path == finalPath, let last = t.ops.last, last.spec.type == "softmax" {
            guard !consumed else {
                throw ModelIOError(.unsupported, file: file, location: "layer '\(node)'",
                                   "the output softmax also feeds other layers, so it cannot be split off to give logits")
            }
            t.ops.removeLast()
            t.notes.removeAll { if case let .activationNode(n) = $0 { return n == last.name }; return false }
            softmaxSplitFrom = node
            if t.ops.isEmpty { return inputs[0] }
        }
        var current = inputs
        for op in t.ops {
            current = [.node(try add(op, inputs: current))]
        }
        if !t.variables.isEmpty {
            weighted.append(KerasWeightedLayer(path: path, node: node, className: layer.className, variables: t.variables,
                                               trainable: trainable && layer.trainable, variableNodes: t.variableNodes))
        }
        notes += t.notes
        return current[0]
    }

    private mutating func add(_ op: KerasOp, inputs: [Graph.Source]) throws -> Int {
        let layer = try GraphBuilder.makeLayer(op.spec, origin: file)
        let index: Int
        do {
            index = try graph.add(op.name, layer, inputs: inputs)
        } catch let e as NNError {
            throw ModelIOError(.mismatch, file: file, location: "layer '\(op.name)'", GraphBuilder.shapeMessage(e))
        }
        var spec = op.spec
        let names = inputs.map { s -> String in if case let .node(j) = s { return graph.nodes[j].name }; return "input" }
        let previous = specLayers.last?.name ?? "input"
        spec.inputs = names == [previous] ? nil : names
        specLayers.append(spec)
        // The spec format reserves "input" for the model input.
        if op.name == "input" { expressible = false }
        return index
    }

    private func shape(of source: Graph.Source) -> [Int] {
        switch source {
        case .input: return graph.inputShape
        case let .node(i): return graph.nodes[i].outputShape
        }
    }
}

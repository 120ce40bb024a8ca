import Foundation
import NN
import Tensor
import ModelCore

/// Writes Keras files for models that did not come from Keras (presets, specs, state dicts):
/// generates a Keras 3 Functional config for the graph, then hands a Keras-imported twin of
/// the model to `KerasExport`.
///
/// Supported nodes and their Keras layers (inputs `(H, W, C)` channels-last, or `(F)`):
///
/// | engine node | Keras layer |
/// |---|---|
/// | Linear | Dense (`activation="linear"`) |
/// | Conv2D | Conv2D with `groups` and `dilation_rate` (a depthwise one as `groups` = channels), `padding="valid"`/`"same"` where the per-side padding is what TensorFlow's `'same'` gives for the dilated extent, else ZeroPadding2D + `"valid"`; stride > 1 with dilation > 1 is refused (Keras forbids it) |
/// | BatchNorm | BatchNormalization (epsilon kept, momentum 1 − m) |
/// | ReLU, Sigmoid, Tanh, Softmax, Identity | Activation (`relu`, `sigmoid`, `tanh`, `softmax`, `linear`) |
/// | PointwiseActivation | ReLU6/SELU/GELU (erf)/SiLU/Hardswish/Hardsigmoid (PyTorch = Keras 3 formula): Activation (`relu6`, `selu`, `gelu`, `silu`, `hard_silu`, `hard_sigmoid`); LeakyReLU, ELU, Keras ReLU: the Keras layers with their options; GELU tanh and tf.keras 2's hard sigmoid have no Keras 3 layer and are refused |
/// | MaxPool2D (no padding), AvgPool2D (no padding, or zero-padding counted) | MaxPooling2D / (ZeroPadding2D +) AveragePooling2D |
/// | GlobalAvgPool, GlobalMaxPool | GlobalAveragePooling2D, GlobalMaxPooling2D |
/// | Concat | Concatenate (`axis=-1`) |
/// | Multiply | Multiply (equal shapes, or an image by a `[C, 1, 1]` operand; a `[C]` operand is refused) |
/// | Flatten | Flatten |
/// | Dropout, Add, ZeroPad2D | Dropout, Add, ZeroPadding2D |
///
/// Keras flattens channels-last, so a `Flatten` of a multi-channel map must feed Linear layers
/// only (directly or through element-wise activations/dropout): the twin, imported from the
/// generated config, then has the same plain Flatten and Dense layers, and `KerasExport`
/// writes their kernels' rows in Keras' `(h, w, c)` order (`KerasFlattenOrder`, docs/formats.md,
/// "Flatten order"). A `Permute([1, 2, 0])` read only by Flatten nodes is Keras' own Flatten.
/// Anything else (ShortcutA, padded max pooling, reshapes, other Permutes, flattened features
/// feeding other layers) is refused with the node named. The result is checked before anything is written: the twin,
/// built from the generated config by the Keras importer, must compute the model's outputs.
/// The Keras model takes NHWC input, like every Keras image model.
package enum KerasConfigGenerator {
    /// A model equivalent to `model` whose graph and payload come from a generated Keras config.
    package static func kerasTwin(of model: Model, file: String) throws -> Model {
        var g = Generator(graph: model.graph, file: file)
        let config = try g.config(name: sanitised(model.architectureName, fallback: "model"))
        let text = String(decoding: try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]), as: UTF8.self)
        let parsed = try KerasModelConfig.parse(try KerasJSON.parse(text, file: file, what: "the generated Keras config"), file: file)
        let built = try KerasGraphBuilder.build(parsed, file: file, kerasVersion: "3")
        let twin = Model(graph: built.graph, format: .kerasH5, architectureName: parsed.name, inputLayout: .nhwc, spec: built.spec)
        try g.copyWeights(to: built.graph)
        try check(model.graph, against: twin.graph, softmaxSplitOff: built.softmaxSplitFrom != nil, file: file)
        twin.softmaxSplitOff = built.softmaxSplitFrom != nil
        // The config is Keras 3's (hard_sigmoid means relu6(x + 3)/6 there).
        twin.formatPayload[KerasPayload.key] = KerasPayload(source: "h5", config: text, kerasVersion: "3.15.1").encoded()
        return twin
    }

    /// Names Keras accepts (no `/`), kept readable.
    static func sanitised(_ name: String, fallback: String) -> String {
        let s = String(name.map { $0.isLetter || $0.isNumber || "_.-".contains($0) ? $0 : "_" })
        return s.isEmpty ? fallback : s
    }

    /// The twin must compute what the model computes (inference mode, deterministic input).
    static func check(_ graph: Graph, against twin: Graph, softmaxSplitOff: Bool, file: String) throws {
        let n = 2, per = graph.inputShape.reduce(1, *)
        let x = Tensor(shape: [n] + graph.inputShape, data: (0..<(n * per)).map { Float(($0 * 7919) % 2003) / 1001.5 - 1 })
        let expected = graph.forward(x, mode: .inference, keepForBackward: false)
        var actual = twin.forward(x, mode: .inference, keepForBackward: false)
        if softmaxSplitOff { actual = softmax(actual) }
        let scale = max(1, expected.data.map(abs).max() ?? 1)
        let diff = zip(expected.data, actual.data).map { abs($0 - $1) }.max() ?? 0
        guard expected.shape == actual.shape, diff <= 1e-4 * scale else {
            throw ModelIOError(.unsupported, file: file,
                               "the generated Keras model does not reproduce this model (max difference \(diff)); it cannot be written as a Keras file")
        }
    }

    /// Walks the graph once, emitting Keras layer configs and remembering how weights map.
    struct Generator {
        let graph: Graph
        let file: String
        var layers: [[String: Any]] = []
        var used = Set<String>()
        /// Keras layer whose output is each node's output, and that output's engine shape.
        var produced: [Int: (name: String, shape: [Int])] = [:]
        /// Our weighted node → Keras layer name.
        var weightedNames: [Int: String] = [:]

        init(graph: Graph, file: String) { self.graph = graph; self.file = file }

        func fail(_ node: Int, _ why: String) -> ModelIOError {
            ModelIOError(.unsupported, file: file, location: "layer '\(graph.nodes[node].name)'",
                         "cannot be written as a Keras file: \(why)")
        }

        mutating func unique(_ base: String) -> String {
            var name = sanitised(base, fallback: "layer"), k = 1
            while used.contains(name) { name = sanitised(base, fallback: "layer") + "_\(k)"; k += 1 }
            used.insert(name)
            return name
        }

        static func kerasShape(_ s: [Int]) -> [Any] {
            let dims = s.count == 3 ? [s[1], s[2], s[0]] : s
            return [NSNull()] + dims.map { $0 as Any }
        }

        static func tensor(_ name: String, _ shape: [Int]) -> [String: Any] {
            ["class_name": "__keras_tensor__",
             "config": ["shape": kerasShape(shape), "dtype": "float32", "keras_history": [name, 0, 0]] as [String: Any]]
        }

        /// Appends a layer fed by `inputs` (Keras names and engine shapes).
        mutating func emit(_ className: String, _ name: String, _ config: [String: Any], inputs: [(String, [Int])]) {
            var c = config
            c["name"] = name; c["trainable"] = true; c["dtype"] = "float32"
            let args: [Any] = inputs.count == 1 ? [Self.tensor(inputs[0].0, inputs[0].1)]
                                                 : [inputs.map { Self.tensor($0.0, $0.1) }]
            layers.append(["class_name": className, "name": name, "config": c,
                           "inbound_nodes": [["args": args, "kwargs": [String: Any]()] as [String: Any]]])
        }

        static func number(_ f: Float) -> Double { Double("\(f)") ?? Double(f) }

        mutating func config(name: String) throws -> [String: Any] {
            let inputName = unique("input")
            let inShape = graph.inputShape
            guard inShape.count == 1 || inShape.count == 3 else {
                throw ModelIOError(.unsupported, file: file, "inputs of shape \(inShape) have no Keras form ((F) or (H, W, C))")
            }
            layers.append(["class_name": "InputLayer", "name": inputName, "inbound_nodes": [Any](),
                           "config": ["batch_shape": Self.kerasShape(inShape), "dtype": "float32", "sparse": false,
                                      "name": inputName] as [String: Any]])
            for (i, node) in graph.nodes.enumerated() {
                let inputs = node.inputs.map { s -> (String, [Int]) in
                    if case let .node(j) = s { return produced[j]! }
                    return (inputName, inShape)
                }
                if isChannelsLastFlattenPermute(i) {
                    // Keras' Flatten of the image is this Permute + the Flatten reading it.
                    produced[i] = inputs[0]
                    continue
                }
                try add(i, node, inputs)
            }
            let out = produced[graph.output]!.name
            return ["class_name": "Functional",
                    "config": ["name": name, "trainable": true, "layers": layers,
                               "input_layers": [inputName, 0, 0], "output_layers": [out, 0, 0]] as [String: Any]]
        }

        mutating func add(_ i: Int, _ node: Graph.Node, _ inputs: [(String, [Int])]) throws {
            let name = unique(node.name)
            let out = node.outputShape
            func padding(_ p: Padding2D, _ input: (String, [Int])) -> (String, [Int]) {
                guard !p.isZero else { return input }
                let padName = unique(node.name + "_pad")
                let s = input.1
                emit("ZeroPadding2D", padName, ["padding": [[p.top, p.bottom], [p.left, p.right]], "data_format": "channels_last"],
                     inputs: [input])
                return (padName, [s[0], s[1] + p.top + p.bottom, s[2] + p.left + p.right])
            }
            switch node.layer {
            case let l as Linear:
                emit("Dense", name, ["units": l.outFeatures, "activation": "linear", "use_bias": l.bias != nil], inputs: inputs)
                weightedNames[i] = name
            case let l as Conv2D:
                // Keras refuses strides > 1 together with dilation_rate > 1.
                guard l.stride == (1, 1) || l.dilation == (1, 1) else {
                    throw fail(i, "a dilated convolution with stride \(l.stride.0)x\(l.stride.1) (Keras allows dilation only with stride 1); write a state dict (.npz or .h5) instead")
                }
                let s = inputs[0].1
                // 'same' pads for the dilated extent (k − 1)·d + 1, as TensorFlow does.
                let extent = ((l.kernel.0 - 1) * l.dilation.0 + 1, (l.kernel.1 - 1) * l.dilation.1 + 1)
                let same = Self.tfSamePadding(height: s[1], width: s[2], kernel: extent, stride: l.stride)
                var source = inputs[0], mode = "valid"
                if !l.padding.isZero {
                    if l.padding == same { mode = "same" } else { source = padding(l.padding, inputs[0]) }
                }
                // Grouped and depthwise convolutions are Keras Conv2D(groups=g): kernel [kh, kw, in/g, out].
                emit("Conv2D", name, ["filters": l.outChannels, "kernel_size": [l.kernel.0, l.kernel.1],
                                      "strides": [l.stride.0, l.stride.1], "padding": mode, "data_format": "channels_last",
                                      "dilation_rate": [l.dilation.0, l.dilation.1], "groups": l.groups, "activation": "linear",
                                      "use_bias": l.hasBias],
                     inputs: [source])
                weightedNames[i] = name
            case let l as BatchNorm:
                guard inputs[0].1.count == 3 || inputs[0].1.count == 1 else { throw fail(i, "BatchNorm over \(inputs[0].1)") }
                emit("BatchNormalization", name, ["axis": -1, "epsilon": Self.number(l.eps),
                                                  "momentum": 1 - Self.number(l.momentum), "center": true, "scale": true],
                     inputs: inputs)
                weightedNames[i] = name
            case is ReLU, is Sigmoid, is Tanh, is Softmax, is Identity:
                let activation: String
                switch node.layer {
                case is ReLU: activation = "relu"
                case is Sigmoid: activation = "sigmoid"
                case is Tanh: activation = "tanh"
                case is Softmax: activation = "softmax"
                default: activation = "linear"
                }
                emit("Activation", name, ["activation": activation], inputs: inputs)
            case let l as PointwiseActivation:
                let (cls, fields) = try Self.keras(l.function, node: i, fail: fail)
                emit(cls, name, fields, inputs: inputs)
            case let l as Dropout:
                emit("Dropout", name, ["rate": Self.number(l.p)], inputs: inputs)
            case is Add:
                emit("Add", name, [:], inputs: inputs)
            case let l as ZeroPad2D:
                emit("ZeroPadding2D", name, ["padding": [[l.padding.top, l.padding.bottom], [l.padding.left, l.padding.right]],
                                             "data_format": "channels_last"], inputs: inputs)
            case let l as MaxPool2D:
                guard !l.ceilMode else { throw fail(i, "ceil-mode pooling (Keras pools in floor mode)") }
                guard l.padding.isZero else { throw fail(i, "padded max pooling (Keras pads with 'same' only)") }
                emit("MaxPooling2D", name, ["pool_size": [l.kernel.0, l.kernel.1], "strides": [l.stride.0, l.stride.1],
                                            "padding": "valid", "data_format": "channels_last"], inputs: inputs)
            case let l as AvgPool2D:
                guard !l.ceilMode else { throw fail(i, "ceil-mode pooling (Keras pools in floor mode)") }
                guard l.padding.isZero || l.countIncludePad else {
                    throw fail(i, "padded average pooling that excludes the padding from the count")
                }
                emit("AveragePooling2D", name, ["pool_size": [l.kernel.0, l.kernel.1], "strides": [l.stride.0, l.stride.1],
                                                "padding": "valid", "data_format": "channels_last"],
                     inputs: [padding(l.padding, inputs[0])])
            case is GlobalAvgPool:
                emit("GlobalAveragePooling2D", name, ["data_format": "channels_last", "keepdims": false], inputs: inputs)
            case is GlobalMaxPool:
                emit("GlobalMaxPooling2D", name, ["data_format": "channels_last", "keepdims": false], inputs: inputs)
            case is Concat:
                // Our channel axis is Keras' last axis for images and vectors alike.
                emit("Concatenate", name, ["axis": -1], inputs: inputs)
            case is Multiply:
                // Keras broadcasts from the last axis: a (c) vector would meet an image's width.
                guard inputs[0].1 == inputs[1].1 || inputs.allSatisfy({ $0.1.count == 3 }) else {
                    throw fail(i, "a per-channel vector times an image has no Keras Multiply (Keras would broadcast it over the width); write a state dict (.npz or .h5) instead")
                }
                emit("Multiply", name, [:], inputs: inputs)
            case is Flatten:
                emit("Flatten", name, ["data_format": "channels_last"], inputs: inputs)
                let afterPermute = node.inputs.first.map { if case let .node(j) = $0 { return isChannelsLastFlattenPermute(j) }; return false } ?? false
                if KerasFlattenOrder.reorders(inputs[0].1) && !afterPermute { try checkConsumers(of: i) }
            case is ShortcutA:
                throw fail(i, "the option-A shortcut (subsample, then zero channels appended) has no Keras layer; write a state dict (.npz or .h5) instead")
            default:
                throw fail(i, "\(node.layer.kind) has no Keras counterpart here; write a state dict (.npz or .h5) instead")
            }
            produced[i] = (name, out)
        }

        /// A `Permute([1, 2, 0])` of an image read only by Flatten nodes: with them, Keras' own
        /// channels-last Flatten (what the importer builds where Dense layers do not absorb it).
        func isChannelsLastFlattenPermute(_ i: Int) -> Bool {
            guard (graph.nodes[i].layer as? Permute)?.dims == [1, 2, 0], i != graph.output else { return false }
            let readers = graph.nodes.indices.filter { graph.nodes[$0].inputs.contains(.node(i)) }
            return !readers.isEmpty && readers.allSatisfy { graph.nodes[$0].layer is Flatten }
        }

        /// A flatten of `[C, H, W]` is `(h, w, c)`-ordered in Keras; every path from it must reach
        /// Linear layers through element-wise nodes only, so the order lives in their kernels.
        func checkConsumers(of flatten: Int) throws {
            var frontier = [flatten]
            while let current = frontier.popLast() {
                if current == graph.output {
                    throw fail(flatten, "its PyTorch-order features are the model output; Keras flattens channels-last")
                }
                for k in graph.nodes.indices where graph.nodes[k].inputs.contains(.node(current)) {
                    switch graph.nodes[k].layer {
                    case is Linear: continue
                    case let l where KerasFlattenOrder.keepsFeatureOrder(l): frontier.append(k)
                    default:
                        throw fail(flatten, "its PyTorch-order features feed '\(graph.nodes[k].name)' (\(graph.nodes[k].layer.kind)); Keras flattens channels-last, so only Linear layers (after element-wise ones) can absorb the order")
                    }
                }
            }
        }

        /// TensorFlow's `'same'`: total = max((⌈n/s⌉ − 1)·s + k − n, 0), the smaller half first.
        static func tfSamePadding(height: Int, width: Int, kernel: (Int, Int), stride: (Int, Int)) -> Padding2D {
            func side(_ n: Int, _ k: Int, _ s: Int) -> (Int, Int) {
                let total = max(((n + s - 1) / s - 1) * s + k - n, 0)
                return (total / 2, total - total / 2)
            }
            let (t, b) = side(height, kernel.0, stride.0), (l, r) = side(width, kernel.1, stride.1)
            return Padding2D(top: t, bottom: b, left: l, right: r)
        }

        /// Our weights into the twin's nodes (found by Keras layer name); the twin has our layouts.
        func copyWeights(to twin: Graph) throws {
            for (i, name) in weightedNames {
                guard let j = twin.index(of: name) else {
                    throw ModelIOError(.unsupported, file: file, location: "layer '\(graph.nodes[i].name)'",
                                       "the generated Keras model has no node '\(name)'")
                }
                let ours = graph.nodes[i].layer.parameters, theirs = twin.nodes[j].layer.parameters
                guard ours.count == theirs.count else {
                    throw ModelIOError(.unsupported, file: file, location: "layer '\(graph.nodes[i].name)'",
                                       "the generated Keras layer holds \(theirs.count) tensors, the model \(ours.count)")
                }
                for (p, q) in zip(ours, theirs) {
                    guard p.value.shape == q.value.shape else {
                        throw ModelIOError(.unsupported, file: file, location: "layer '\(graph.nodes[i].name)'",
                                           "'\(p.name)' has shape \(p.value.shape), the generated Keras layer \(q.value.shape)")
                    }
                    q.value = p.value
                }
                // After our Permute + Flatten the columns are in Keras' order; where the twin
                // folded that flatten into this Dense, its columns are in ours (KerasFlattenOrder).
                if let columns = KerasFlattenOrder.columns(forLinear: j, in: twin),
                   KerasFlattenOrder.columns(forLinear: i, in: graph) == nil, let weight = theirs.first {
                    weight.value = Tensor(shape: weight.value.shape,
                                          data: KerasVariables.permuteColumns(weight.value.data, rows: weight.value.shape[0],
                                                                             columns: columns, toEngine: true))
                }
            }
        }
    }
}

import NN

extension ArchitectureSpec {
    /// The spec that rebuilds `graph` through `GraphBuilder`: one `LayerSpec` per node, in node
    /// order, each layer class mapped back to its spec type (`Linear` → `linear`, `Conv2D` →
    /// `conv2d`, `Permute` → `permute` with its `dims`, ...). `inputs` is
    /// written only where a node does not simply take the previous node's output, and
    /// `output` only where the output is not the last node.
    ///
    /// `keyOverrides` (graph key `node.param` → state-dict key, as `Model.keyOverrides`) become
    /// each layer's `keys`, so the state dict written next to the spec loads under it. A node
    /// named `input` (reserved in specs for the graph input) is renamed `input_`, its keys
    /// kept through `keys`.
    ///
    /// Throws `.unsupported` naming the node for a layer class that has no spec type, and when
    /// the output is not a vector of class scores.
    public static func fromGraph(_ graph: Graph, name: String, inputLayout: DataLayout? = nil,
                                 keyOverrides: [String: String] = [:]) throws -> ArchitectureSpec {
        let output = graph.outputShape
        guard output.count == 1 else {
            throw ModelIOError(.unsupported, file: name, location: "output",
                               "the model's output has shape \(output); a spec describes classifiers whose output is [classes]")
        }
        var names = graph.nodes.map(\.name)
        for i in names.indices where names[i] == "input" {
            var renamed = "input_"
            while names.contains(renamed) { renamed += "_" }
            names[i] = renamed
        }
        var layers: [LayerSpec] = []
        for (i, node) in graph.nodes.enumerated() {
            var ls = try layerSpec(node.layer, name: names[i], spec: name)
            let previous: Graph.Source = i == 0 ? .input : .node(i - 1)
            if node.inputs != [previous] {
                ls.inputs = node.inputs.map { source in
                    if case let .node(j) = source { return names[j] }
                    return "input"
                }
            }
            var keys: [String: String] = [:]
            for p in node.layer.parameters {
                let graphKey = node.name.isEmpty ? p.name : node.name + "." + p.name
                let key = keyOverrides[graphKey] ?? graphKey
                if key != names[i] + "." + p.name { keys[p.name] = key }
            }
            if !keys.isEmpty { ls.keys = keys }
            layers.append(ls)
        }
        var spec = ArchitectureSpec(name: name, inputShape: graph.inputShape, classes: output[0], layers: layers,
                                    output: graph.output == graph.nodes.count - 1 ? nil : names[graph.output])
        spec.inputLayout = inputLayout?.rawValue
        return spec
    }

    /// The spec of `model`: the one it was built from, or one derived from its graph (Keras
    /// imports), with `input_layout` set to the layout its data is stored in.
    public static func of(_ model: Model) throws -> ArchitectureSpec {
        var spec = try model.spec ?? fromGraph(model.graph, name: model.architectureName, keyOverrides: model.keyOverrides)
        if model.inputLayout != .nchw || spec.inputLayout != nil { spec.inputLayout = model.inputLayout.rawValue }
        return spec
    }

    /// One node's layer as a spec entry.
    static func layerSpec(_ layer: Layer, name: String, spec: String) throws -> LayerSpec {
        func padding(_ p: Padding2D) -> [Int]? { p.isZero ? nil : [p.top, p.bottom, p.left, p.right] }
        switch layer {
        case let l as Linear:
            var s = LayerSpec(name: name, type: "linear")
            s.inFeatures = l.inFeatures; s.outFeatures = l.outFeatures; s.bias = l.bias != nil
            return s
        case let l as Conv2D:
            var s = LayerSpec(name: name, type: "conv2d")
            s.inChannels = l.inChannels; s.outChannels = l.outChannels
            s.kernel = [l.kernel.0, l.kernel.1]; s.stride = [l.stride.0, l.stride.1]
            s.padding = padding(l.padding); s.bias = l.hasBias
            if l.dilation != (1, 1) { s.dilation = [l.dilation.0, l.dilation.1] }
            if l.groups != 1 { s.groups = l.groups }
            return s
        case let l as BatchNorm:
            var s = LayerSpec(name: name, type: "batchnorm")
            s.channels = l.channels; s.eps = l.eps; s.momentum = l.momentum
            return s
        case is ReLU: return LayerSpec(name: name, type: "relu")
        case is Sigmoid: return LayerSpec(name: name, type: "sigmoid")
        case is Tanh: return LayerSpec(name: name, type: "tanh")
        case let l as PointwiseActivation: return GraphBuilder.activationSpec(l.function, name: name)
        case let l as Rescaling:
            var s = LayerSpec(name: name, type: "rescaling")
            s.scale = l.scale; s.offset = l.offset
            return s
        case let l as ChannelStandardize:
            var s = LayerSpec(name: name, type: "normalization")
            s.channels = l.channels
            return s
        case let l as LayerNorm:
            var s = LayerSpec(name: name, type: "layernorm")
            s.channels = l.channels; s.eps = l.eps
            return s
        case let l as Upsample2D:
            var s = LayerSpec(name: name, type: "upsample2d")
            s.scaleFactor = [l.factor.0, l.factor.1]; s.mode = l.interpolation.rawValue
            return s
        case let l as ChannelDropout:
            var s = LayerSpec(name: name, type: "dropout2d")
            s.p = l.p
            return s
        case is Softmax: return LayerSpec(name: name, type: "softmax")
        case is Identity: return LayerSpec(name: name, type: "identity")
        case is Add: return LayerSpec(name: name, type: "add")
        case is GlobalAvgPool: return LayerSpec(name: name, type: "global_avgpool")
        case is GlobalMaxPool: return LayerSpec(name: name, type: "global_maxpool")
        case is Concat: return LayerSpec(name: name, type: "concat")
        case is Multiply: return LayerSpec(name: name, type: "multiply")
        case let l as Elementwise: return LayerSpec(name: name, type: "elementwise_" + l.operation.rawValue)
        case let l as ChannelSlice:
            var s = LayerSpec(name: name, type: "slice")
            s.start = l.start; s.end = l.end
            return s
        case let l as ChannelShuffle:
            var s = LayerSpec(name: name, type: "channel_shuffle")
            s.groups = l.groups
            return s
        case let l as AdaptiveAvgPool2D:
            var s = LayerSpec(name: name, type: "adaptive_avgpool2d")
            s.outputSize = [l.outputSize.0, l.outputSize.1]
            return s
        case let l as MaxPool2D:
            var s = LayerSpec(name: name, type: "maxpool2d")
            s.kernel = [l.kernel.0, l.kernel.1]; s.stride = [l.stride.0, l.stride.1]; s.padding = padding(l.padding)
            if l.ceilMode { s.ceilMode = true }
            return s
        case let l as AvgPool2D:
            var s = LayerSpec(name: name, type: "avgpool2d")
            s.kernel = [l.kernel.0, l.kernel.1]; s.stride = [l.stride.0, l.stride.1]; s.padding = padding(l.padding)
            s.countIncludePad = l.countIncludePad
            if l.ceilMode { s.ceilMode = true }
            return s
        case is Flatten:
            return LayerSpec(name: name, type: "flatten")
        case let l as Permute:
            var s = LayerSpec(name: name, type: "permute")
            s.dims = l.dims
            return s
        case let l as ShortcutA:
            var s = LayerSpec(name: name, type: "shortcut_a")
            s.outChannels = l.outChannels; s.stride = [l.stride, l.stride]
            if l.padBefore != 0 { s.padBefore = l.padBefore }
            return s
        case let l as Dropout:
            var s = LayerSpec(name: name, type: "dropout")
            s.p = l.p
            return s
        case let l as ZeroPad2D:
            var s = LayerSpec(name: name, type: "zeropad2d")
            s.padding = [l.padding.top, l.padding.bottom, l.padding.left, l.padding.right]
            return s
        case let l as Reshape:
            var s = LayerSpec(name: name, type: "reshape")
            s.shape = l.shape
            return s
        default:
            throw ModelIOError(.unsupported, file: spec, location: "layer '\(name)'",
                               "\(layer.kind) has no architecture-spec type (spec types: \(GraphBuilder.supportedTypes.joined(separator: ", ")))")
        }
    }
}

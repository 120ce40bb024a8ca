import NN
import Tensor

/// Builds a `Graph` from an `ArchitectureSpec`.
///
/// Errors name the spec (its file or preset name) and the layer, and say which field is
/// missing or which shapes do not fit, e.g.
/// `arch.json: layer 'fc': input has 128 features, in_features is 64`.
public enum GraphBuilder {
    /// Layer types a spec may use, for error messages and the README.
    public static let supportedTypes = ["linear", "conv2d", "batchnorm", "relu", "sigmoid", "tanh", "softmax",
                                        "identity", "maxpool2d", "avgpool2d", "global_avgpool", "flatten",
                                        "add", "shortcut_a", "dropout", "zeropad2d", "reshape",
                                        "concat", "multiply", "slice", "channel_shuffle", "global_maxpool",
                                        "adaptive_avgpool2d", "permute"]
                                        + activationTypes + ["rescaling", "normalization", "layernorm", "upsample2d", "dropout2d"]
                                        + Elementwise.Operation.allCases.map { "elementwise_" + $0.rawValue }
    /// The spec types of `PointwiseActivation` (GraphBuilder+Activations.swift).
    public static let activationTypes = ["relu6", "leaky_relu", "relu_keras", "elu", "selu", "gelu", "silu",
                                         "hardswish", "hardsigmoid_torch", "hardsigmoid_keras2"]

    public static func build(_ spec: ArchitectureSpec, origin: String) throws -> Graph {
        // Fields, types and ranges first (SpecValidator.swift), so no layer is ever made from
        // a value it would trap on.
        try SpecValidator.validate(spec, origin: origin)
        guard !spec.layers.isEmpty else {
            throw ModelIOError(.malformed, file: origin, location: "layers", "the spec has no layers")
        }
        guard !spec.inputShape.isEmpty, spec.inputShape.allSatisfy({ $0 > 0 && $0 <= 1 << 24 }) else {
            throw ModelIOError(.malformed, file: origin, location: "input_shape",
                               "expected positive extents (at most 16777216), found \(spec.inputShape)")
        }
        let graph = Graph(inputShape: spec.inputShape)
        var index: [String: Int] = [:]
        var previous: Graph.Source = .input
        for ls in spec.layers {
            let loc = "layer '\(ls.name)'"
            guard index[ls.name] == nil, ls.name != "input" else {
                throw ModelIOError(.malformed, file: origin, location: loc, "duplicate layer name")
            }
            let sources: [Graph.Source]
            if let names = ls.inputs {
                sources = try names.map { n in
                    if n == "input" { return .input }
                    guard let j = index[n] else {
                        throw ModelIOError(.malformed, file: origin, location: loc,
                                           "input '\(n)' is not a layer defined before it")
                    }
                    return .node(j)
                }
            } else {
                sources = [previous]
            }
            try checkValues(ls, origin: origin)
            do {
                var inputs = sources
                if let permute = legacyChannelsLastFlatten(ls) {
                    // `flatten` with `order: "nhwc"` (spec files from before the engine had one
                    // layout): channels-last features are a Permute to [H, W, C], then a flatten.
                    guard index[permute.name] == nil else {
                        throw ModelIOError(.malformed, file: origin, location: loc, "its Permute node '\(permute.name)' has the name of another layer")
                    }
                    let p = try graph.add(permute.name, Permute(dims: permute.dims), inputs: inputs)
                    index[permute.name] = p
                    inputs = [.node(p)]
                }
                let j = try graph.add(ls.name, try makeLayer(ls, origin: origin), inputs: inputs)
                index[ls.name] = j
                previous = .node(j)
            } catch let e as NNError {
                throw ModelIOError(.mismatch, file: origin, location: loc, shapeMessage(e))
            }
        }
        if let out = spec.output {
            guard let j = index[out] else {
                throw ModelIOError(.malformed, file: origin, location: "output", "no layer named '\(out)'")
            }
            graph.setOutput(j)
        }
        let outShape = graph.outputShape
        guard outShape == [spec.classes] else {
            throw ModelIOError(.mismatch, file: origin, location: "classes",
                               "the output layer gives shape \(outShape), expected [\(spec.classes)] (classes)")
        }
        return graph
    }

    /// The Permute node a legacy `flatten` with `order: "nhwc"` is built with: named
    /// `<layer>/nhwc`, dims [1, 2, 0] ([C, H, W] → [H, W, C]); nil for any other layer.
    public static func legacyChannelsLastFlatten(_ ls: LayerSpec) -> (name: String, dims: [Int])? {
        ls.type == "flatten" && ls.order == "nhwc" ? (ls.name + "/nhwc", [1, 2, 0]) : nil
    }

    /// The `inspect` lines for what `build` converted in `spec` (legacy `order: "nhwc"` flattens).
    public static func conversions(_ spec: ArchitectureSpec) -> [String] {
        let legacy = spec.layers.filter { legacyChannelsLastFlatten($0) != nil }.map(\.name)
        guard !legacy.isEmpty else { return [] }
        return ["spec flatten order \"nhwc\" (written before the engine had one layout) → Permute [1, 2, 0] (node '<layer>/nhwc') + Flatten, the same numbers: " + legacy.joined(separator: ", ")]
    }

    package static func shapeMessage(_ e: NNError) -> String {
        switch e {
        case let .shape(_, msg): return msg
        case let .graph(msg): return msg
        }
    }

    static func require<T>(_ v: T?, _ field: String, _ ls: LayerSpec, _ origin: String) throws -> T {
        guard let v else {
            throw ModelIOError(.malformed, file: origin, location: "layer '\(ls.name)'",
                               "\(ls.type) needs field '\(field)'")
        }
        return v
    }

    static func pair(_ v: [Int]?, _ field: String, _ ls: LayerSpec, _ origin: String) throws -> (Int, Int)? {
        guard let v else { return nil }
        guard v.count == 2, v.allSatisfy({ $0 > 0 }) else {
            throw ModelIOError(.malformed, file: origin, location: "layer '\(ls.name)'",
                               "'\(field)' must be a positive integer or [h, w], found \(v)")
        }
        return (v[0], v[1])
    }

    static func padding(_ ls: LayerSpec, _ origin: String) throws -> Padding2D {
        guard let p = ls.padding else { return .zero }
        guard p.count == 4, p.allSatisfy({ $0 >= 0 }) else {
            throw ModelIOError(.malformed, file: origin, location: "layer '\(ls.name)'",
                               "'padding' must be n, [h, w] or [top, bottom, left, right], found \(p)")
        }
        return Padding2D(top: p[0], bottom: p[1], left: p[2], right: p[3])
    }

    public static func makeLayer(_ ls: LayerSpec, origin: String) throws -> Layer {
        switch ls.type {
        case "linear":
            return Linear(inFeatures: try require(ls.inFeatures, "in_features", ls, origin),
                          outFeatures: try require(ls.outFeatures, "out_features", ls, origin),
                          bias: ls.bias ?? true)
        case "conv2d":
            let k = try require(try pair(ls.kernel, "kernel", ls, origin), "kernel", ls, origin)
            return Conv2D(inChannels: try require(ls.inChannels, "in_channels", ls, origin),
                          outChannels: try require(ls.outChannels, "out_channels", ls, origin),
                          kernel: k, stride: try pair(ls.stride, "stride", ls, origin) ?? (1, 1),
                          padding: try padding(ls, origin), dilation: try pair(ls.dilation, "dilation", ls, origin) ?? (1, 1),
                          groups: ls.groups ?? 1, bias: ls.bias ?? true)
        case "batchnorm":
            return BatchNorm(channels: try require(ls.channels, "channels", ls, origin),
                             eps: ls.eps ?? 1e-5, momentum: ls.momentum ?? 0.1)
        case "relu": return ReLU()
        case "sigmoid": return Sigmoid()
        case "tanh": return Tanh()
        case "softmax": return Softmax()
        case "identity": return Identity()
        case "maxpool2d", "avgpool2d":
            let k = try require(try pair(ls.kernel, "kernel", ls, origin), "kernel", ls, origin)
            let s = try pair(ls.stride, "stride", ls, origin)
            let pad = try padding(ls, origin)
            let ceil = ls.ceilMode ?? false
            if ls.type == "maxpool2d" { return MaxPool2D(kernel: k, stride: s, padding: pad, ceilMode: ceil) }
            return AvgPool2D(kernel: k, stride: s, padding: pad, countIncludePad: ls.countIncludePad ?? true, ceilMode: ceil)
        case "global_avgpool": return GlobalAvgPool()
        case "global_maxpool": return GlobalMaxPool()
        case "adaptive_avgpool2d":
            return AdaptiveAvgPool2D(outputSize: try require(try pair(ls.outputSize, "output_size", ls, origin), "output_size", ls, origin))
        case "concat": return Concat()
        case "multiply": return Multiply()
        case "slice":
            let start = try require(ls.start, "start", ls, origin), end = try require(ls.end, "end", ls, origin)
            guard start >= 0 && end > start else {
                throw ModelIOError(.malformed, file: origin, location: "layer '\(ls.name)'",
                                   "a slice takes channels [start, end) with 0 ≤ start < end, found [\(start), \(end))")
            }
            return ChannelSlice(start: start, end: end)
        case "channel_shuffle": return ChannelShuffle(groups: try require(ls.groups, "groups", ls, origin))
        case "flatten":
            // "nhwc" is a Permute node before this one (`build`); the flatten itself is plain.
            guard ["nchw", "nhwc"].contains(ls.order ?? "nchw") else {
                throw ModelIOError(.malformed, file: origin, location: "layer '\(ls.name)'",
                                   "flatten order must be \"nchw\" or \"nhwc\", found \"\(ls.order ?? "")\"")
            }
            return Flatten()
        case "permute":
            let dims = try require(ls.dims, "dims", ls, origin)
            guard Permute.isPermutation(dims) else {
                throw ModelIOError(.malformed, file: origin, location: "layer '\(ls.name)'",
                                   "'dims' must be a permutation of the sample axes 0, 1, …, n − 1, found \(dims)")
            }
            return Permute(dims: dims)
        case "add": return Add()
        case "shortcut_a":
            return ShortcutA(outChannels: try require(ls.outChannels, "out_channels", ls, origin),
                             stride: ls.stride?.first ?? 2, padBefore: ls.padBefore ?? 0)
        case "dropout": return Dropout(p: ls.p ?? 0.5)
        case "zeropad2d": return ZeroPad2D(padding: try padding(ls, origin))
        case "reshape": return Reshape(shape: try require(ls.shape, "shape", ls, origin))
        case "rescaling": return Rescaling(scale: try require(ls.scale, "scale", ls, origin), offset: ls.offset ?? [0])
        case "normalization": return ChannelStandardize(channels: try require(ls.channels, "channels", ls, origin))
        case "layernorm": return LayerNorm(channels: try require(ls.channels, "channels", ls, origin), eps: ls.eps ?? 1e-5)
        case "upsample2d":
            let f = try require(try pair(ls.scaleFactor, "scale_factor", ls, origin), "scale_factor", ls, origin)
            return Upsample2D(factor: f, interpolation: ls.mode == "bilinear" ? .bilinear : .nearest)
        case "dropout2d": return ChannelDropout(p: ls.p ?? 0.5)
        case "elementwise_add": return Elementwise(.add)
        case "elementwise_sub": return Elementwise(.sub)
        case "elementwise_mul": return Elementwise(.mul)
        case "elementwise_div": return Elementwise(.div)
        case _ where activationTypes.contains(ls.type): return PointwiseActivation(try activation(ls, origin: origin))
        default:
            throw ModelIOError(.unsupported, file: origin, location: "layer '\(ls.name)'",
                               "unknown layer type '\(ls.type)'; supported: \(supportedTypes.joined(separator: ", "))")
        }
    }
}

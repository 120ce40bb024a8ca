import Foundation
import NN
import ModelCore

/// One engine node planned for (part of) a Keras layer.
struct KerasOp {
    /// Graph node name.
    var name: String
    /// The spec of the node (every Keras layer we import has a spec form).
    var spec: LayerSpec
}

/// What the importer records about a translated layer so `inspect` can list each conversion.
enum KerasNote {
    case convKernel
    case denseKernel
    case samePadding(node: String, padding: Padding2D)
    case batchNorm(node: String, epsilon: String, momentum: String)
    case batchNormConstant(node: String, what: String)
    /// A Flatten (or Reshape to a vector) of an image whose (h, w, c) order only Dense layers
    /// read: a plain Flatten here, those Dense kernels' rows permuted (`KerasFlattenOrder`).
    case flattenIntoDense(node: String)
    /// A Flatten (or Reshape to a vector) of an image read by other layers too:
    /// `Permute([1, 2, 0])` (node `<layer>/nhwc`) + Flatten.
    case channelsLastFlatten(node: String)
    /// A Reshape to (h, w, c): Permute to channels-last, Reshape, Permute back.
    case channelsLastReshape(node: String)
    case activationNode(node: String)
    case nestedModel(node: String, className: String)
    /// A Dense on an image, applied per position over the channels: a 1x1 Conv2D here.
    case denseAsConv(node: String)
    /// A Normalization whose mean/variance are in the config: a Rescaling by 1/max(√var, 1e-7), −mean/max(√var, 1e-7).
    case normalizationConstants(node: String)
    /// A hard_sigmoid whose formula depends on the Keras version that wrote the file.
    case hardSigmoid(node: String, formula: String)
    /// A DepthwiseConv2D: a Conv2D with groups = channels, kernel [kh, kw, c, m] → [c·m, 1, kh, kw].
    case depthwiseKernel(node: String)
    /// A SeparableConv2D: nodes `<node>/depthwise` and `<node>` (pointwise).
    case separable(node: String)
    /// A Keras 3 operation with a number (`x + 3.0`): a Rescaling.
    case constantOperation(node: String)
}

/// The engine nodes, Keras weight variables and notes for one Keras layer.
struct KerasTranslation {
    var ops: [KerasOp] = []
    /// Keras variable names in Keras' own order (`kernel, bias`; `gamma, beta, moving_mean, moving_variance`).
    var variables: [String] = []
    var notes: [KerasNote] = []
    /// Variables held by another node than the layer's own (SeparableConv2D's `depthwise_kernel`).
    var variableNodes: [String: String] = [:]
}

/// Maps single Keras layers (not nested models) onto engine layers, in the engine's layout.
///
/// Per-sample shapes handed in and out are ours: `[C, H, W]` for Keras' `(H, W, C)`, `[F]` for `(F)`.
/// Every refusal is a one-line `ModelIOError` naming the file and the layer.
enum KerasLayerTranslator {
    /// Layer classes the importer understands (InputLayer and nested models are handled by the builder).
    static let supportedClasses = ["InputLayer", "Dense", "Conv2D", "BatchNormalization", "Activation", "ReLU", "Softmax",
                                   "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "Flatten", "Dropout",
                                   "Add", "ZeroPadding2D", "Reshape", "Sequential", "Functional",
                                   "LeakyReLU", "ELU", "Rescaling", "Normalization", "LayerNormalization", "UpSampling2D",
                                   "SpatialDropout2D", "DepthwiseConv2D", "SeparableConv2D", "Concatenate", "Multiply",
                                   "GlobalMaxPooling2D"]
    /// Activation names accepted in `activation=` and `Activation` layers.
    static let supportedActivations = ["linear", "relu", "sigmoid", "tanh", "softmax", "relu6", "leaky_relu", "elu", "selu",
                                       "gelu", "silu", "swish", "hard_sigmoid", "hard_silu", "hard_swish"]

    /// `kerasVersion`: the `keras_version` the file records ("3.x" for `.keras` archives); it
    /// decides which `hard_sigmoid` formula a file means (see `hardSigmoidType`).
    /// `denseOnly`: for a Flatten or Reshape to a vector, whether only Dense layers read its
    /// output (through element-wise ones), so the order folds into their kernels (`KerasGraphBuilder`).
    static func translate(_ layer: KerasLayer, node: String, inputShapes: [[Int]], file: String,
                          kerasVersion: String? = nil, denseOnly: Bool = false) throws -> KerasTranslation {
        let t = Context(layer: layer, node: node, inputShapes: inputShapes, file: file, kerasVersion: kerasVersion,
                        denseOnly: denseOnly)
        if !layer.constants.isEmpty { return try t.constantOperation() }
        switch layer.className {
        case "Dense": return try t.dense()
        case "Conv2D": return try t.conv2D()
        case "BatchNormalization": return try t.batchNorm()
        case "Activation":
            let name = try t.activationName(layer.config["activation"])
            let spec = try t.activationSpec(name, node: node) ?? LayerSpec(name: node, type: "identity")
            var tr = KerasTranslation(ops: [KerasOp(name: node, spec: spec)])
            if name == "hard_sigmoid" { tr.notes.append(.hardSigmoid(node: node, formula: spec.type)) }
            return tr
        case "ReLU": return try t.relu()
        case "LeakyReLU", "ELU", "Rescaling", "Normalization", "LayerNormalization", "UpSampling2D", "SpatialDropout2D":
            return try t.kerasExtra()
        case "DepthwiseConv2D": return try t.depthwiseConv2D()
        case "SeparableConv2D": return try t.separableConv2D()
        case "Concatenate": return try t.concatenate()
        case "Multiply": return try t.multiply()
        case "GlobalMaxPooling2D": return try t.globalPooling(max: true)
        case "Softmax": return try t.softmax()
        case "MaxPooling2D", "AveragePooling2D": return try t.pooling(max: layer.className == "MaxPooling2D")
        case "GlobalAveragePooling2D": return try t.globalPooling(max: false)
        case "Flatten": return try t.flatten()
        case "Dropout":
            _ = try t.single()
            let rate = layer.config["rate"]?.doubleValue ?? 0.5
            guard (0...1).contains(rate) else { throw t.malformed("'rate' must be in [0, 1]") }
            var s = LayerSpec(name: node, type: "dropout")
            s.p = Float(rate)
            return KerasTranslation(ops: [KerasOp(name: node, spec: s)])
        case "Add":
            guard inputShapes.count >= 2 else { throw t.unsupported("Add needs at least two inputs, found \(inputShapes.count)") }
            return KerasTranslation(ops: [KerasOp(name: node, spec: LayerSpec(name: node, type: "add"))])
        case "ZeroPadding2D": return try t.zeroPadding()
        case "Reshape": return try t.reshape()
        default:
            throw ModelIOError(.unsupported, file: file, location: "layer '\(layer.name)'",
                               "unsupported layer class '\(layer.className)'; supported: \(supportedClasses.joined(separator: ", "))")
        }
    }

    /// Keras' `padding='same'` per side for one spatial axis, exactly as TensorFlow/XLA pads:
    /// total = max((⌈size/stride⌉ − 1)·stride + kernel − size, 0), before = ⌊total/2⌋, after = the rest.
    static func samePadding(size: Int, kernel: Int, stride: Int) -> (before: Int, after: Int) {
        let out = (size + stride - 1) / stride
        let total = max((out - 1) * stride + kernel - size, 0)
        return (total / 2, total - total / 2)
    }

    /// `(h, w, c)` for our `[c, h, w]`, `(f)` for `[f]`: shapes in Keras' terms for messages.
    static func kerasShape(_ s: [Int]) -> String {
        let k = s.count == 3 ? [s[1], s[2], s[0]] : s
        return "(" + k.map(String.init).joined(separator: ", ") + ")"
    }

    /// Per-layer translation state and the shared checks.
    struct Context {
        let layer: KerasLayer
        let node: String
        let inputShapes: [[Int]]
        let file: String
        let kerasVersion: String?
        var denseOnly = false
        var config: KerasJSON { layer.config }

        func unsupported(_ message: String) -> ModelIOError {
            ModelIOError(.unsupported, file: file, location: "layer '\(layer.name)' (\(layer.className))", message)
        }

        func malformed(_ message: String) -> ModelIOError {
            ModelIOError(.malformed, file: file, location: "layer '\(layer.name)' (\(layer.className))", message)
        }

        /// The single input's shape.
        func single() throws -> [Int] {
            guard inputShapes.count == 1 else { throw unsupported("expected one input, found \(inputShapes.count)") }
            return inputShapes[0]
        }

        /// The single input as an image `[C, H, W]`.
        func image() throws -> (c: Int, h: Int, w: Int) {
            let s = try single()
            guard s.count == 3 else {
                throw unsupported("expects an image input (height, width, channels), found \(KerasLayerTranslator.kerasShape(s))")
            }
            try channelsLast()
            return (s[0], s[1], s[2])
        }

        func channelsLast() throws {
            if let f = config["data_format"]?.stringValue, f != "channels_last" {
                throw unsupported("data_format '\(f)' is not supported; only channels_last models can be imported")
            }
        }

        func int(_ key: String, default value: Int? = nil) throws -> Int {
            if let v = config[key], !v.isNull {
                guard let i = v.intValue else { throw malformed("'\(key)' must be an integer") }
                return i
            }
            guard let value else { throw malformed("missing '\(key)'") }
            return value
        }

        /// An integer or a two-element list, as Keras writes kernel sizes and strides.
        func pair(_ key: String, default value: (Int, Int)? = nil) throws -> (Int, Int) {
            if let v = config[key], !v.isNull {
                if let i = v.intValue, i > 0 { return (i, i) }
                if let a = v.arrayValue, a.count == 2, let x = a[0].intValue, let y = a[1].intValue, x > 0, y > 0 { return (x, y) }
                throw malformed("'\(key)' must be a positive integer or two of them")
            }
            guard let value else { throw malformed("missing '\(key)'") }
            return value
        }

        func padding(kernel: (Int, Int), stride: (Int, Int), h: Int, w: Int) throws -> Padding2D {
            switch config["padding"]?.stringValue ?? "valid" {
            case "valid": return .zero
            case "same":
                let (t, b) = KerasLayerTranslator.samePadding(size: h, kernel: kernel.0, stride: stride.0)
                let (l, r) = KerasLayerTranslator.samePadding(size: w, kernel: kernel.1, stride: stride.1)
                return Padding2D(top: t, bottom: b, left: l, right: r)
            case let p: throw unsupported("padding '\(p)' is not supported (valid, same)")
            }
        }

        func activationName(_ v: KerasJSON?) throws -> String {
            guard let v, !v.isNull else { return "linear" }
            // Keras 3 writes built-in activations as strings; a serialised function object
            // carries the name in "config".
            guard let name = v.stringValue ?? v["config"]?.stringValue ?? v["class_name"]?.stringValue else {
                throw malformed("cannot read its activation")
            }
            guard KerasLayerTranslator.supportedActivations.contains(name) else {
                throw unsupported("activation '\(name)' is not supported; supported: \(KerasLayerTranslator.supportedActivations.joined(separator: ", "))")
            }
            return name
        }

        /// The node for activation `name` (nil for linear). Softmax needs vectors: Keras takes it over
        /// the channel axis of an image, which is not our last axis.
        func activationSpec(_ name: String, node: String) throws -> LayerSpec? {
            if name == "linear" { return nil }
            if name == "softmax", let s = inputShapes.first, s.count != 1, layer.className == "Activation" {
                throw unsupported("softmax over the channels of an image is not supported; only over a vector")
            }
            var spec = LayerSpec(name: node, type: name)
            switch name {
            // keras.activations defaults: leaky_relu slope 0.2, elu alpha 1, gelu approximate=False.
            case "leaky_relu": spec.type = "leaky_relu"; spec.negativeSlope = 0.2
            case "elu": spec.alpha = 1
            case "gelu": spec.approximate = "none"
            case "swish", "silu": spec.type = "silu"
            case "hard_swish", "hard_silu": spec.type = "hardswish"
            case "hard_sigmoid": spec.type = try hardSigmoidType()
            default: break
            }
            return spec
        }

        /// Keras 3 computes `hard_sigmoid` as relu6(x + 3)/6 (PyTorch's formula), tf.keras 2.x
        /// and Keras 2 as clip(0.2 x + 0.5, 0, 1); a file that does not say which Keras wrote
        /// it is refused rather than guessed.
        func hardSigmoidType() throws -> String {
            guard let v = kerasVersion, let major = v.split(separator: ".").first.flatMap({ Int($0) }) else {
                throw unsupported("hard_sigmoid differs between Keras 3 (relu6(x + 3)/6) and tf.keras 2 (0.2 x + 0.5, clipped), and the file does not record its keras_version")
            }
            switch major {
            case 3...: return "hardsigmoid_torch"
            case 2: return "hardsigmoid_keras2"
            default: throw unsupported("hard_sigmoid of Keras \(v) is not supported (Keras 2 and 3 only)")
            }
        }

        /// Appends the activation argument `activation` of a Dense/Conv2D layer as its own node.
        func withActivation(_ t: inout KerasTranslation, outputRank: Int) throws {
            let name = try activationName(config["activation"])
            guard name != "linear" else { return }
            if name == "softmax" && outputRank != 1 {
                throw unsupported("softmax over the channels of an image is not supported; only over a vector")
            }
            let n = node + "/" + name
            t.ops.append(KerasOp(name: n, spec: try activationSpec(name, node: n) ?? LayerSpec(name: n, type: "identity")))
            t.notes.append(.activationNode(node: n))
            if name == "hard_sigmoid" { t.notes.append(.hardSigmoid(node: n, formula: try hardSigmoidType())) }
        }

        func dense() throws -> KerasTranslation {
            let s = try single()
            guard s.count == 1 || s.count == 3 else {
                throw unsupported("Dense on a \(KerasLayerTranslator.kerasShape(s)) input is not supported (vectors and images only)")
            }
            let units = try int("units")
            guard units > 0 else { throw malformed("'units' must be positive") }
            let bias = config["use_bias"]?.boolValue ?? true
            if s.count == 3 {
                // Keras applies Dense to the last axis, the channels of each position: in NCHW
                // that is a 1x1 convolution with the same [in, out] kernel (KerasVariables.swift).
                var spec = LayerSpec(name: node, type: "conv2d")
                spec.inChannels = s[0]; spec.outChannels = units; spec.kernel = [1, 1]; spec.stride = [1, 1]; spec.bias = bias
                var t = KerasTranslation(ops: [KerasOp(name: node, spec: spec)], variables: bias ? ["kernel", "bias"] : ["kernel"],
                                         notes: [.denseAsConv(node: node)])
                try withActivation(&t, outputRank: 3)
                return t
            }
            var spec = LayerSpec(name: node, type: "linear")
            spec.inFeatures = s[0]; spec.outFeatures = units; spec.bias = bias
            var t = KerasTranslation(ops: [KerasOp(name: node, spec: spec)], variables: bias ? ["kernel", "bias"] : ["kernel"],
                                     notes: [.denseKernel])
            try withActivation(&t, outputRank: 1)
            return t
        }

        func conv2D() throws -> KerasTranslation {
            let (c, h, w) = try image()
            let filters = try int("filters")
            guard filters > 0 else { throw malformed("'filters' must be positive") }
            let k = try pair("kernel_size"), st = try pair("strides", default: (1, 1))
            let groups = try int("groups", default: 1)
            guard groups > 0, c % groups == 0, filters % groups == 0 else {
                throw malformed("'groups' \(groups) must divide the \(c) input channels and the \(filters) filters")
            }
            let bias = config["use_bias"]?.boolValue ?? true
            let (spec, pad) = try convSpec(node, in: c, out: filters, kernel: k, stride: st, groups: groups, bias: bias, h: h, w: w)
            var t = KerasTranslation(ops: [KerasOp(name: node, spec: spec)], variables: bias ? ["kernel", "bias"] : ["kernel"],
                                     notes: [.convKernel])
            if config["padding"]?.stringValue == "same" { t.notes.append(.samePadding(node: node, padding: pad)) }
            try withActivation(&t, outputRank: 3)
            return t
        }

        func batchNorm() throws -> KerasTranslation {
            let s = try single()
            guard s.count == 1 || s.count == 3 else {
                throw unsupported("BatchNormalization of a \(KerasLayerTranslator.kerasShape(s)) input is not supported")
            }
            // Keras counts the batch axis: channels are axis -1, or 3 for images, 1 for vectors.
            let axisValue = config["axis"]
            let axis = axisValue?.intValue ?? axisValue?.arrayValue.flatMap { $0.count == 1 ? $0[0].intValue : nil } ?? -1
            guard axis == -1 || axis == s.count else {
                throw unsupported("normalisation over axis \(axis) is not supported; only the channel axis (-1)")
            }
            if config["renorm"]?.boolValue == true { throw unsupported("batch renormalisation is not supported") }
            let epsilon = config["epsilon"] ?? .number("0.001")
            let momentum = config["momentum"] ?? .number("0.99")
            guard let eps = epsilon.doubleValue, eps >= 0, let m = momentum.doubleValue else {
                throw malformed("'epsilon' and 'momentum' must be numbers")
            }
            let center = config["center"]?.boolValue ?? true, scale = config["scale"]?.boolValue ?? true
            var spec = LayerSpec(name: node, type: "batchnorm")
            spec.channels = s[0]; spec.eps = Float(eps); spec.momentum = Float(1 - m)
            var t = KerasTranslation(ops: [KerasOp(name: node, spec: spec)])
            t.variables = (scale ? ["gamma"] : []) + (center ? ["beta"] : []) + ["moving_mean", "moving_variance"]
            t.notes.append(.batchNorm(node: node, epsilon: epsilon.serialized, momentum: momentum.serialized))
            if !scale { t.notes.append(.batchNormConstant(node: node, what: "scale=False: gamma fixed at 1")) }
            if !center { t.notes.append(.batchNormConstant(node: node, what: "center=False: beta fixed at 0")) }
            return t
        }

        /// `ReLU(max_value, negative_slope, threshold)`: plain `relu`, `relu6` for max_value 6
        /// alone, else `relu_keras` with Keras' formula (PointwiseActivation.swift).
        func relu() throws -> KerasTranslation {
            _ = try single()
            func number(_ key: String) throws -> Double? {
                guard let v = config[key], !v.isNull else { return nil }
                guard let d = v.doubleValue, d.isFinite, d >= 0 else { throw malformed("'\(key)' must be a number ≥ 0, found \(v.serialized)") }
                return d
            }
            let maxValue = try number("max_value"), slope = try number("negative_slope") ?? 0, threshold = try number("threshold") ?? 0
            var spec = LayerSpec(name: node, type: "relu")
            if slope == 0 && threshold == 0 && maxValue == 6 {
                spec.type = "relu6"
            } else if slope != 0 || threshold != 0 || maxValue != nil {
                spec.type = "relu_keras"
                spec.maxValue = maxValue.map(Float.init); spec.negativeSlope = Float(slope); spec.threshold = Float(threshold)
            }
            return KerasTranslation(ops: [KerasOp(name: node, spec: spec)])
        }

        func softmax() throws -> KerasTranslation {
            let s = try single()
            let axisValue = config["axis"]
            let axis = axisValue?.intValue ?? axisValue?.arrayValue.flatMap { $0.count == 1 ? $0[0].intValue : nil } ?? -1
            guard s.count == 1, axis == -1 || axis == 1 else {
                throw unsupported("softmax over axis \(axis) of a \(KerasLayerTranslator.kerasShape(s)) input is not supported; only over a vector")
            }
            return KerasTranslation(ops: [KerasOp(name: node, spec: LayerSpec(name: node, type: "softmax"))])
        }

        func pooling(max: Bool) throws -> KerasTranslation {
            let (_, h, w) = try image()
            let k = try pair("pool_size", default: (2, 2))
            let st = try pair("strides", default: k)
            let pad = try padding(kernel: k, stride: st, h: h, w: w)
            var spec = LayerSpec(name: node, type: max ? "maxpool2d" : "avgpool2d")
            spec.kernel = [k.0, k.1]; spec.stride = [st.0, st.1]; spec.padding = [pad.top, pad.bottom, pad.left, pad.right]
            // TensorFlow averages over the in-bounds part of a 'same' window only.
            if !max { spec.countIncludePad = false }
            var t = KerasTranslation(ops: [KerasOp(name: node, spec: spec)])
            if config["padding"]?.stringValue == "same" { t.notes.append(.samePadding(node: node, padding: pad)) }
            return t
        }

        func globalPooling(max: Bool) throws -> KerasTranslation {
            let (c, _, _) = try image()
            var t = KerasTranslation(ops: [KerasOp(name: node, spec: LayerSpec(name: node, type: max ? "global_maxpool" : "global_avgpool"))])
            if config["keepdims"]?.boolValue == true {
                // (1, 1, C) in Keras is [C, 1, 1] here, with the same element order.
                var s = LayerSpec(name: node + "/keepdims", type: "reshape")
                s.shape = [c, 1, 1]
                t.ops.append(KerasOp(name: s.name, spec: s))
            }
            return t
        }

        func flatten() throws -> KerasTranslation {
            let s = try single()
            try channelsLast()
            guard s.count == 1 || s.count == 3 else {
                throw unsupported("Flatten of a \(KerasLayerTranslator.kerasShape(s)) input is not supported")
            }
            return channelsLastFlatten(s)
        }

        /// Keras' (h, w, c) flatten of our `[C, H, W]` sample `s` (docs/design.md, "Layout
        /// conversions"): a plain Flatten when the orders agree or only Dense layers read it
        /// (their kernels take the order), else `Permute([1, 2, 0])` `<layer>/nhwc` + Flatten.
        func channelsLastFlatten(_ s: [Int]) -> KerasTranslation {
            var t = KerasTranslation(ops: [KerasOp(name: node, spec: LayerSpec(name: node, type: "flatten"))])
            guard KerasFlattenOrder.reorders(s) else { return t }
            if denseOnly {
                t.notes.append(.flattenIntoDense(node: node))
            } else {
                var permute = LayerSpec(name: node + "/nhwc", type: "permute")
                permute.dims = [1, 2, 0]
                t.ops.insert(KerasOp(name: permute.name, spec: permute), at: 0)
                t.notes.append(.channelsLastFlatten(node: node))
            }
            return t
        }

        func zeroPadding() throws -> KerasTranslation {
            _ = try image()
            let p = config["padding"] ?? .number("1")
            let sides: [Int]
            if let i = p.intValue {
                sides = [i, i, i, i]
            } else if let a = p.arrayValue, a.count == 2, let h = a[0].intValue, let w = a[1].intValue {
                sides = [h, h, w, w]
            } else if let a = p.arrayValue, a.count == 2, let hv = a[0].arrayValue, let wv = a[1].arrayValue,
                      hv.count == 2, wv.count == 2, let t = hv[0].intValue, let b = hv[1].intValue,
                      let l = wv[0].intValue, let r = wv[1].intValue {
                sides = [t, b, l, r]
            } else {
                throw malformed("'padding' must be an integer, (h, w) or ((top, bottom), (left, right))")
            }
            guard sides.allSatisfy({ $0 >= 0 }) else { throw malformed("'padding' must not be negative") }
            var spec = LayerSpec(name: node, type: "zeropad2d")
            spec.padding = sides
            return KerasTranslation(ops: [KerasOp(name: node, spec: spec)])
        }

        func reshape() throws -> KerasTranslation {
            let s = try single()
            guard let target = config["target_shape"]?.arrayValue?.map({ $0.intValue ?? 0 }),
                  target.allSatisfy({ $0 > 0 || $0 == -1 }), target.filter({ $0 == -1 }).count <= 1 else {
                throw malformed("'target_shape' must list positive sizes (at most one -1)")
            }
            guard s.count == 1 || s.count == 3, target.count == 1 || target.count == 3 else {
                throw unsupported("reshaping \(KerasLayerTranslator.kerasShape(s)) to \(target) is not supported; inputs and targets must be vectors or images (height, width, channels)")
            }
            let count = s.reduce(1, *)
            let known = target.filter { $0 != -1 }.reduce(1, *)
            guard target.contains(-1) ? count % known == 0 : known == count else {
                throw ModelIOError(.mismatch, file: file, location: "layer '\(layer.name)' (Reshape)",
                                   "cannot reshape \(KerasLayerTranslator.kerasShape(s)) (\(count) values) to \(target)")
            }
            // To a vector: Keras' element order is its (h, w, c) flatten order.
            if target.count == 1 && s.count == 3 { return channelsLastFlatten(s) }
            var reshape = LayerSpec(name: node, type: "reshape")
            reshape.shape = target.count == 1 ? [count] : target
            guard target.count == 3 else { return KerasTranslation(ops: [KerasOp(name: node, spec: reshape)]) }
            // To (h', w', c'): Keras reshapes its channels-last elements, so the data goes to
            // [H, W, C] first (images), is reshaped to [h', w', c'] and comes back as [c', h', w'].
            var t = KerasTranslation(notes: [.channelsLastReshape(node: node)])
            if s.count == 3 {
                var toLast = LayerSpec(name: node + "/nhwc", type: "permute")
                toLast.dims = [1, 2, 0]
                t.ops.append(KerasOp(name: toLast.name, spec: toLast))
            }
            var back = LayerSpec(name: node + "/nchw", type: "permute")
            back.dims = [2, 0, 1]
            t.ops += [KerasOp(name: node, spec: reshape), KerasOp(name: back.name, spec: back)]
            return t
        }
    }
}

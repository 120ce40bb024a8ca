import Foundation
import NN
import ModelCore

/// Translations of Keras' grouped, dilated, depthwise and separable convolutions and of the
/// merge layers Concatenate and Multiply. Conversions: docs/keras-layers.md.
///
/// - `DepthwiseConv2D(depth_multiplier=m)` on `c` channels is a `Conv2D` with `groups = c` and
///   `c·m` outputs; Keras' output channel `i·m + j` comes from input `i`, which is exactly the
///   OIHW order of a grouped convolution, so its kernel `[kh, kw, c, m]` is read as HWIO
///   `[kh, kw, 1, c·m]` (KerasVariables.swift).
/// - `SeparableConv2D` is two nodes: `<layer>/depthwise` (no bias) and `<layer>` (the 1x1
///   pointwise convolution with the bias), then the activation.
extension KerasLayerTranslator.Context {
    /// A conv2d spec with Keras' `dilation_rate` and `padding` read from the config; `'same'`
    /// pads for the dilated extent `(k − 1)·d + 1`, as TensorFlow and XLA do.
    func convSpec(_ name: String, in c: Int, out: Int, kernel k: (Int, Int), stride st: (Int, Int), groups: Int,
                  bias: Bool, h: Int, w: Int) throws -> (LayerSpec, Padding2D) {
        let d = try pair("dilation_rate", default: (1, 1))
        let extent = ((k.0 - 1) * d.0 + 1, (k.1 - 1) * d.1 + 1)
        let pad = try padding(kernel: extent, stride: st, h: h, w: w)
        var spec = LayerSpec(name: name, type: "conv2d")
        spec.inChannels = c; spec.outChannels = out; spec.kernel = [k.0, k.1]; spec.stride = [st.0, st.1]
        spec.padding = [pad.top, pad.bottom, pad.left, pad.right]; spec.bias = bias
        if d != (1, 1) { spec.dilation = [d.0, d.1] }
        if groups != 1 { spec.groups = groups }
        return (spec, pad)
    }

    private func depthMultiplier() throws -> Int {
        let m = try int("depth_multiplier", default: 1)
        guard m > 0 else { throw malformed("'depth_multiplier' must be positive") }
        return m
    }

    func depthwiseConv2D() throws -> KerasTranslation {
        let (c, h, w) = try image()
        let m = try depthMultiplier()
        let k = try pair("kernel_size"), st = try pair("strides", default: (1, 1))
        let bias = config["use_bias"]?.boolValue ?? true
        let (spec, pad) = try convSpec(node, in: c, out: c * m, kernel: k, stride: st, groups: c, bias: bias, h: h, w: w)
        var t = KerasTranslation(ops: [KerasOp(name: node, spec: spec)],
                                 variables: bias ? ["depthwise_kernel", "bias"] : ["depthwise_kernel"],
                                 notes: [.depthwiseKernel(node: node)])
        if config["padding"]?.stringValue == "same" { t.notes.append(.samePadding(node: node, padding: pad)) }
        try withActivation(&t, outputRank: 3)
        return t
    }

    func separableConv2D() throws -> KerasTranslation {
        let (c, h, w) = try image()
        let m = try depthMultiplier()
        let filters = try int("filters")
        guard filters > 0 else { throw malformed("'filters' must be positive") }
        let k = try pair("kernel_size"), st = try pair("strides", default: (1, 1))
        let bias = config["use_bias"]?.boolValue ?? true
        let depthwise = node + "/depthwise"
        let (dw, pad) = try convSpec(depthwise, in: c, out: c * m, kernel: k, stride: st, groups: c, bias: false, h: h, w: w)
        var pw = LayerSpec(name: node, type: "conv2d")
        pw.inChannels = c * m; pw.outChannels = filters; pw.kernel = [1, 1]; pw.stride = [1, 1]; pw.bias = bias
        var t = KerasTranslation(ops: [KerasOp(name: depthwise, spec: dw), KerasOp(name: node, spec: pw)],
                                 variables: ["depthwise_kernel", "pointwise_kernel"] + (bias ? ["bias"] : []),
                                 notes: [.separable(node: node)])
        t.variableNodes = ["depthwise_kernel": depthwise]
        if config["padding"]?.stringValue == "same" { t.notes.append(.samePadding(node: depthwise, padding: pad)) }
        try withActivation(&t, outputRank: 3)
        return t
    }

    /// Keras' channel axis is −1 (or the rank, counting the batch axis); it is our axis 1 for
    /// images and vectors alike, which `concat` joins.
    func concatenate() throws -> KerasTranslation {
        guard inputShapes.count >= 2 else { throw unsupported("Concatenate needs at least two inputs, found \(inputShapes.count)") }
        let rank = inputShapes[0].count
        guard rank == 1 || rank == 3, inputShapes.allSatisfy({ $0.count == rank }) else {
            throw unsupported("concatenating \(inputShapes.map(KerasLayerTranslator.kerasShape).joined(separator: ", ")) is not supported; only vectors or images (height, width, channels)")
        }
        let axis = config["axis"].flatMap { $0.isNull ? nil : $0.intValue } ?? -1
        guard axis == -1 || axis == rank else {
            throw unsupported("concatenation along axis \(axis) is not supported; only along the channels (axis -1)")
        }
        return KerasTranslation(ops: [KerasOp(name: node, spec: LayerSpec(name: node, type: "concat"))])
    }

    /// Keras 3 writes arithmetic with a number (`x + 3.0`, `x * (1 / 6)`, as in
    /// keras.applications' MobileNetV3 hard sigmoid) as an operation `Add`/`Multiply` whose call
    /// holds the number: a `Rescaling` here (offset c, or scale c).
    func constantOperation() throws -> KerasTranslation {
        let c = layer.constants
        guard layer.className == "Add" || layer.className == "Multiply", inputShapes.count == 1, c.count == 1,
              let value = c[0].doubleValue, value.isFinite else {
            throw unsupported("\(layer.className) of \(inputShapes.count) tensors and the numbers \(c.map(\.serialized).joined(separator: ", ")) is not supported; only a tensor plus or times one number")
        }
        var spec = LayerSpec(name: node, type: "rescaling")
        spec.scale = [layer.className == "Add" ? 1 : Float(value)]
        spec.offset = [layer.className == "Add" ? Float(value) : 0]
        return KerasTranslation(ops: [KerasOp(name: node, spec: spec)], notes: [.constantOperation(node: node)])
    }

    /// Two inputs of one shape, or an image times a `(1, 1, c)` tensor (squeeze-and-excitation).
    func multiply() throws -> KerasTranslation {
        guard inputShapes.count == 2 else {
            throw unsupported("Multiply of \(inputShapes.count) inputs is not supported; only of two")
        }
        let (a, b) = (inputShapes[0], inputShapes[1])
        // A (c) vector would broadcast against an image's width in Keras, not its channels: not ours.
        let fits = a == b || (a.count == 3 && b.count == 3 && a[0] == b[0] && (Array(a.dropFirst()) == [1, 1] || Array(b.dropFirst()) == [1, 1]))
        guard fits else {
            throw unsupported("multiplying \(KerasLayerTranslator.kerasShape(a)) by \(KerasLayerTranslator.kerasShape(b)) is not supported; only equal shapes or an image by a (1, 1, channels) tensor")
        }
        return KerasTranslation(ops: [KerasOp(name: node, spec: LayerSpec(name: node, type: "multiply"))])
    }
}

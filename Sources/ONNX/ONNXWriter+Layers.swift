import Foundation
import ModelIO
import NN

/// The export table: each engine layer as standard ONNX (opset 17) nodes.
///
/// | engine layer | ONNX |
/// |---|---|
/// | Conv2D | `Conv` (pads `[top, left, bottom, right]`, strides, dilations, group) |
/// | Linear | `Gemm` transB=1 (weight `[out, in]` as stored) |
/// | BatchNorm | `BatchNormalization` (epsilon; momentum 1 − m, ONNX's convention) |
/// | ReLU, Sigmoid, Tanh, Softmax | `Relu`, `Sigmoid`, `Tanh`, `Softmax` (axis −1, `[features]` only) |
/// | ReLU6, Keras ReLU with a cap | `Clip(0, max)` |
/// | LeakyReLU, ELU, SELU, Hardswish, hard sigmoids | `LeakyRelu`, `Elu`, `Selu`, `HardSwish`, `HardSigmoid(α, β)` |
/// | SiLU | `Sigmoid` · `Mul` |
/// | GELU (erf) | `x · 0.5 · (1 + Erf(x / √2))` (opset 17 has no `Gelu`; what torch.onnx writes) |
/// | GELU (tanh) | `0.5 · x · (1 + Tanh(√(2/π) · (x + 0.044715 · x³)))` |
/// | MaxPool2D, AvgPool2D | `MaxPool`, `AveragePool` (pads, ceil_mode, count_include_pad) |
/// | GlobalAvgPool, GlobalMaxPool | `GlobalAveragePool` / `GlobalMaxPool` + `Flatten` |
/// | AdaptiveAvgPool2D | `GlobalAveragePool` (to 1×1) or `AveragePool` (sizes that divide the input) |
/// | Flatten, Permute | `Flatten`, `Transpose` (perm `[0] + (dims + 1)`, the batch axis first) |
/// | Add, Multiply, Concat | `Add`, `Mul` (a per-channel operand `Unsqueeze`d to `[C, 1, 1]`), `Concat` axis 1 |
/// | Elementwise (add, sub, mul, div with broadcasting) | `Add`, `Sub`, `Mul`, `Div` |
/// | ChannelSlice | `Slice` on axis 1 |
/// | ChannelShuffle | `Reshape` → `Transpose` → `Reshape` |
/// | ShortcutA | `Slice` (steps s on H, W) + zero `Pad` on channels |
/// | ZeroPad2D, Reshape | `Pad` (constant 0), `Reshape` (batch kept with 0) |
/// | Rescaling, Normalization (Keras) | `Mul` + `Add`, `Sub` + `Div` by per-channel constants |
/// | LayerNorm | `LayerNormalization` over channels (`Transpose`d to the last axis for images) |
/// | Upsample2D | `Resize` (nearest: asymmetric/floor; bilinear: half_pixel) |
/// | Identity, Dropout, Dropout2D | `Identity` (inference) |
extension ONNXGraphWriter {
    /// Per-channel constant shape for a per-sample shape: `[C, 1, 1]` for images, `[C]` for features.
    private func channelShape(_ s: [Int], count: Int) -> [Int] {
        count == 1 ? [] : [count] + Array(repeating: 1, count: max(s.count - 1, 0))
    }

    func emit(_ node: Graph.Node, index: Int, inputs x: [String], shapes: [[Int]], output out: String) throws {
        let s = shapes[0]
        let base = node.name.isEmpty ? "node\(index)" : node.name
        func image() throws {
            guard s.count == 3 else { throw refuse(node, "expects [C, H, W] samples, found \(s)") }
        }
        switch node.layer {
        case let l as Conv2D:
            var ins = [x[0], parameter(node, l.weight)]
            if let b = l.bias { ins.append(parameter(node, b)) }
            add("Conv", ins, out, [
                attr("kernel_shape", ints: [l.kernel.0, l.kernel.1]), attr("strides", ints: [l.stride.0, l.stride.1]),
                attr("pads", ints: [l.padding.top, l.padding.left, l.padding.bottom, l.padding.right]),
                attr("dilations", ints: [l.dilation.0, l.dilation.1]), attr("group", int: l.groups),
            ])
        case let l as Linear:
            guard s.count == 1 else { throw refuse(node, "expects [features] samples, found \(s)") }
            var ins = [x[0], parameter(node, l.weight)]
            if let b = l.bias { ins.append(parameter(node, b)) }
            add("Gemm", ins, out, [attr("transB", int: 1)])
        case let l as BatchNorm:
            let ins = [x[0]] + [l.weight, l.bias, l.runningMean, l.runningVar].map { parameter(node, $0) }
            add("BatchNormalization", ins, out, [attr("epsilon", float: l.eps), attr("momentum", float: 1 - l.momentum)])
        case is ReLU: add("Relu", x, out)
        case is Sigmoid: add("Sigmoid", x, out)
        case is Tanh: add("Tanh", x, out)
        case is Softmax:
            guard s.count == 1 else { throw refuse(node, "a softmax over [features] samples is modelled, found \(s)") }
            add("Softmax", x, out, [attr("axis", int: -1)])
        case let l as PointwiseActivation: try activation(l.function, node: node, x: x[0], base: base, out: out)
        case let l as MaxPool2D:
            try image()
            add("MaxPool", x, out, [
                attr("kernel_shape", ints: [l.kernel.0, l.kernel.1]), attr("strides", ints: [l.stride.0, l.stride.1]),
                attr("pads", ints: [l.padding.top, l.padding.left, l.padding.bottom, l.padding.right]),
                attr("ceil_mode", int: l.ceilMode ? 1 : 0),
            ])
        case let l as AvgPool2D:
            try image()
            add("AveragePool", x, out, [
                attr("kernel_shape", ints: [l.kernel.0, l.kernel.1]), attr("strides", ints: [l.stride.0, l.stride.1]),
                attr("pads", ints: [l.padding.top, l.padding.left, l.padding.bottom, l.padding.right]),
                attr("ceil_mode", int: l.ceilMode ? 1 : 0), attr("count_include_pad", int: l.countIncludePad ? 1 : 0),
            ])
        case is GlobalAvgPool, is GlobalMaxPool:
            try image()
            let pooled = add(node.layer is GlobalAvgPool ? "GlobalAveragePool" : "GlobalMaxPool", x, unique(base + ".pool"))
            add("Flatten", [pooled], out, [attr("axis", int: 1)])
        case let l as AdaptiveAvgPool2D:
            try image()
            let (oh, ow) = l.outputSize
            if (oh, ow) == (1, 1) {
                add("GlobalAveragePool", x, out)
            } else if s[1] % oh == 0, s[2] % ow == 0 {
                let k = [s[1] / oh, s[2] / ow]
                add("AveragePool", x, out, [attr("kernel_shape", ints: k), attr("strides", ints: k)])
            } else {
                throw refuse(node, "adaptive pooling of \(s[1])×\(s[2]) to \(oh)×\(ow) has windows of different sizes")
            }
        case is Flatten:
            add("Flatten", x, out, [attr("axis", int: 1)])
        case let l as Permute:
            add("Transpose", x, out, [attr("perm", ints: [0] + l.dims.map { $0 + 1 })])
        case is Add:
            var acc = x[0]
            for k in 1..<x.count {
                acc = add("Add", [acc, x[k]], k == x.count - 1 ? out : unique(base + ".sum\(k)"))
            }
        case is Multiply:
            var ins = x
            for k in 0..<2 where shapes[k].count == 1 && shapes[1 - k].count > 1 {
                let axes = int64s(base + ".axes", Array(2...shapes[1 - k].count))
                ins[k] = add("Unsqueeze", [x[k], axes], unique(base + ".unsqueeze"))
            }
            add("Mul", ins, out)
        case let l as Elementwise:
            // Both operands have the batch axis and equal rank: ONNX's broadcasting is the layer's.
            add(["add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div"][l.operation.rawValue]!, x, out)
        case is Concat: add("Concat", x, out, [attr("axis", int: 1)])
        case let l as ChannelSlice:
            add("Slice", [x[0], int64s(base + ".starts", [l.start]), int64s(base + ".ends", [l.end]), int64s(base + ".axes", [1])], out)
        case let l as ChannelShuffle:
            try image()
            let g = l.groups
            let split = add("Reshape", [x[0], int64s(base + ".split", [0, g, s[0] / g, s[1], s[2]])], unique(base + ".groups"))
            let swapped = add("Transpose", [split], unique(base + ".transpose"), [attr("perm", ints: [0, 2, 1, 3, 4])])
            add("Reshape", [swapped, int64s(base + ".merge", [0, s[0], s[1], s[2]])], out)
        case let l as ShortcutA:
            try image()
            var src = x[0]
            if l.stride > 1 {
                src = add("Slice", [x[0], int64s(base + ".starts", [0, 0]), int64s(base + ".ends", [Int(Int64.max), Int(Int64.max)]),
                                     int64s(base + ".axes", [2, 3]), int64s(base + ".steps", [l.stride, l.stride])],
                           unique(base + ".subsample"))
            }
            let after = l.outChannels - s[0] - l.padBefore
            add("Pad", [src, int64s(base + ".pads", [0, l.padBefore, 0, 0, 0, after, 0, 0])], out, [attr("mode", string: "constant")])
        case let l as ZeroPad2D:
            let p = l.padding
            add("Pad", [x[0], int64s(base + ".pads", [0, 0, p.top, p.left, 0, 0, p.bottom, p.right])], out, [attr("mode", string: "constant")])
        case let l as Reshape:
            add("Reshape", [x[0], int64s(base + ".shape", [0] + l.shape)], out)
        case let l as Rescaling:
            let scaleIsOne = l.scale.allSatisfy { $0 == 1 }, offsetIsZero = l.offset.allSatisfy { $0 == 0 }
            var src = x[0]
            if !scaleIsOne || offsetIsZero {
                let c = floats(base + ".scale", l.scale, shape: channelShape(s, count: l.scale.count))
                src = add("Mul", [src, c], offsetIsZero ? out : unique(base + ".scaled"))
            }
            if !offsetIsZero {
                add("Add", [src, floats(base + ".offset", l.offset, shape: channelShape(s, count: l.offset.count))], out)
            }
        case let l as ChannelStandardize:
            // As the layer computes it: a subtraction, then a division by max(√variance, 1e-7).
            let d = l.variance.value.data.map { max(sqrtf($0), 1e-7) }
            let centred = add("Sub", [x[0], parameter(node, l.mean, shape: channelShape(s, count: l.channels))], unique(base + ".centred"))
            add("Div", [centred, floats(base + ".std", d, shape: channelShape(s, count: l.channels))], out)
        case let l as LayerNorm:
            let scale = parameter(node, l.weight), bias = parameter(node, l.bias)
            if s.count == 1 {
                add("LayerNormalization", [x[0], scale, bias], out, [attr("axis", int: -1), attr("epsilon", float: l.eps)])
            } else {
                let last = add("Transpose", x, unique(base + ".nhwc"), [attr("perm", ints: [0] + Array(2...s.count) + [1])])
                let normed = add("LayerNormalization", [last, scale, bias], unique(base + ".norm"), [attr("axis", int: -1), attr("epsilon", float: l.eps)])
                add("Transpose", [normed], out, [attr("perm", ints: [0, s.count] + Array(1..<s.count))])
            }
        case let l as Upsample2D:
            try image()
            let scales = floats(base + ".scales", [1, 1, Float(l.factor.0), Float(l.factor.1)], shape: [4])
            let attrs = l.interpolation == .nearest
                ? [attr("mode", string: "nearest"), attr("coordinate_transformation_mode", string: "asymmetric"), attr("nearest_mode", string: "floor")]
                : [attr("mode", string: "linear"), attr("coordinate_transformation_mode", string: "half_pixel")]
            add("Resize", [x[0], "", scales], out, attrs)
        case is Identity, is Dropout, is ChannelDropout: add("Identity", x, out)
        default:
            throw refuse(node, "no standard ONNX operator computes it")
        }
    }

    private func activation(_ f: PointwiseActivation.Function, node: Graph.Node, x: String, base: String, out: String) throws {
        func scalar(_ name: String, _ v: Float) -> String { floats(base + "." + name, [v], shape: []) }
        switch f {
        case .relu6: add("Clip", [x, scalar("min", 0), scalar("max", 6)], out)
        case let .leakyReLU(slope): add("LeakyRelu", [x], out, [attr("alpha", float: slope)])
        case let .kerasReLU(maxValue, slope, threshold):
            guard slope == 0, threshold == 0 else {
                throw refuse(node, "Keras ReLU with negative_slope \(slope) and threshold \(threshold) (only 0 and 0 are written)")
            }
            if let m = maxValue { add("Clip", [x, scalar("min", 0), scalar("max", m)], out) } else { add("Relu", [x], out) }
        case let .elu(alpha): add("Elu", [x], out, [attr("alpha", float: alpha)])
        case .selu: add("Selu", [x], out)
        case .silu:
            let sig = add("Sigmoid", [x], unique(base + ".sigmoid"))
            add("Mul", [x, sig], out)
        case .hardswish: add("HardSwish", [x], out)
        case .hardsigmoidTorch: add("HardSigmoid", [x], out, [attr("alpha", float: 1 / 6), attr("beta", float: 0.5)])
        case .hardsigmoidKeras2: add("HardSigmoid", [x], out, [attr("alpha", float: 0.2), attr("beta", float: 0.5)])
        case .geluErf:
            let scaled = add("Div", [x, scalar("sqrt2", Float(2).squareRoot())], unique(base + ".div"))
            let e = add("Erf", [scaled], unique(base + ".erf"))
            let one = add("Add", [e, scalar("one", 1)], unique(base + ".add"))
            let prod = add("Mul", [x, one], unique(base + ".mul"))
            add("Mul", [prod, scalar("half", 0.5)], out)
        case .geluTanh:
            let sq = add("Mul", [x, x], unique(base + ".sq"))
            let cube = add("Mul", [sq, x], unique(base + ".cube"))
            let inner = add("Mul", [cube, scalar("c", 0.044715)], unique(base + ".cubic"))
            let sum = add("Add", [x, inner], unique(base + ".inner"))
            let arg = add("Mul", [sum, scalar("k", Float((2 / Double.pi).squareRoot()))], unique(base + ".arg"))
            let t = add("Tanh", [arg], unique(base + ".tanh"))
            let one = add("Add", [t, scalar("one", 1)], unique(base + ".add"))
            let prod = add("Mul", [x, one], unique(base + ".mul"))
            add("Mul", [prod, scalar("half", 0.5)], out)
        }
    }
}

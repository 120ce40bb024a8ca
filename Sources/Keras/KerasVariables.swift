import Foundation
import NN
import Tensor
import ModelCore

/// Moves one Keras variable between Keras' layout and our layer's parameter.
///
/// | Keras variable | Keras shape | our parameter | our shape |
/// |---|---|---|---|
/// | Dense `kernel` | `[in, out]` | Linear `weight` | `[out, in]` (transposed) |
/// | Dense `bias` | `[out]` | Linear `bias` | `[out]` |
/// | Conv2D `kernel` | `[kh, kw, in, out]` (HWIO) | Conv2D `weight` | `[out, in, kh, kw]` (OIHW) |
/// | Conv2D `kernel` with `groups` g | `[kh, kw, in/g, out]` | Conv2D `weight` | `[out, in/g, kh, kw]` |
/// | DepthwiseConv2D / SeparableConv2D `depthwise_kernel` | `[kh, kw, c, m]` | Conv2D (groups c) `weight` | `[c·m, 1, kh, kw]` (read as HWIO `[kh, kw, 1, c·m]`) |
/// | SeparableConv2D `pointwise_kernel` | `[1, 1, in, out]` | Conv2D `weight` | `[out, in, 1, 1]` |
/// | Conv2D `bias` | `[out]` | Conv2D `bias` | `[out]` |
/// | BatchNormalization `gamma`, `beta`, `moving_mean`, `moving_variance` | `[C]` | BatchNorm `weight`, `bias`, `running_mean`, `running_var` | `[C]` |
/// | LayerNormalization `gamma`, `beta` | `[C]` | LayerNorm `weight`, `bias` | `[C]` |
/// | Normalization `mean`, `variance` | `[C]` | ChannelStandardize `mean`, `variance` | `[C]` |
/// | Normalization `count` | `()` int64 | not kept (only `adapt()` uses it); written back as 0 | |
/// | Dense `kernel` on an image (a 1x1 Conv2D here) | `[in, out]` | Conv2D `weight` | `[out, in, 1, 1]` |
///
/// A Dense kernel after a Flatten of an image has its rows in Keras' (h, w, c) flatten order;
/// `columns` (`KerasFlattenOrder`) moves them to our (c, h, w) order on import and back on export.
enum KerasVariables {
    /// The parameter holding `variable` of `layer` and the shape Keras stores it in.
    static func target(_ variable: String, of layer: Layer) -> (parameter: Parameter, kerasShape: [Int])? {
        switch (layer, variable) {
        case let (l as Linear, "kernel"): return (l.weight, [l.inFeatures, l.outFeatures])
        case let (l as Linear, "bias"): return l.bias.map { ($0, [l.outFeatures]) }
        case let (c as Conv2D, "kernel"), let (c as Conv2D, "pointwise_kernel"):
            return (c.weight, [c.kernel.0, c.kernel.1, c.inChannels / c.groups, c.outChannels])
        case let (c as Conv2D, "depthwise_kernel") where c.groups == c.inChannels:
            return (c.weight, [c.kernel.0, c.kernel.1, c.inChannels, c.outChannels / c.inChannels])
        case let (c as Conv2D, "bias"): return c.bias.map { ($0, [c.outChannels]) }
        case let (b as BatchNorm, "gamma"): return (b.weight, [b.channels])
        case let (b as BatchNorm, "beta"): return (b.bias, [b.channels])
        case let (b as BatchNorm, "moving_mean"): return (b.runningMean, [b.channels])
        case let (b as BatchNorm, "moving_variance"): return (b.runningVar, [b.channels])
        case let (l as LayerNorm, "gamma"): return (l.weight, [l.channels])
        case let (l as LayerNorm, "beta"): return (l.bias, [l.channels])
        case let (n as ChannelStandardize, "mean"): return (n.mean, [n.channels])
        case let (n as ChannelStandardize, "variance"): return (n.variance, [n.channels])
        default: return nil
        }
    }

    /// Stores Keras' `values` (row-major in `shape`) into the layer, converting the layout.
    /// `columns`: for a Dense kernel after a Flatten, our column of each Keras row
    /// (`KerasFlattenOrder.columns(forLinear:in:)`). Throws `.mismatch` naming `location` when
    /// the shape disagrees with the config.
    static func assign(_ values: [Float], shape: [Int], variable: String, to layer: Layer,
                       columns: [Int]? = nil, file: String, location: String) throws {
        guard let (parameter, expected) = target(variable, of: layer) else {
            throw ModelIOError(.mismatch, file: file, location: location, "\(layer.kind) has no variable '\(variable)'")
        }
        // A Dense kernel on images is a 1x1 convolution here: [in, out] is HWIO with h = w = 1.
        if let c = layer as? Conv2D, variable == "kernel", c.kernel == (1, 1), shape == [c.inChannels, c.outChannels] {
            parameter.value = Tensor(shape: parameter.value.shape, data: hwioToOIHW(values, [1, 1] + shape))
            return
        }
        // By position (a spec with Keras 3 weights), a depthwise kernel arrives as "kernel": its
        // shape [kh, kw, c, m] (c > 1) tells it from a Conv2D(groups=c) kernel [kh, kw, 1, c·m].
        if let c = layer as? Conv2D, variable == "kernel", c.groups == c.inChannels, c.inChannels > 1,
           let d = target("depthwise_kernel", of: layer)?.kerasShape, shape == d {
            return try assign(values, shape: shape, variable: "depthwise_kernel", to: layer, file: file, location: location)
        }
        guard shape == expected, values.count == expected.reduce(1, *) else {
            throw ModelIOError(.mismatch, file: file, location: location,
                               "shape \(tuple(shape)) in the file, but the config implies \(tuple(expected))")
        }
        switch (layer, variable) {
        case (is Linear, "kernel"):
            var data = transpose(values, rows: shape[0], cols: shape[1])
            if let columns { data = permuteColumns(data, rows: shape[1], columns: columns, toEngine: true) }
            parameter.value = Tensor(shape: parameter.value.shape, data: data)
        case (is Conv2D, "kernel"), (is Conv2D, "pointwise_kernel"):
            parameter.value = Tensor(shape: parameter.value.shape, data: hwioToOIHW(values, shape))
        case (is Conv2D, "depthwise_kernel"):
            parameter.value = Tensor(shape: parameter.value.shape, data: hwioToOIHW(values, depthwiseHWIO(shape)))
        default:
            parameter.value = Tensor(shape: parameter.value.shape, data: values)
        }
    }

    /// The variable in Keras' layout: shape and row-major values (`columns` as in `assign`).
    static func kerasValue(_ variable: String, of layer: Layer, kerasClass: String? = nil,
                           columns: [Int]? = nil) -> (shape: [Int], values: [Float])? {
        if variable == "count", layer is ChannelStandardize { return ([], [0]) }
        if kerasClass == "Dense", let c = layer as? Conv2D, variable == "kernel" {
            return ([c.inChannels, c.outChannels], oihwToHWIO(c.weight.value.data, [1, 1, c.inChannels, c.outChannels]))
        }
        guard let (parameter, shape) = target(variable, of: layer) else { return nil }
        let v = parameter.value.data
        switch (layer, variable) {
        case (is Linear, "kernel"):
            let ours = columns.map { permuteColumns(v, rows: shape[1], columns: $0, toEngine: false) } ?? v
            return (shape, transpose(ours, rows: shape[1], cols: shape[0]))
        case (is Conv2D, "kernel"), (is Conv2D, "pointwise_kernel"): return (shape, oihwToHWIO(v, shape))
        case (is Conv2D, "depthwise_kernel"): return (shape, oihwToHWIO(v, depthwiseHWIO(shape)))
        default: return (shape, v)
        }
    }

    /// A depthwise kernel `[kh, kw, c, m]` seen as HWIO `[kh, kw, 1, c·m]`: output `i·m + j` reads input `i`.
    static func depthwiseHWIO(_ s: [Int]) -> [Int] { [s[0], s[1], 1, s[2] * s[3]] }

    /// A `[rows, n]` weight with columns in Keras' flatten order → ours (`toEngine`), or back:
    /// our column `columns[k]` is Keras' column `k`. A pure permutation, so exact both ways.
    static func permuteColumns(_ v: [Float], rows: Int, columns: [Int], toEngine: Bool) -> [Float] {
        let n = columns.count
        precondition(v.count == rows * n, "a [\(rows), \(n)] weight has \(rows * n) values, got \(v.count)")
        var out = [Float](repeating: 0, count: v.count)
        for r in 0..<rows {
            for k in 0..<n {
                if toEngine { out[r * n + columns[k]] = v[r * n + k] } else { out[r * n + k] = v[r * n + columns[k]] }
            }
        }
        return out
    }

    /// `[rows, cols]` → `[cols, rows]`.
    static func transpose(_ v: [Float], rows: Int, cols: Int) -> [Float] {
        var out = [Float](repeating: 0, count: v.count)
        for r in 0..<rows { for c in 0..<cols { out[c * rows + r] = v[r * cols + c] } }
        return out
    }

    /// HWIO `[kh, kw, i, o]` → OIHW `[o, i, kh, kw]`.
    static func hwioToOIHW(_ v: [Float], _ hwio: [Int]) -> [Float] {
        let (kh, kw, ci, co) = (hwio[0], hwio[1], hwio[2], hwio[3])
        var out = [Float](repeating: 0, count: v.count)
        for y in 0..<kh { for x in 0..<kw { for i in 0..<ci { for o in 0..<co {
            out[((o * ci + i) * kh + y) * kw + x] = v[((y * kw + x) * ci + i) * co + o]
        } } } }
        return out
    }

    /// OIHW → HWIO `[kh, kw, i, o]` (the inverse of `hwioToOIHW`).
    static func oihwToHWIO(_ v: [Float], _ hwio: [Int]) -> [Float] {
        let (kh, kw, ci, co) = (hwio[0], hwio[1], hwio[2], hwio[3])
        var out = [Float](repeating: 0, count: v.count)
        for y in 0..<kh { for x in 0..<kw { for i in 0..<ci { for o in 0..<co {
            out[((y * kw + x) * ci + i) * co + o] = v[((o * ci + i) * kh + y) * kw + x]
        } } } }
        return out
    }

    /// Variables read from files but not kept: Normalization's `count` (an int64 that only
    /// `adapt()` uses).
    static func isSkipped(_ variable: String, of layer: Layer) -> Bool { variable == "count" && layer is ChannelStandardize }

    static func tuple(_ s: [Int]) -> String { "(" + s.map(String.init).joined(separator: ", ") + (s.count == 1 ? ",)" : ")") }
}

import Foundation
import NN
import ModelCore

/// Translations of the Keras activation layers with options, the preprocessing layers Keras
/// applications put in the model (Rescaling, Normalization), LayerNormalization, UpSampling2D and
/// SpatialDropout2D. Formulas: docs/keras-layers.md.
extension KerasLayerTranslator.Context {
    func kerasExtra() throws -> KerasTranslation {
        var spec = LayerSpec(name: node, type: "")
        var t = KerasTranslation()
        switch layer.className {
        case "LeakyReLU":
            _ = try single()
            // Keras 3 writes negative_slope, tf.keras 2.x alpha; both default to 0.3.
            let v = config["negative_slope"] ?? config["alpha"]
            let slope = v.map { $0.isNull ? 0.3 : $0.doubleValue } ?? 0.3
            guard let slope, slope.isFinite, slope >= 0 else { throw malformed("'negative_slope' must be a number ≥ 0") }
            spec.type = "leaky_relu"; spec.negativeSlope = Float(slope)
        case "ELU":
            _ = try single()
            let v = config["alpha"]
            guard let alpha = v.map({ $0.isNull ? 1 : $0.doubleValue }) ?? 1, alpha.isFinite else { throw malformed("'alpha' must be a number") }
            spec.type = "elu"; spec.alpha = Float(alpha)
        case "Rescaling":
            _ = try single()
            spec.type = "rescaling"
            spec.scale = try numbers("scale", default: 1)
            spec.offset = try numbers("offset", default: 0)
        case "Normalization":
            let s = try single()
            try lastAxisOnly(s)
            if config["invert"]?.boolValue == true { throw unsupported("invert=True (de-normalisation) is not supported") }
            let mean = config["mean"], variance = config["variance"]
            if let mean, !mean.isNull, let variance, !variance.isNull {
                // Statistics given in the config, not stored as weights: the same map as a Rescaling.
                let m = try numbers("mean", default: 0), v = try numbers("variance", default: 1)
                guard v.allSatisfy({ $0 >= 0 }) else { throw malformed("'variance' must not be negative") }
                let d = v.map { max(sqrtf($0), ChannelStandardize.floor) }
                let n = max(m.count, d.count)
                spec.type = "rescaling"
                spec.scale = (0..<n).map { 1 / d[d.count == 1 ? 0 : $0] }
                spec.offset = (0..<n).map { -m[m.count == 1 ? 0 : $0] / d[d.count == 1 ? 0 : $0] }
                t.notes.append(.normalizationConstants(node: node))
            } else {
                spec.type = "normalization"; spec.channels = s[0]
                t.variables = ["mean", "variance", "count"]
            }
        case "LayerNormalization":
            let s = try single()
            try lastAxisOnly(s)
            if config["rms_scaling"]?.boolValue == true { throw unsupported("rms_scaling=True is not supported") }
            let epsilon = config["epsilon"].flatMap { $0.isNull ? nil : $0.doubleValue } ?? 1e-3
            guard epsilon >= 0 else { throw malformed("'epsilon' must be ≥ 0") }
            spec.type = "layernorm"; spec.channels = s[0]; spec.eps = Float(epsilon)
            let center = config["center"]?.boolValue ?? true, scale = config["scale"]?.boolValue ?? true
            t.variables = (scale ? ["gamma"] : []) + (center ? ["beta"] : [])
        case "UpSampling2D":
            _ = try image()
            let size = try pair("size", default: (2, 2))
            let interpolation = config["interpolation"]?.stringValue ?? "nearest"
            guard interpolation == "nearest" || interpolation == "bilinear" else {
                throw unsupported("interpolation '\(interpolation)' is not supported (nearest, bilinear)")
            }
            spec.type = "upsample2d"; spec.scaleFactor = [size.0, size.1]; spec.mode = interpolation
        case "SpatialDropout2D":
            _ = try image()
            let rate = config["rate"]?.doubleValue ?? 0.5
            guard (0..<1).contains(rate) else { throw malformed("'rate' must be in [0, 1)") }
            spec.type = "dropout2d"; spec.p = Float(rate)
        default:
            preconditionFailure("kerasExtra called for \(layer.className)")
        }
        t.ops = [KerasOp(name: node, spec: spec)]
        return t
    }

    /// Keras' axis −1 (the channels of an image, the features of a vector) is our axis 1; a
    /// layer over other axes has no counterpart here.
    private func lastAxisOnly(_ s: [Int]) throws {
        try channelsLast()
        let v = config["axis"]
        let axes = v.flatMap { $0.isNull ? nil : ($0.intValue.map { [$0] } ?? $0.arrayValue?.compactMap(\.intValue)) } ?? [-1]
        guard axes.count == 1, axes[0] == -1 || axes[0] == s.count else {
            throw unsupported("axis \(v?.serialized ?? "-1") is not supported; only the last (channel) axis, -1")
        }
    }

    /// A number or a list of numbers (one per channel).
    private func numbers(_ key: String, default value: Float) throws -> [Float] {
        guard let v = config[key], !v.isNull else { return [value] }
        if let d = v.doubleValue, d.isFinite { return [Float(d)] }
        if let a = v.arrayValue, !a.isEmpty {
            let ds = a.compactMap(\.doubleValue)
            if ds.count == a.count, ds.allSatisfy(\.isFinite) { return ds.map(Float.init) }
        }
        throw malformed("'\(key)' must be a number or a list of numbers, found \(v.serialized)")
    }
}

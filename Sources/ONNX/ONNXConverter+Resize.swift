import Foundation
import ModelIO

/// `Resize` of an image by integer factors → the engine's `upsample2d`:
/// - `mode` nearest with `coordinate_transformation_mode` asymmetric and `nearest_mode` floor
///   (`nn.Upsample(mode="nearest")`, Keras' `UpSampling2D`): each value repeated;
/// - `mode` linear with half_pixel or pytorch_half_pixel (the same when the output has more than
///   one pixel, as an upsampled image has): `nn.Upsample(mode="bilinear", align_corners=False)`.
/// The factors come from constant `scales` `[1, 1, sh, sw]` or `sizes` `[N, C, H·sh, W·sw]`
/// (folded shape computations included). Anything else (downsampling, fractional factors,
/// align_corners, cubic, antialias, `axes`) is refused naming the attribute.
extension ONNXConverter {
    func resize(_ n: Onnx_NodeProto, loc: String) throws {
        func fail(_ m: String) -> ModelIOError { ModelIOError(.unsupported, file: file, location: loc, m) }
        guard case let .act(x, s)? = values[n.input[0]] else { throw fail("input 0 must be computed from the model input") }
        guard s.count == 3 else { throw fail("expects [C, H, W] samples, found \(s)") }
        func const(_ i: Int) -> ONNXTensor? {
            guard i < n.input.count, !n.input[i].isEmpty, case let .const(t)? = values[n.input[i]], t.count > 0 else { return nil }
            return t
        }
        if n.input.count > 1, !n.input[1].isEmpty, let roi = const(1), !roi.values.isEmpty, attrString(n, "coordinate_transformation_mode", default: "half_pixel") == "tf_crop_and_resize" {
            throw fail("roi with tf_crop_and_resize is not modelled (\(roi.count) values)")
        }
        var factors: [Double]
        if let scales = const(2) {
            guard scales.count == 4 else { throw fail("scales \(scales.values); four values [1, 1, sh, sw] are expected") }
            factors = scales.values
        } else if let sizes = const(3) {
            guard sizes.count == 4 else { throw fail("sizes \(sizes.values); four values [N, C, H, W] are expected") }
            let full = [Double.nan, Double(s[0]), Double(s[1]), Double(s[2])]
            factors = zip(sizes.values, full).map { v, d in d.isNaN ? (v.isNaN ? 1 : .nan) : v / d }
        } else {
            throw fail("scales or sizes must be a constant (or a folded shape computation)")
        }
        guard factors[0] == 1, factors[1] == 1, factors[2] >= 1, factors[3] >= 1,
              factors[2] == factors[2].rounded(), factors[3] == factors[3].rounded(), factors[2] < 1e6, factors[3] < 1e6 else {
            throw fail("resize factors \(factors) (batch, channels, H, W); integer upsampling of H and W only is modelled")
        }
        if n.attribute.contains(where: { $0.name == "axes" }) { throw fail("attribute 'axes' is not modelled") }
        if try attrInt(n, "antialias", default: 0) != 0 { throw fail("antialias=1 is not modelled") }
        if try attrInt(n, "exclude_outside", default: 0) != 0 { throw fail("exclude_outside=1 is not modelled") }
        let policy = attrString(n, "keep_aspect_ratio_policy", default: "stretch")
        if policy != "stretch" { throw fail("keep_aspect_ratio_policy '\(policy)' is not modelled") }
        let mode = attrString(n, "mode", default: "nearest")
        let transform = attrString(n, "coordinate_transformation_mode", default: "half_pixel")
        let interpolation: String
        switch mode {
        case "nearest":
            let rounding = attrString(n, "nearest_mode", default: "round_prefer_floor")
            // With integer factors, asymmetric + floor picks ⌊i / s⌋; half_pixel with
            // round_prefer_ceil would too, but exporters write the former.
            guard transform == "asymmetric", rounding == "floor" else {
                throw fail("nearest with coordinate_transformation_mode '\(transform)' and nearest_mode '\(rounding)'; asymmetric with floor is modelled")
            }
            interpolation = "nearest"
        case "linear":
            guard transform == "half_pixel" || transform == "pytorch_half_pixel" else {
                throw fail("linear with coordinate_transformation_mode '\(transform)'; half_pixel (align_corners=False) is modelled")
            }
            interpolation = "bilinear"
        default:
            throw fail("mode '\(mode)'; nearest and linear are modelled")
        }
        var ls = LayerSpec(name: layerName(n), type: "upsample2d")
        ls.scaleFactor = [Int(factors[2]), Int(factors[3])]; ls.mode = interpolation
        note("resize", "Resize by integer factors → Upsample2D (nearest: asymmetric/floor; linear: half_pixel)")
        try addLayer(ls, node: n, inputs: [x], output: n.output[0])
    }

    /// Selu with ONNX's default constants (the engine's `selu`, PyTorch's and Keras' SELU).
    func selu(_ n: Onnx_NodeProto, loc: String) throws {
        let alpha = attrFloat(n, "alpha", default: 1.67326319217681884765625)
        let gamma = attrFloat(n, "gamma", default: 1.05070102214813232421875)
        guard abs(alpha - 1.6732632) <= 1e-6, abs(gamma - 1.050701) <= 1e-6 else {
            throw ModelIOError(.unsupported, file: file, location: loc, "alpha \(alpha), gamma \(gamma); only SELU's standard constants are modelled")
        }
        guard case let .act(x, _)? = values[n.input[0]] else {
            throw ModelIOError(.unsupported, file: file, location: loc, "input 0 must be computed from the model input")
        }
        try addLayer(LayerSpec(name: layerName(n), type: "selu"), node: n, inputs: [x], output: n.output[0])
    }
}

import Foundation
import ModelIO

/// The operator table: each ONNX node reading an activation becomes one engine layer (or none,
/// for Identity/Dropout and reshapes that change nothing). Attributes the engine does not
/// model are errors naming the node, never ignored.
extension ONNXConverter {
    static let layerOps: Set<String> = ["Conv", "BatchNormalization", "Gemm", "MatMul", "Add", "Mul", "Relu", "Clip",
                                        "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu", "Concat",
                                        "Flatten", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
                                        "Dropout", "Identity", "Reshape", "Slice", "Pad", "Softmax",
                                        "Sub", "Div", "ReduceMean", "Split", "Gelu", "Transpose", "Unsqueeze", "Squeeze",
                                        "LayerNormalization", "Resize", "Selu"]
    static var supportedOps: Set<String> { layerOps.union(foldedOps) }

    func convertNode(_ n: Onnx_NodeProto) throws {
        if try fold(n) { return }
        let loc = "node '\(label(n))' (\(n.opType))"
        func fail(_ m: String) -> ModelIOError { ModelIOError(.unsupported, file: file, location: loc, m) }
        func act(_ i: Int) throws -> (String, [Int]) {
            guard i < n.input.count, case let .act(l, s)? = values[n.input[i]] else {
                throw fail("input \(i) must be computed from the model input")
            }
            return (l, s)
        }
        func const(_ i: Int) -> ONNXTensor? {
            guard i < n.input.count, case let .const(t)? = values[n.input[i]] else { return nil }
            return t
        }
        let out = n.output.first ?? ""
        try checkViews(n, loc: loc)
        for (k, o) in n.output.enumerated() where k > 0 && !o.isEmpty && readers[o, default: 0] > 0 && n.opType != "Split" && n.opType != "LayerNormalization" {
            throw fail("output \(k) ('\(o)') is used; only the first output is supported")
        }
        func simple(_ type: String, _ configure: (inout LayerSpec) -> Void = { _ in }) throws {
            let (x, _) = try act(0)
            var ls = LayerSpec(name: layerName(n), type: type)
            configure(&ls)
            try addLayer(ls, node: n, inputs: [x], output: out)
        }

        switch n.opType {
        case "Conv": try conv(n, loc: loc)
        case "BatchNormalization":
            let (x, s) = try act(0)
            guard try attrInt(n, "training_mode", default: 0) == 0 else { throw fail("training_mode=1 is not supported") }
            let names = ["weight", "bias", "running_mean", "running_var"]
            let ts = try (1...4).map { i -> ONNXTensor in
                guard let t = const(i), t.count == s[0] else { throw fail("\(names[i - 1]) must be a constant of \(s[0]) values") }
                return t
            }
            var ls = LayerSpec(name: layerName(n, weight: n.input[1]), type: "batchnorm")
            ls.channels = s[0]; ls.eps = attrFloat(n, "epsilon", default: 1e-5)
            let (name, _) = try addLayer(ls, node: n, inputs: [x], output: out)
            for (p, t) in zip(names, ts) { addWeight(name, p, t.floats, shape: [s[0]]) }
        case "Gemm": try gemm(n, loc: loc)
        case "MatMul":
            let (x, s) = try act(0)
            guard s.count == 1, let w = const(1), w.shape.count == 2, w.shape[0] == s[0] else {
                throw fail("only [N, features] × constant [features, out] is supported")
            }
            let (inF, outF) = (w.shape[0], w.shape[1])
            var ls = LayerSpec(name: layerName(n), type: "linear")
            ls.inFeatures = inF; ls.outFeatures = outF; ls.bias = true
            let (name, _) = try addLayer(ls, node: n, inputs: [x], output: out)
            addWeight(name, "weight", channelsLastColumns(transpose(w.floats, rows: inF, cols: outF), input: n.input[0], outFeatures: outF), shape: [outF, inF])
            addWeight(name, "bias", [Float](repeating: 0, count: outF), shape: [outF])
            pendingBias[out] = (name, outF)
            note("matmul", "MatMul weights [in, out] → Linear [out, in]; a following Add of a constant vector becomes its bias")
        case "Add", "Mul", "Sub", "Div": try binary(n, loc: loc)
        case "ReduceMean": try reduceMean(n, loc: loc)
        case "Split": try split(n, loc: loc)
        case "Transpose": try transposeView(n, loc: loc)
        case "Unsqueeze", "Squeeze": try squeeze(n, loc: loc)
        case "Gelu":
            let approx = attrString(n, "approximate", default: "none")
            guard approx == "none" || approx == "tanh" else { throw fail("approximate '\(approx)'; none and tanh are modelled") }
            try simple("gelu") { $0.approximate = approx }
        case "LayerNormalization": try layerNormalization(n, loc: loc)
        case "Resize": try resize(n, loc: loc)
        case "Selu": try selu(n, loc: loc)
        case "GatherND": try gatherPool(n, loc: loc)
        case "Relu": try simple("relu")
        case "Sigmoid": try simple("sigmoid")
        case "Tanh": try simple("tanh")
        case "HardSwish": try simple("hardswish")
        case "LeakyRelu": try simple("leaky_relu") { $0.negativeSlope = self.attrFloat(n, "alpha", default: 0.01) }
        case "Elu": try simple("elu") { $0.alpha = self.attrFloat(n, "alpha", default: 1) }
        case "HardSigmoid":
            let a = attrFloat(n, "alpha", default: 0.2), b = attrFloat(n, "beta", default: 0.5)
            note("hardsigmoid", "HardSigmoid(alpha, beta) → the PyTorch or Keras 2 hard sigmoid with the same constants")
            if abs(a - 1 / 6) < 1e-6 && b == 0.5 { try simple("hardsigmoid_torch") }
            else if a == 0.2 && b == 0.5 { try simple("hardsigmoid_keras2") }
            else { throw fail("alpha \(a), beta \(b): only PyTorch's (1/6, 0.5) and Keras 2's (0.2, 0.5) are modelled") }
        case "Clip":
            guard n.input.count <= 1 || n.input[1].isEmpty || const(1) != nil, n.input.count <= 2 || n.input[2].isEmpty || const(2) != nil else {
                throw fail("min and max must be constants")
            }
            let lo = n.input.count > 1 && !n.input[1].isEmpty ? const(1)!.values.first : nil
            let hi = n.input.count > 2 && !n.input[2].isEmpty ? const(2)!.values.first : nil
            note("clip", "Clip(min 0, max) → ReLU (no max), ReLU6 (max 6) or a ReLU capped at max")
            guard lo == 0 else { throw fail("clip(min: \(lo.map { "\($0)" } ?? "none")); only min 0 (ReLU, ReLU6, ReLU with a cap) is modelled") }
            if hi == nil { try simple("relu") }
            else if hi == 6 { try simple("relu6") }
            else { try simple("relu_keras") { $0.maxValue = Float(hi!); $0.negativeSlope = 0; $0.threshold = 0 } }
        case "Concat":
            var xs: [String] = [], rank = 0
            for i in 0..<n.input.count { let (l, s) = try act(i); xs.append(l); rank = s.count + 1 }
            let axis = try attrInt(n, "axis", default: 1)
            guard axis == 1 || axis == 1 - rank else { throw fail("concat on axis \(axis); only the channel axis (1) is modelled") }
            try addLayer(LayerSpec(name: layerName(n), type: "concat"), node: n, inputs: xs, output: out)
        case "Flatten":
            let (_, s) = try act(0)
            guard try attrInt(n, "axis", default: 1) == 1 else { throw fail("only axis 1 (keep the batch axis) is modelled") }
            if s.count == 1 { values[out] = values[n.input[0]] } else { try simple("flatten") }
        case "Reshape": try reshape(n, loc: loc)
        case "MaxPool", "AveragePool": try pool(n, loc: loc)
        case "GlobalAveragePool":
            // [C, H, W] → [C, 1, 1] as in ONNX (a later Flatten makes it [C]).
            note("gap", "GlobalAveragePool → adaptive average pool to 1×1 (keeps ONNX's [C, 1, 1] shape)")
            try simple("adaptive_avgpool2d") { $0.outputSize = [1, 1] }
        case "GlobalMaxPool":
            let (x, s) = try act(0)
            guard s.count == 3 else { throw fail("expects [C, H, W] samples") }
            let (g, _) = try addLayer(LayerSpec(name: layerName(n), type: "global_maxpool"), node: n, inputs: [x])
            var r = LayerSpec(name: layerName(n) + ".reshape", type: "reshape"); r.shape = [s[0], 1, 1]
            try addLayer(r, node: n, inputs: [g], output: out)
        case "Dropout", "Identity":
            _ = try act(0)
            values[out] = values[n.input[0]]
            if n.opType == "Dropout" { note("dropout", "Dropout removed (inference: identity)") }
        case "Slice": try slice(n, loc: loc)
        case "Pad": try pad(n, loc: loc)
        case "Softmax": throw fail("a softmax is supported only as the model's final node (it is split off)")
        default: throw fail("is not supported on activations (only on constants)")
        }
    }

    func transpose(_ v: [Float], rows: Int, cols: Int) -> [Float] {
        var t = [Float](repeating: 0, count: v.count)
        for i in 0..<rows { for j in 0..<cols { t[j * rows + i] = v[i * cols + j] } }
        return t
    }
}

import Tensor

/// Central finite-difference check of a layer's (or graph's) backward pass.
///
/// For a random projection `R` of the output, the scalar `S(x, θ) = Σ R ⊙ f(x; θ)` has
/// analytic gradients `backward(R)`; each is compared with
/// `(S(x + h e_i) − S(x − h e_i)) / 2h` evaluated in float32 with Double accumulation.
/// Agreement is judged per element with `|a − n| ≤ atol + rtol·max(|a|, |n|)`.
public enum GradientCheck {
    public struct Report: CustomStringConvertible {
        /// Largest absolute difference seen, and where ("input 0[17]", "weight[3]").
        public var maxError: Float = 0
        public var worst: String = ""
        /// Elements that failed the tolerance, with a description each (first 10).
        public var failures: [String] = []
        public var checked = 0
        public var passed: Bool { failures.isEmpty }
        public var description: String {
            "checked \(checked) elements, max |analytic − numeric| \(maxError) at \(worst)"
                + (failures.isEmpty ? "" : "; failures: " + failures.prefix(10).joined(separator: "; "))
        }
    }

    /// Deterministic pseudo-random values in [-1, 1) for test inputs and projections.
    public static func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
        var s = seed &* 0x9E3779B97F4A7C15 | 1
        let n = shape.reduce(1, *)
        var d = [Float](repeating: 0, count: n)
        for i in 0..<n {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            d[i] = Float(s >> 40) / Float(1 << 23) - 1
        }
        return Tensor(shape: shape, data: d)
    }

    /// Checks input gradients (every input element, or a strided subset of at most
    /// `maxPerTensor`) and parameter gradients of `layer` at `inputs` in `mode`.
    ///
    /// In `.training` mode layers that update state on forward (BatchNorm running statistics)
    /// are re-run many times; that is harmless because the check only reads outputs.
    /// Layers with randomness (dropout) must be made deterministic by the caller.
    public static func check(_ layer: Layer, inputs: [Tensor], mode: Mode = .training,
                             h: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2,
                             maxPerTensor: Int = 400, seed: UInt64 = 7) -> Report {
        let call = LayerCall(layer)
        return check(forward: { call.forward($0, mode: mode) },
              backward: { call.backward($0, parameterGradients: true) },
              parameters: layer.parameters, inputs: inputs, h: h, atol: atol, rtol: rtol,
              maxPerTensor: maxPerTensor, seed: seed)
    }

    /// Same check for a whole graph with one input.
    public static func check(_ graph: Graph, input: Tensor, mode: Mode = .training,
                             h: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2,
                             maxPerTensor: Int = 400, seed: UInt64 = 7) -> Report {
        check(forward: { graph.forward($0[0], mode: mode) },
              backward: { [graph.backward($0, parameterGradients: true)] },
              parameters: graph.trainableParameters, inputs: [input], h: h, atol: atol, rtol: rtol,
              maxPerTensor: maxPerTensor, seed: seed)
    }

    /// The general form: `forward` maps inputs to an output; `backward` maps dS/dOutput to
    /// input gradients and accumulates into `parameters`' `grad`.
    public static func check(forward: ([Tensor]) -> Tensor, backward: (Tensor) -> [Tensor],
                             parameters: [Parameter], inputs: [Tensor],
                             h: Float, atol: Float, rtol: Float, maxPerTensor: Int, seed: UInt64) -> Report {
        var report = Report()
        let out = forward(inputs)
        let r = randomTensor(out.shape, seed: seed)
        for p in parameters { p.zeroGrad() }
        let gradInputs = backward(r)
        let params = parameters.filter(\.isTrainable)
        let analyticParams = params.map(\.grad)

        func score(_ xs: [Tensor]) -> Double {
            let o = forward(xs)
            var s: Double = 0
            for i in 0..<o.count { s += Double(o.data[i]) * Double(r.data[i]) }
            return s
        }
        func compare(_ a: Float, _ n: Float, _ label: String) {
            let err = abs(a - n)
            report.checked += 1
            if err > report.maxError { report.maxError = err; report.worst = label }
            if err > atol + rtol * max(abs(a), abs(n)) {
                report.failures.append("\(label): analytic \(a), numeric \(n)")
            }
        }
        func indices(_ n: Int) -> [Int] {
            n <= maxPerTensor ? Array(0..<n) : (0..<maxPerTensor).map { $0 * n / maxPerTensor }
        }
        for (t, x) in inputs.enumerated() {
            for i in indices(x.count) {
                var xs = inputs
                xs[t].data[i] = x.data[i] + h
                let plus = score(xs)
                xs[t].data[i] = x.data[i] - h
                let minus = score(xs)
                compare(gradInputs[t].data[i], Float((plus - minus) / Double(2 * h)), "input \(t)[\(i)]")
            }
        }
        for (p, analytic) in zip(params, analyticParams) {
            let original = p.value
            for i in indices(original.count) {
                p.value.data[i] = original.data[i] + h
                let plus = score(inputs)
                p.value.data[i] = original.data[i] - h
                let minus = score(inputs)
                p.value.data[i] = original.data[i]
                compare(analytic.data[i], Float((plus - minus) / Double(2 * h)), "\(p.name)[\(i)]")
            }
        }
        return report
    }
}

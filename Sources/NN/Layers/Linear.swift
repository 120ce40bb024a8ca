import Tensor

/// Fully connected layer (`torch.nn.Linear`): `y = x Wᵀ + b`.
///
/// Shapes: input `[N, in]` → output `[N, out]`; `weight` `[out, in]`, `bias` `[out]`
/// (state-dict keys `weight`, `bias`). `bias` defaults to true. Weights start at zero; use
/// `initialiseLikePyTorch` or load a state dict.
///
/// Backward: `dx = dy W`, `dW += dyᵀ x`, `db += Σ_n dy_n`.
public final class Linear: Layer {
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?

    // The last forward input [N, in] (shares storage with the caller's tensor; no copy).
    private var input = Tensor.zeros([0, 0])

    public init(inFeatures: Int, outFeatures: Int, bias: Bool = true) {
        precondition(inFeatures > 0 && outFeatures > 0, "Linear needs positive sizes, got \(inFeatures)->\(outFeatures)")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = Parameter(name: "weight", value: Tensor.zeros([outFeatures, inFeatures]))
        self.bias = bias ? Parameter(name: "bias", value: Tensor.zeros([outFeatures])) : nil
    }

    public var kind: String { "Linear" }
    public var summary: String { "\(inFeatures)->\(outFeatures)" + (bias == nil ? ", no bias" : "") }
    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1 else {
            throw NNError.shape("", "Linear takes one input, got \(inputShapes.count)")
        }
        guard inputShapes[0] == [inFeatures] else {
            throw NNError.shape("", "Linear expects per-sample input [\(inFeatures)], got \(inputShapes[0])"
                                + (inputShapes[0].count > 1 ? " (add a flatten layer first)" : ""))
        }
        return [outFeatures]
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]                                   // [N, in]
        precondition(x.rank == 2 && x.shape[1] == inFeatures, "Linear(\(summary)) got input \(x.shape)")
        let n = x.shape[0]
        input = x
        var y = Tensor(shape: [n, outFeatures])             // [N, out]
        y.data.withUnsafeMutableBufferPointer { yp in
            if let b = bias {
                // Broadcast the bias into y, then accumulate the product on top (beta = 1).
                b.value.data.withUnsafeBufferPointer { bp in
                    for r in 0..<n { (yp.baseAddress! + r * outFeatures).update(from: bp.baseAddress!, count: outFeatures) }
                }
            }
            x.data.withUnsafeBufferPointer { xp in
                weight.value.data.withUnsafeBufferPointer { wp in
                    sgemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: xp.baseAddress!,
                          b: wp.baseAddress!, beta: bias == nil ? 0 : 1, c: yp.baseAddress!)
                }
            }
        }
        return y
    }

    public func backward(_ gradOutput: Tensor, parameterGradients: Bool) -> [Tensor] {
        let n = input.shape[0]
        precondition(gradOutput.shape == [n, outFeatures], "Linear backward: gradient \(gradOutput.shape), expected \([n, outFeatures])")
        var dx = Tensor(shape: [n, inFeatures])             // [N, in] = dy [N, out] · W [out, in]
        gradOutput.data.withUnsafeBufferPointer { dy in
            dx.data.withUnsafeMutableBufferPointer { dxp in
                weight.value.data.withUnsafeBufferPointer { wp in
                    sgemm(m: n, n: inFeatures, k: outFeatures, a: dy.baseAddress!, b: wp.baseAddress!, c: dxp.baseAddress!)
                }
            }
            guard parameterGradients else { return }
            // dW [out, in] += dyᵀ [out, N] · x [N, in]
            input.data.withUnsafeBufferPointer { xp in
                weight.grad.data.withUnsafeMutableBufferPointer { gw in
                    sgemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: dy.baseAddress!,
                          b: xp.baseAddress!, beta: 1, c: gw.baseAddress!)
                }
            }
            if let b = bias {
                b.grad.data.withUnsafeMutableBufferPointer { gb in
                    for r in 0..<n {
                        let row = dy.baseAddress! + r * outFeatures
                        for j in 0..<outFeatures { gb[j] += row[j] }
                    }
                }
            }
        }
        return [dx]
    }
}

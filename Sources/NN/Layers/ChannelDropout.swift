import Tensor

/// Channel dropout: Keras' `SpatialDropout2D(rate)` and PyTorch's `nn.Dropout2d(p)`. In training
/// each (sample, channel) plane is kept with probability `1 − p` and scaled by `1/(1 − p)`, or
/// zeroed whole; inference is the identity.
///
///     training:  y[n, c, …] = x[n, c, …] · m[n, c],  m = 1/(1 − p) if u ≥ p else 0
///
/// Shapes: `[N, C, H, W]` → same. One draw per plane from `generator`, in (n, c) order, so a
/// run is reproducible (callers seed it, as for `Dropout`). Backward multiplies by the same mask.
public final class ChannelDropout: Layer {
    public var p: Float
    public var generator: SeededGenerator
    private var mask: [Float] = []
    private var lastMode: Mode = .inference

    public init(p: Float, generator: SeededGenerator = SeededGenerator(seed: 0)) {
        precondition(p >= 0 && p <= 1, "Dropout probability must be in [0, 1], got \(p)")
        self.p = p
        self.generator = generator
    }

    public var kind: String { "ChannelDropout" }
    public var summary: String { "p \(p), whole channels" }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        let s = try singleInputShape(inputShapes, kind)
        guard s.count == 3 else { throw NNError.shape("", "channel dropout expects [C, H, W], got \(s)") }
        return s
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        lastMode = mode
        guard mode == .training, p > 0 else { return x }
        let planes = x.shape[0] * x.shape[1], inner = x.count / max(planes, 1)
        let scale: Float = p < 1 ? 1 / (1 - p) : 0
        mask = (0..<planes).map { _ in generator.nextFloat() >= p ? scale : 0 }
        return Self.apply(x, mask, inner)
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        guard lastMode == .training, p > 0 else { return [gradOutput] }
        precondition(gradOutput.count % max(mask.count, 1) == 0, "ChannelDropout backward: gradient does not match the last forward")
        return [Self.apply(gradOutput, mask, gradOutput.count / max(mask.count, 1))]
    }

    private static func apply(_ x: Tensor, _ mask: [Float], _ inner: Int) -> Tensor {
        var y = Tensor(shape: x.shape)
        x.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                for (plane, m) in mask.enumerated() {
                    scaleElements(yp.baseAddress! + plane * inner, xp.baseAddress! + plane * inner, m, inner)
                }
            }
        }
        return y
    }
}

import Tensor

/// Inverted dropout (`torch.nn.Dropout`): in training each element is kept with probability
/// `1 − p` and scaled by `1/(1 − p)`, so inference is the identity with no rescaling.
///
///     training:  y = x ⊙ m,  m_i = 1/(1 − p) if u_i ≥ p else 0,  u_i ~ U[0, 1) from `generator`
///     inference: y = x
///
/// Shapes: any → same. `p` in `[0, 1]`; `p = 1` drops everything. The mask comes from the
/// layer's own `generator` (seed 0 by default) so a run is reproducible: callers seed it, and
/// save/restore `generator.state` in checkpoints. Backward multiplies by the same mask.
public final class Dropout: Layer {
    public var p: Float
    /// Source of the masks; one draw per element per training forward, in element order
    /// (element i is kept iff that draw's `nextFloat()` would be ≥ p).
    public var generator: SeededGenerator

    // Mask of the last training forward (0 or 1/(1−p) per element), reused across calls of one size.
    private var mask: [Float] = []
    private var lastShape: [Int] = []
    private var lastMode: Mode = .inference

    public init(p: Float, generator: SeededGenerator = SeededGenerator(seed: 0)) {
        precondition(p >= 0 && p <= 1, "Dropout probability must be in [0, 1], got \(p)")
        self.p = p
        self.generator = generator
    }

    public var kind: String { "Dropout" }
    public var summary: String { "p \(p)" }
    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] { try singleInputShape(inputShapes, kind) }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        lastMode = mode
        lastShape = x.shape
        guard mode == .training, p > 0 else { return x }
        if mask.count != x.count { mask = [Float](repeating: 0, count: x.count) }
        // p = 1 would scale by ∞; every element is dropped, so the scale is irrelevant.
        let scale: Float = p < 1 ? 1 / (1 - p) : 0
        var y = Tensor(shape: x.shape)
        // The generator lives in a local for the loop: draws then stay in registers instead of
        // going through class-property access per element.
        var rng = generator
        // u = bits·2⁻²⁴ ≥ p  ⇔  bits ≥ ⌈p·2²⁴⌉; the test is done with a subtraction's sign bit
        // because a branch on a random bit mispredicts half the time (≈4x slower at p = 0.5).
        let threshold = UInt64((Double(p) * 0x1p24).rounded(.up))
        mask.withUnsafeMutableBufferPointer { mp in
            x.data.withUnsafeBufferPointer { xp in
                y.data.withUnsafeMutableBufferPointer { yp in
                    var g = rng
                    for i in 0..<xp.count {
                        let dropped = ((g.next() >> 40) &- threshold) >> 63   // 1 if bits < threshold
                        let m = scale * Float(1 &- dropped)
                        mp[i] = m
                        yp[i] = xp[i] * m
                    }
                    rng = g
                }
            }
        }
        generator = rng
        return y
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        precondition(gradOutput.shape == lastShape, "Dropout backward: gradient \(gradOutput.shape), expected \(lastShape)")
        guard lastMode == .training, p > 0 else { return [gradOutput] }
        var dx = Tensor(shape: gradOutput.shape)
        mask.withUnsafeBufferPointer { mp in
            gradOutput.data.withUnsafeBufferPointer { dy in
                dx.data.withUnsafeMutableBufferPointer { d in
                    for i in 0..<d.count { d[i] = dy[i] * mp[i] }
                }
            }
        }
        return [dx]
    }
}

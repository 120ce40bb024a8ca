import Tensor

/// A first-order optimiser over a fixed list of parameters.
///
/// `step()` applies one update from the parameters' accumulated `grad`; `zeroGrad()` clears
/// them. For exact checkpoint resume, `state` exposes every internal buffer (momentum, moments)
/// keyed `"<buffer>.<i>"`, i an index into the optimiser's trainable parameters
/// (`momentum_buffer.3`, `exp_avg_sq.0`), and `stepCount` the number of steps taken. Buffers
/// that do not exist yet (before the first step) are absent.
public protocol Optimizer: AnyObject {
    var learningRate: Float { get set }
    func step()
    func zeroGrad()
    var state: [String: Tensor] { get set }
    var stepCount: Int { get set }
}

extension Optimizer {
    /// Checks that a restored state buffer fits its parameter (a programmer error otherwise).
    func validated(_ key: String, _ t: Tensor, _ parameters: [Parameter], prefix: String) -> (Int, [Float])? {
        guard key.hasPrefix(prefix + "."), let i = Int(key.dropFirst(prefix.count + 1)) else { return nil }
        precondition(i >= 0 && i < parameters.count, "optimiser state \(key): no parameter \(i)")
        precondition(t.shape == parameters[i].value.shape,
                     "optimiser state \(key): shape \(t.shape), parameter has \(parameters[i].value.shape)")
        return (i, t.data)
    }
}

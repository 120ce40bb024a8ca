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
    /// The trainable parameters, in the order `state`'s indices refer to.
    var parameters: [Parameter] { get }
    /// The names of the buffers `state` holds per parameter (`momentum_buffer`; `exp_avg`,
    /// `exp_avg_sq`): the one definition of the state's key format, `"<buffer>.<i>"`.
    static var stateBuffers: [String] { get }
}

extension Optimizer {
    /// The first key of `state` (in sorted order) that the `state` setter would refuse: an unknown
    /// buffer name, an index past the parameters, or a shape that differs from its parameter's;
    /// nil when all fit. Checkpoint readers call this to report a bad file as an error, since the
    /// setter treats a misfit as a programmer error and traps.
    public func unfitStateKey(_ state: [String: Tensor]) -> String? {
        for (key, t) in state.sorted(by: { $0.key < $1.key }) {
            guard let dot = key.lastIndex(of: "."), Self.stateBuffers.contains(String(key[..<dot])),
                  let i = Int(key[key.index(after: dot)...]), i >= 0, i < parameters.count,
                  parameters[i].value.shape == t.shape else { return key }
        }
        return nil
    }

    /// Checks that a restored state buffer fits its parameter (a programmer error otherwise).
    func validated(_ key: String, _ t: Tensor, _ parameters: [Parameter], prefix: String) -> (Int, [Float])? {
        guard key.hasPrefix(prefix + "."), let i = Int(key.dropFirst(prefix.count + 1)) else { return nil }
        precondition(i >= 0 && i < parameters.count, "optimiser state \(key): no parameter \(i)")
        precondition(t.shape == parameters[i].value.shape,
                     "optimiser state \(key): shape \(t.shape), parameter has \(parameters[i].value.shape)")
        return (i, t.data)
    }
}

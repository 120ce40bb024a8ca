import Tensor

/// Whether a layer runs with inference behaviour (BatchNorm running statistics, dropout off)
/// or training behaviour (batch statistics and running-statistics update, dropout on).
/// Always passed explicitly, never ambient state. The teacher is always run in `.inference`.
public enum Mode: Sendable { case inference, training }

/// A named tensor owned by a layer: a learnable weight (with a gradient accumulator) or a
/// buffer such as BatchNorm's running statistics (no gradient).
///
/// `name` is the local key the source framework gives it (`weight`, `bias`, `running_mean`),
/// so `node name + "." + name` is the PyTorch state-dict key.
public final class Parameter {
    public let name: String
    /// Current value.
    public var value: Tensor
    /// Accumulated gradient, same shape as `value`; empty for buffers.
    public var grad: Tensor
    /// Learnable (updated by optimisers) or a buffer (state only).
    public let isTrainable: Bool

    public init(name: String, value: Tensor, trainable: Bool = true) {
        self.name = name
        self.value = value
        self.isTrainable = trainable
        self.grad = trainable ? Tensor.zeros(value.shape) : Tensor.zeros([0])
    }

    /// Resets the gradient accumulator to zero.
    public func zeroGrad() { if isTrainable { grad.zero() } }
}

/// One operation of a model graph, with forward and backward side by side.
///
/// Contract (llm.c style):
/// - `forward` takes the batched inputs (leading axis = batch) and caches what `backward`
///   needs for the most recent call;
/// - `backward` takes dLoss/dOutput for that call and returns dLoss/dInput for each input,
///   **accumulating** (`+=`) parameter gradients into `Parameter.grad` when
///   `parameterGradients` is true (BSS generation only needs input gradients and passes false);
/// - shapes passed to `outputShape` are per-sample (no batch axis).
public protocol Layer: AnyObject {
    /// Short type name for `inspect`, e.g. "Conv2D".
    var kind: String { get }
    /// Human-readable configuration for `inspect`, e.g. "3x3, 16->32, stride 2".
    var summary: String { get }
    /// Learnable parameters and buffers in state-dict order.
    var parameters: [Parameter] { get }
    /// Per-sample output shape for the given per-sample input shapes; throws
    /// `NNError.shape` when the inputs do not fit.
    func outputShape(for inputShapes: [[Int]]) throws -> [Int]
    /// Batched forward pass.
    func forward(_ inputs: [Tensor], mode: Mode) -> Tensor
    /// Batched backward pass for the last forward call.
    func backward(_ gradOutput: Tensor, parameterGradients: Bool) -> [Tensor]
}

extension Layer {
    public var parameters: [Parameter] { [] }
    public var summary: String { "" }
    /// Learnable parameter count.
    public var parameterCount: Int { parameters.filter(\.isTrainable).reduce(0) { $0 + $1.value.count } }
}

/// Errors a user can cause by building or feeding a model that does not fit together.
public enum NNError: Error, CustomStringConvertible, Equatable {
    /// A layer got inputs of the wrong shape: (node, message).
    case shape(String, String)
    /// A graph is malformed (unknown input, cycle, ...).
    case graph(String)

    public var description: String {
        switch self {
        case let .shape(node, msg): return "layer '\(node)': \(msg)"
        case let .graph(msg): return "model graph: \(msg)"
        }
    }
}

import Diagnostics
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
    /// Current value. Every write (assignment, element update, in-place pointer access) bumps
    /// `version`, so caches derived from the value (BatchNorm folded into a convolution for
    /// inference, docs/design.md "Inference fusion") notice any change.
    public var value: Tensor { didSet { version &+= 1 } }
    /// Incremented on every write to `value` (the observer runs after in-place mutations too).
    public private(set) var version: UInt64 = 0
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

/// The forward tensors a layer's backward reads, declared so the executor (`Graph`) keeps
/// exactly those and frees every other activation as soon as its last consumer has run.
public struct BackwardReads: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// The forward inputs (Conv2D, Linear, BatchNorm: the product or statistics need x).
    public static let inputs = BackwardReads(rawValue: 1)
    /// The forward output (ReLU, sigmoid, tanh, softmax: the derivative is cheapest in y).
    public static let output = BackwardReads(rawValue: 2)
}

/// What a layer's backward gets of its forward call, kept by the executor: the tensors the
/// layer declared in `backwardReads` (an empty `[0]` tensor stands for any other) and the
/// full input shapes (batch first), which are always there.
public struct ForwardRecord {
    public var inputs: [Tensor]
    public var output: Tensor
    public var inputShapes: [[Int]]

    public init(inputs: [Tensor], output: Tensor, inputShapes: [[Int]]) {
        self.inputs = inputs; self.output = output; self.inputShapes = inputShapes
    }

    /// A record that keeps everything (single layers outside a graph, gradient checks).
    public init(inputs: [Tensor], output: Tensor) {
        self.init(inputs: inputs, output: output, inputShapes: inputs.map(\.shape))
    }
}

/// One operation of a model graph, with forward and backward side by side.
///
/// Contract (llm.c style, with the activations owned by the executor):
/// - `forward` takes the batched inputs (leading axis = batch) and returns a new output; it
///   keeps no reference to its inputs or output (only small per-call state such as max-pool
///   arg-max indices, BatchNorm batch statistics or a dropout mask, which belong to the most
///   recent call);
/// - `backward` takes dLoss/dOutput and the `ForwardRecord` of that call (holding what
///   `backwardReads` declares) and returns dLoss/dInput for each input, **accumulating** (`+=`)
///   parameter gradients into `Parameter.grad` when `parameterGradients` is true (BSS
///   generation only needs input gradients and passes false);
/// - shapes passed to `outputShape` are per-sample (no batch axis).
///
/// Why the executor owns activations: a layer that cached its input kept every activation of
/// the model alive for as long as the model, so memory grew with depth and batch even in
/// inference. See docs/design.md, "Tensor storage and buffers".
public protocol Layer: AnyObject {
    /// Short type name for `inspect`, e.g. "Conv2D".
    var kind: String { get }
    /// Human-readable configuration for `inspect`, e.g. "3x3, 16->32, stride 2".
    var summary: String { get }
    /// Learnable parameters and buffers in state-dict order.
    var parameters: [Parameter] { get }
    /// The forward tensors `backward` reads (default: none).
    var backwardReads: BackwardReads { get }
    /// Per-sample output shape for the given per-sample input shapes; throws
    /// `NNError.shape` when the inputs do not fit.
    func outputShape(for inputShapes: [[Int]]) throws -> [Int]
    /// Batched forward pass.
    func forward(_ inputs: [Tensor], mode: Mode) -> Tensor
    /// Batched backward pass for the forward call that `record` describes (the most recent).
    func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor]
}

extension Layer {
    public var parameters: [Parameter] { [] }
    public var backwardReads: BackwardReads { [] }
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

extension NNError: UserFacingError {
    public var kind: ErrorKind { .mismatch }
    public var subject: String? {
        switch self {
        case let .shape(node, _): return "layer '\(node)'"
        case .graph: return "model graph"
        }
    }
    public var message: String {
        switch self {
        case let .shape(_, msg), let .graph(msg): return msg
        }
    }
}

import Tensor

/// A model: a directed acyclic graph of layers with one input and one output.
///
/// Nodes are stored in topological order (each node's inputs are the graph input or earlier
/// nodes), which makes forward a single pass and backward a single reverse pass. Branches and
/// merges (residual blocks) are nodes with several consumers or several inputs.
///
/// A node's `name` is the prefix of its parameters' state-dict keys (`layer1.0.conv1`), so
/// `namedParameters()` yields exactly PyTorch's `state_dict()` keys for models built to match.
public final class Graph {
    /// Where a node takes an input from.
    public enum Source: Hashable, Sendable {
        case input
        case node(Int)
    }

    public struct Node {
        public var name: String
        public var layer: Layer
        public var inputs: [Source]
        /// Per-sample output shape, computed when the node is added.
        public var outputShape: [Int]
    }

    /// Per-sample input shape, e.g. `[3, 32, 32]` or `[784]`.
    public let inputShape: [Int]
    public private(set) var nodes: [Node] = []
    /// The node whose output is the model's output (logits); the last node by default.
    public var output: Int { outputOverride ?? (nodes.count - 1) }
    private var outputOverride: Int?

    // What the last forward pass kept for backward, one record per node (see `forward`).
    private var records: [ForwardRecord] = []
    private var recordsComplete = false

    /// Whether forward runs fusable chains of nodes as one call (`FusionPlan`: BatchNorm folded
    /// into the preceding convolution in `.inference`, BatchNorm/Add + ReLU in both modes;
    /// docs/design.md, "Fusion"). On by default (`BSS_FUSION=off` changes the default); tests
    /// turn it off to compare with the node-by-node path.
    public var fuses = Graph.fusesByDefault
    // The fusion plans per mode (made once per graph structure) and the blocks the last forward
    // ran, by their last node.
    private var plans: [Mode: [FusedBlock]] = [:]
    private var fusedByTail: [Int: FusedBlock] = [:]

    public init(inputShape: [Int]) { self.inputShape = inputShape }

    /// Appends a node and returns its index. Throws if its inputs do not exist or do not fit.
    @discardableResult
    public func add(_ name: String, _ layer: Layer, inputs: [Source]? = nil) throws -> Int {
        let ins = inputs ?? [nodes.isEmpty ? .input : .node(nodes.count - 1)]
        var shapes: [[Int]] = []
        for s in ins {
            switch s {
            case .input: shapes.append(inputShape)
            case let .node(i):
                guard i >= 0 && i < nodes.count else {
                    throw NNError.graph("node '\(name)' takes input from node \(i), which is not defined before it")
                }
                shapes.append(nodes[i].outputShape)
            }
        }
        let out: [Int]
        do { out = try layer.outputShape(for: shapes) } catch let NNError.shape(_, msg) {
            throw NNError.shape(name, msg)
        }
        nodes.append(Node(name: name, layer: layer, inputs: ins, outputShape: out))
        plans = [:]
        return nodes.count - 1
    }

    /// Makes node `index` the output (used when a trailing softmax is split off).
    public func setOutput(_ index: Int) {
        precondition(index >= 0 && index < nodes.count)
        outputOverride = index
        plans = [:]
    }

    /// Removes the nodes after `index` (used to split off a trailing softmax).
    public func truncate(after index: Int) {
        nodes.removeSubrange((index + 1)...)
        if let o = outputOverride, o > index { outputOverride = nil }
        plans = [:]
    }

    /// Per-sample output shape.
    public var outputShape: [Int] { nodes[output].outputShape }

    /// Index of the node with this name.
    public func index(of name: String) -> Int? { nodes.firstIndex { $0.name == name } }

    /// Forward pass on a batch `[N] + inputShape`; returns the output node's activation.
    ///
    /// Memory: every activation is released as soon as its last consumer has run, unless a
    /// backward pass will read it. With `keepForBackward` (the default) each node's record keeps
    /// what its layer's `backwardReads` declares (and what its consumers' declare of their
    /// inputs); without it nothing is kept, so inference memory does not grow with depth.
    public func forward(_ x: Tensor, mode: Mode, keepForBackward: Bool = true) -> Tensor {
        forward(x, mode: mode, keepForBackward: keepForBackward, taps: []).output
    }

    /// Forward pass that also returns the activations of the nodes `taps` (feature taps for
    /// hint, attention and FSP losses), in the order given. Tapped activations are the same
    /// tensors the graph computed; they stay alive for the caller whatever their liveness.
    public func forward(_ x: Tensor, mode: Mode, keepForBackward: Bool = true, taps: [Int]) -> (output: Tensor, taps: [Tensor]) {
        precondition(Array(x.shape.dropFirst()) == inputShape,
                     "input shape \(x.shape) does not match model input \(inputShape)")
        precondition(taps.allSatisfy { $0 >= 0 && $0 <= output }, "taps \(taps) must name nodes 0...\(output)")
        let empty = Tensor.zeros([0])
        var values = [Tensor?](repeating: nil, count: output + 1)
        var tapped = [Int: Tensor]()
        let tapSet = Set(taps)
        records = keepForBackward ? [ForwardRecord](repeating: ForwardRecord(inputs: [], output: empty), count: output + 1) : []
        // Fused blocks run at their last node; their other nodes are skipped.
        let fused = fuses ? activeBlocks(mode: mode, taps: tapSet) : [:]
        let plan = liveness(fused)
        fusedByTail = [:]
        for i in 0...output where plan.runsAt[i] == i {
            let sources = fused[i]?.inputs ?? nodes[i].inputs
            let ins = sources.map { s -> Tensor in
                switch s { case .input: return x; case let .node(j): return values[j]! }
            }
            let y: Tensor
            if let block = fused[i] {
                y = block.forward(ins, mode: mode)
                if keepForBackward {
                    records[i] = block.record(inputs: ins, output: y)
                    fusedByTail[i] = block
                }
            } else {
                let layer = nodes[i].layer
                y = layer.forward(ins, mode: mode)
                if keepForBackward {
                    let reads = layer.backwardReads
                    records[i] = ForwardRecord(inputs: reads.contains(.inputs) ? ins : ins.map { _ in empty },
                                               output: reads.contains(.output) ? y : empty,
                                               inputShapes: ins.map(\.shape))
                }
            }
            if tapSet.contains(i) { tapped[i] = y }
            values[i] = y
            // Release inputs whose last consumer this was (the records keep what backward needs).
            for case let .node(j) in sources where plan.lastConsumer[j] == i && j != output { values[j] = nil }
        }
        recordsComplete = keepForBackward
        return (values[output]!, taps.map { tapped[$0]! })
    }

    /// The fused blocks a forward in `mode` runs, by last node: those that lie before the
    /// output and have no tapped node or the output node inside (those activations must exist).
    private func activeBlocks(mode: Mode, taps: Set<Int>) -> [Int: FusedBlock] {
        if plans[mode] == nil { plans[mode] = FusionPlan.blocks(nodes, mode: mode) }
        var active: [Int: FusedBlock] = [:]
        for b in plans[mode]! where b.tail <= output && b.runs(in: mode) {
            let inner = b.members.dropLast()
            if inner.contains(output) || inner.contains(where: taps.contains) { continue }
            active[b.tail] = b
        }
        return active
    }

    /// Where each node runs (`runsAt[i]`: itself, or its fused block's last node) and, for each
    /// node, the position of the last run that reads its output (its own if none).
    struct Liveness { var runsAt: [Int]; var lastConsumer: [Int] }
    private func liveness(_ fused: [Int: FusedBlock]) -> Liveness {
        var at = Array(0..<nodes.count)
        for (t, b) in fused { for m in b.members { at[m] = t } }
        var last = Array(0..<nodes.count)
        for (i, node) in nodes.enumerated() {
            for case let .node(j) in node.inputs { last[j] = max(last[j], at[i]) }
        }
        return Liveness(runsAt: at, lastConsumer: last)
    }

    /// Backward pass for the last `forward` (which must have kept its records): takes
    /// dLoss/dOutput and returns dLoss/dInput. Parameter gradients are accumulated into each
    /// `Parameter.grad` when `parameterGradients` is true. Each node's record and gradient are
    /// released once used, so memory falls as the pass proceeds.
    @discardableResult
    public func backward(_ gradOutput: Tensor, parameterGradients: Bool = true) -> Tensor {
        backward(gradOutput, tapGradients: [:], parameterGradients: parameterGradients)
    }

    /// Backward with gradients entering at tapped nodes too: `tapGradients[k]` is dLoss/d(node
    /// k's output), added to whatever flows back from the output. `gradOutput` may be nil when
    /// the loss reads only taps (a hint loss on its own).
    @discardableResult
    public func backward(_ gradOutput: Tensor?, tapGradients: [Int: Tensor], parameterGradients: Bool = true) -> Tensor {
        precondition(recordsComplete && records.count == output + 1,
                     "Graph.backward needs a forward pass with keepForBackward first")
        var gradients = [Tensor?](repeating: nil, count: nodes.count)
        gradients[output] = gradOutput
        let inner = Set(fusedByTail.values.flatMap { $0.members.dropLast() })
        for (k, g) in tapGradients.sorted(by: { $0.key < $1.key }) {
            precondition(k >= 0 && k <= output, "tap gradient for node \(k), outside 0...\(output)")
            precondition(!inner.contains(k), "tap gradient for node \(k), which the forward fused away (tap it in forward)")
            if gradients[k] == nil { gradients[k] = g } else { gradients[k]!.add(g) }
        }
        var gradInput: Tensor?
        for i in stride(from: output, through: 0, by: -1) {
            guard let g = gradients[i] else { records[i] = ForwardRecord(inputs: [], output: .zeros([0])); continue }
            gradients[i] = nil
            let sources: [Source], gins: [Tensor]
            if let block = fusedByTail[i] {
                sources = block.inputs
                gins = block.backward(g, records[i], parameterGradients: parameterGradients)
            } else {
                sources = nodes[i].inputs
                gins = nodes[i].layer.backward(g, records[i], parameterGradients: parameterGradients)
            }
            records[i] = ForwardRecord(inputs: [], output: .zeros([0]))
            for (s, gi) in zip(sources, gins) {
                switch s {
                case .input:
                    if gradInput == nil { gradInput = gi } else { gradInput!.add(gi) }
                case let .node(j):
                    if gradients[j] == nil { gradients[j] = gi } else { gradients[j]!.add(gi) }
                }
            }
        }
        recordsComplete = false
        fusedByTail = [:]
        let batch = gradOutput?.batch ?? tapGradients.values.first?.batch ?? 0
        return gradInput ?? Tensor.zeros([batch] + inputShape)
    }

    /// Every parameter and buffer with its full key (`node.param`), in node order.
    public func namedParameters() -> [(key: String, parameter: Parameter)] {
        nodes.flatMap { n in n.layer.parameters.map { (key: n.name.isEmpty ? $0.name : n.name + "." + $0.name, parameter: $0) } }
    }

    /// Learnable parameters only.
    public var trainableParameters: [Parameter] { namedParameters().map(\.parameter).filter(\.isTrainable) }

    /// Total learnable parameter count.
    public var parameterCount: Int { trainableParameters.reduce(0) { $0 + $1.value.count } }

    /// Zeros every parameter gradient.
    public func zeroGrad() { for p in trainableParameters { p.zeroGrad() } }
}

import Foundation
import Tensor

/// A chain of graph nodes that `Graph` runs as one call instead of node by node, to save the
/// memory passes and temporaries between them (docs/design.md, "Fusion"). The chain's inner
/// nodes feed only the next member, so their activations are never needed by anyone else.
///
/// The executor runs a block at its last member's position (all its external inputs exist by
/// then), stores the block's output as that member's activation, keeps `record(...)` as that
/// member's `ForwardRecord`, and in backward hands the gradient arriving there to `backward`,
/// which returns one gradient per external input (`inputs`, in order).
protocol FusedBlock: AnyObject {
    /// The fused nodes, in graph order; the last one's output is the block's.
    var members: [Int] { get }
    /// The activations the block reads from outside, in the order `forward` takes them.
    var inputs: [Graph.Source] { get }
    /// Whether the block can run in this mode now (e.g. not with a statistics reducer).
    func runs(in mode: Mode) -> Bool
    /// The block's output for its external inputs.
    func forward(_ inputs: [Tensor], mode: Mode) -> Tensor
    /// What backward needs of this call (the executor keeps it only with `keepForBackward`).
    func record(inputs: [Tensor], output: Tensor) -> ForwardRecord
    /// dLoss/d(each external input) for the last `forward`.
    func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor]
}

extension FusedBlock {
    var tail: Int { members[members.count - 1] }
}

extension Graph {
    /// The default of `fuses` for new graphs: on, unless `BSS_FUSION=off` (or `0`) is set, which
    /// runs every node on its own (to compare or to rule fusion out).
    public static let fusesByDefault: Bool = {
        let v = ProcessInfo.processInfo.environment["BSS_FUSION"]?.lowercased()
        return !(v == "off" || v == "0")
    }()
}

/// The fusion plan of a graph for one mode: which blocks run instead of their nodes.
///
/// `.inference`: Conv2D → BatchNorm → ReLU or ReLU6 (BatchNorm folded into the convolution,
/// `FusedConvBlock`), then among the remaining nodes BatchNorm (→ Add) → ReLU
/// (`FusedNormBlock`) and Add → ReLU (`FusedAddReLU`). `.training`: the last two only
/// (BatchNorm uses batch statistics there, so it cannot be folded).
enum FusionPlan {
    static func blocks(_ nodes: [Graph.Node], mode: Mode) -> [FusedBlock] {
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() { for case let .node(j) in n.inputs { consumers[j].append(i) } }
        /// The only consumer of node i, when there is exactly one and it reads only node i once.
        func sole(_ i: Int, inputs: Int = 1) -> Int? {
            guard consumers[i].count == 1 else { return nil }
            let c = consumers[i][0]
            return nodes[c].inputs.count == inputs ? c : nil
        }
        func isReLU(_ i: Int?) -> Bool { i.map { nodes[$0].layer is ReLU } ?? false }
        /// The activation a convolution block can take in the same call: ReLU or ReLU6.
        func convActivation(_ i: Int?) -> ConvActivation? {
            guard let i else { return nil }
            if nodes[i].layer is ReLU { return .relu }
            if let a = nodes[i].layer as? PointwiseActivation, a.function == .relu6 { return .relu6 }
            return nil
        }
        var claimed = Set<Int>(), blocks: [FusedBlock] = []
        func take(_ b: FusedBlock) { blocks.append(b); claimed.formUnion(b.members) }

        if mode == .inference {
            for (i, n) in nodes.enumerated() {
                guard let conv = n.layer as? Conv2D else { continue }
                var members = [i]
                var bn: BatchNorm?
                if let c = sole(i), let b = nodes[c].layer as? BatchNorm, b.channels == conv.outChannels {
                    bn = b
                    members.append(c)
                }
                let next = sole(members.last!), activation = convActivation(next)
                if activation != nil { members.append(next!) }
                if members.count > 1 {
                    take(FusedConvBlock(conv: conv, batchNorm: bn, activation: activation ?? .none, members: members,
                                        input: n.inputs[0]))
                }
            }
        }
        for (i, n) in nodes.enumerated() where !claimed.contains(i) {
            guard let bn = n.layer as? BatchNorm else { continue }
            if let r = sole(i), isReLU(r), !claimed.contains(r) {
                take(FusedNormBlock(bn: bn, members: [i, r], input: n.inputs[0], residual: nil))
            } else if let a = sole(i, inputs: 2), nodes[a].layer is Add, !claimed.contains(a), nodes[a].inputs[0] != nodes[a].inputs[1],
                      let r = sole(a), isReLU(r), !claimed.contains(r) {
                let other = nodes[a].inputs.first { $0 != .node(i) }!
                // The other input must exist when the block runs (at the ReLU): it does, as it precedes the Add.
                take(FusedNormBlock(bn: bn, members: [i, a, r], input: n.inputs[0], residual: other))
            }
        }
        for (i, n) in nodes.enumerated() where !claimed.contains(i) && n.layer is Add && n.inputs.count == 2 {
            if let r = sole(i), isReLU(r), !claimed.contains(r) { take(FusedAddReLU(members: [i, r], inputs: n.inputs)) }
        }
        return blocks
    }
}

/// `y = max(a + b, 0)` in one pass (Add → ReLU); backward `da = db = dy · [y > 0]`.
final class FusedAddReLU: FusedBlock {
    let members: [Int]
    let inputs: [Graph.Source]
    init(members: [Int], inputs: [Graph.Source]) { self.members = members; self.inputs = inputs }

    func runs(in mode: Mode) -> Bool { true }

    func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let a = inputs[0], b = inputs[1]
        precondition(a.shape == b.shape, "Add got inputs of shapes \(a.shape), \(b.shape)")
        let n = a.count
        let y = a.data.withUnsafeBufferPointer { ap in
            b.data.withUnsafeBufferPointer { bp in
                uninitializedFloats(n) { yb in
                    let ab = ap.baseAddress!, bb = bp.baseAddress!
                    parallelChunks(n, work: n) { r in
                        addReLU(yb + r.lowerBound, ab + r.lowerBound, bb + r.lowerBound, r.count)
                    }
                }
            }
        }
        return Tensor(shape: a.shape, data: y)
    }

    func record(inputs: [Tensor], output: Tensor) -> ForwardRecord {
        ForwardRecord(inputs: inputs.map { _ in Tensor.zeros([0]) }, output: output, inputShapes: inputs.map(\.shape))
    }

    func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let g = reluGradient(gradOutput, output: record.output)
        return [g, g]
    }
}

import Boundary
import NN
import Tensor
import TestSupport

/// One pair's BSS search replayed alone (batch of one) with the paper's step rule, keeping every
/// iterate, so two teachers' paths can be compared step by step (docs/algorithm.md, "Step rule",
/// "ReLU kinks"). `BSSGenerator` gives each row the same numbers whatever the batch, so the last
/// iterate is the generator's `x_bss` bit for bit (the test checks this).
struct BSSPathReplay {
    var iterates: [[Float]] = []
    var margins: [Float] = []

    init(teacher: Graph, x0: [Float], base: Int, target: Int, parameters p: BSSParameters = .paper) {
        let generator = BSSGenerator(teacher: teacher, parameters: p)
        var x = x0
        for i in 0...p.maxSteps {
            let r = generator.marginGradient(x: Tensor(shape: [1] + teacher.inputShape, data: x), base: [base], target: [target])
            let row = r.logits.data
            var top = 0
            for c in 1..<row.count where row[c] > row[top] { top = c }
            iterates.append(x)
            margins.append(r.margins[0])
            if (r.margins[0] < 0 && top == target) || (top != base && top != target) || i == p.maxSteps { break }
            var sumSquares: Double = 0
            for v in r.gradient.data { sumSquares += Double(v) * Double(v) }
            let s = sumSquares > 0 ? Float(Double(p.eta * (r.margins[0] + p.eps)) / sumSquares) : 0
            for e in x.indices { x[e] -= s * r.gradient.data[e] }
        }
    }
}

/// A ReLU unit that is active in one teacher and not in the other on the same input.
struct ReLUSignFlip: CustomStringConvertible {
    var node: String, unit: Int
    /// The unit's pre-activation in each teacher, and the largest |pre-activation| of its layer.
    var zA: Float, zB: Float, layerScale: Float
    var description: String { "\(node)[\(unit)]: z \(zA) vs \(zB) (layer max |z| \(layerScale))" }
}

/// The ReLU units whose sign differs between `a` and `b` on the single sample `x`. The two graphs
/// must have their ReLU nodes in the same order (the same network, BatchNorm folded or not).
func reluSignFlips(_ a: Graph, _ b: Graph, at x: [Float]) -> [ReLUSignFlip] {
    func relus(_ g: Graph) -> (post: [Int], pre: [Int]) {
        let post = g.nodes.indices.filter { g.nodes[$0].layer is ReLU }
        let pre = post.map { i -> Int in
            guard case let .node(p) = g.nodes[i].inputs[0] else { return -1 }
            return p
        }
        return (post, pre)
    }
    let (postA, preA) = relus(a), (postB, preB) = relus(b)
    precondition(postA.count == postB.count && !preA.contains(-1) && !preB.contains(-1), "ReLU nodes do not pair up")
    let input = Tensor(shape: [1] + a.inputShape, data: x)
    // Post-activations as the search computed them (fused), pre-activations node by node.
    let yA = a.forward(input, mode: .inference, keepForBackward: false, taps: postA).taps
    let yB = b.forward(input, mode: .inference, keepForBackward: false, taps: postB).taps
    let (fa, fb) = (a.fuses, b.fuses)
    a.fuses = false; b.fuses = false
    defer { a.fuses = fa; b.fuses = fb }
    let zA = a.forward(input, mode: .inference, keepForBackward: false, taps: preA).taps
    let zB = b.forward(input, mode: .inference, keepForBackward: false, taps: preB).taps
    var flips: [ReLUSignFlip] = []
    for r in postA.indices {
        let scale = zA[r].data.map(abs).max() ?? 0
        for u in yA[r].data.indices where (yA[r].data[u] > 0) != (yB[r].data[u] > 0) {
            flips.append(ReLUSignFlip(node: a.nodes[postA[r]].name, unit: u, zA: zA[r].data[u], zB: zB[r].data[u], layerScale: scale))
        }
    }
    return flips
}

/// max |a − b| / max |b|: the relative difference the BSS parity tests use.
func relativeDifference(_ a: [Float], _ b: [Float]) -> Float {
    maxAbsDiff(a, b) / max(b.map(abs).max() ?? 1, 1e-12)
}

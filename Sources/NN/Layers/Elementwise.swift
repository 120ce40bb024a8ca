import Tensor

/// Element-wise arithmetic of two inputs with broadcasting (ONNX's and NumPy's rule on
/// per-sample shapes of equal rank: each axis is equal, or 1 in one input and stretched):
///
///     add: y = a + b     sub: y = a − b     mul: y = a · b     div: y = a / b
///
/// Shapes: `[N, d₁, …, d_r]` and `[N, e₁, …, e_r]` with `dᵢ = eᵢ` or one of them 1 → `[N, max(dᵢ, eᵢ) …]`
/// (e.g. `[N, C, H, W]` with a per-channel `[N, C, 1, 1]`, or with a per-position `[N, 1, H, W]`).
/// The batch axis is never broadcast: both inputs are activations of the same batch.
///
/// Backward: `da = dy` (add, sub), `dy · b` (mul), `dy / b` (div); `db = dy`, `−dy`, `dy · a`,
/// `−dy · a / b²`, each summed over the axes where that input was stretched.
/// (`Add` and `Multiply` stay the layers for equal shapes and SE's per-channel scale; this one
/// is what ONNX's Add/Sub/Mul/Div of two activations of other shapes become, docs/formats.md, "ONNX".)
public final class Elementwise: Layer {
    public enum Operation: String, CaseIterable, Sendable { case add, sub, mul, div }
    public let operation: Operation

    public init(_ operation: Operation) { self.operation = operation }

    public var kind: String { "Elementwise" }
    public var summary: String { operation.rawValue + " (broadcasting)" }
    public var backwardReads: BackwardReads { operation == .mul || operation == .div ? .inputs : [] }

    /// The broadcast per-sample shape, or nil when the shapes do not broadcast.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        guard a.count == b.count else { return nil }
        var out: [Int] = []
        for (x, y) in zip(a, b) {
            guard x == y || x == 1 || y == 1 else { return nil }
            out.append(max(x, y))
        }
        return out
    }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 2, let o = Elementwise.broadcast(inputShapes[0], inputShapes[1]) else {
            throw NNError.shape("", "Elementwise \(operation.rawValue) needs two inputs whose shapes broadcast (equal rank, each axis equal or 1); got "
                                + inputShapes.map { "\($0)" }.joined(separator: ", "))
        }
        return o
    }

    /// For each element of one output sample, the offset of the element it reads in each input sample.
    private static func offsets(_ a: [Int], _ b: [Int]) -> (out: [Int], a: [Int], b: [Int]) {
        let o = broadcast(a, b)!
        func strides(_ s: [Int]) -> [Int] {
            var st = [Int](repeating: 0, count: s.count), k = 1
            for i in stride(from: s.count - 1, through: 0, by: -1) { st[i] = s[i] == 1 ? 0 : k; k *= s[i] }
            return st
        }
        let sa = strides(a), sb = strides(b), count = o.reduce(1, *)
        var ia = [Int](repeating: 0, count: count), ib = [Int](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: o.count), pa = 0, pb = 0
        for i in 0..<count {
            ia[i] = pa; ib[i] = pb
            // Odometer step over the output's axes, last fastest.
            var axis = o.count - 1
            while axis >= 0 {
                index[axis] += 1; pa += sa[axis]; pb += sb[axis]
                if index[axis] < o[axis] { break }
                pa -= sa[axis] * o[axis]; pb -= sb[axis] * o[axis]; index[axis] = 0
                axis -= 1
            }
        }
        return (o, ia, ib)
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let a = inputs[0], b = inputs[1]
        let (o, ia, ib) = Elementwise.offsets(Array(a.shape.dropFirst()), Array(b.shape.dropFirst()))
        let n = a.shape[0], per = ia.count, pa = a.count / max(n, 1), pb = b.count / max(n, 1)
        var y = [Float](repeating: 0, count: n * per)
        a.data.withUnsafeBufferPointer { ap in
            b.data.withUnsafeBufferPointer { bp in
                for s in 0..<n {
                    let ao = s * pa, bo = s * pb, yo = s * per
                    switch operation {
                    case .add: for i in 0..<per { y[yo + i] = ap[ao + ia[i]] + bp[bo + ib[i]] }
                    case .sub: for i in 0..<per { y[yo + i] = ap[ao + ia[i]] - bp[bo + ib[i]] }
                    case .mul: for i in 0..<per { y[yo + i] = ap[ao + ia[i]] * bp[bo + ib[i]] }
                    case .div: for i in 0..<per { y[yo + i] = ap[ao + ia[i]] / bp[bo + ib[i]] }
                    }
                }
            }
        }
        return Tensor(shape: [n] + o, data: y)
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let sa = record.inputShapes[0], sb = record.inputShapes[1]
        let (_, ia, ib) = Elementwise.offsets(Array(sa.dropFirst()), Array(sb.dropFirst()))
        let n = sa[0], per = ia.count
        let pa = sa.dropFirst().reduce(1, *), pb = sb.dropFirst().reduce(1, *)
        var da = [Float](repeating: 0, count: n * pa), db = [Float](repeating: 0, count: n * pb)
        let a = record.inputs[0].data, b = record.inputs[1].data, g = gradOutput.data
        for s in 0..<n {
            let ao = s * pa, bo = s * pb, go = s * per
            for i in 0..<per {
                let dy = g[go + i], j = ao + ia[i], k = bo + ib[i]
                switch operation {
                case .add: da[j] += dy; db[k] += dy
                case .sub: da[j] += dy; db[k] -= dy
                case .mul: da[j] += dy * b[k]; db[k] += dy * a[j]
                case .div: da[j] += dy / b[k]; db[k] -= dy * a[j] / (b[k] * b[k])
                }
            }
        }
        return [Tensor(shape: sa, data: da), Tensor(shape: sb, data: db)]
    }
}

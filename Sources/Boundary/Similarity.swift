import NN
import Tensor

/// Boundary similarity of two classifiers A and B, MagSim and AngSim (docs/algorithm.md, "Boundary similarity").
///
/// For base samples both models classify correctly and target classes `k`, the BSS of each
/// model is searched from the same `(x_n, k)` with the same algorithm and parameters (one
/// `BSSGenerator` per model, `.paper` by default). With `P` the pairs where both searches were
/// accepted and `d = x~ − x_n`:
///
///     MagSim = mean over P of  min(‖d_A‖, ‖d_B‖) / max(‖d_A‖, ‖d_B‖)
///     AngSim = mean over P of  max(0, cos(d_A, d_B))
///
/// Each model reads the samples in its own engine layout (`xA`: `[N] + a.inputShape`, `xB`:
/// `[N] + b.inputShape`, the same N samples in the same order); `SimilarityAlignment` says which
/// elements correspond, so `cos` compares the same input values. Norms and dot products are
/// accumulated in Double.
///
/// Pairs are searched in chunks (a few thousand pairs, bounded so one chunk's BSS stay under
/// ~64 MB per model), so memory does not grow with the number of pairs; each chunk runs A's
/// search, then B's, batched by `batchSize` rows (default 128). Not thread-safe (the graphs
/// cache activations).
public final class BoundarySimilarity {
    public let a: Graph
    public let b: Graph
    public let parameters: BSSParameters
    /// Rows per teacher pass in base selection and in the BSS searches.
    public var batchSize = 128
    /// Called as searches finish: pair searches done so far (two per pair) and the total.
    public var progress: ((_ searched: Int, _ total: Int) -> Void)?

    private let generatorA: BSSGenerator
    private let generatorB: BSSGenerator

    /// `a` and `b` must have the same number of classes and the same number of input values
    /// (checked by callers, which report it to users).
    public init(a: Graph, b: Graph, parameters: BSSParameters = .paper) {
        precondition(a.outputShape.reduce(1, *) == b.outputShape.reduce(1, *), "BoundarySimilarity: class counts differ")
        precondition(a.inputShape.reduce(1, *) == b.inputShape.reduce(1, *), "BoundarySimilarity: input sizes differ")
        self.a = a; self.b = b; self.parameters = parameters
        generatorA = BSSGenerator(teacher: a, parameters: parameters)
        generatorB = BSSGenerator(teacher: b, parameters: parameters)
    }

    /// Number of classes of both models.
    public var classes: Int { a.outputShape.reduce(1, *) }

    /// The base samples: the first `limit` rows (in data order) whose label both models predict
    /// (inference mode, argmax, first index on ties).
    public struct BaseSamples {
        public var rows: [Int] = []
        /// `[rows.count, classes]`: A's logits at those rows (for target selection).
        public var logitsA: Tensor
        /// Rows evaluated (all of them unless `limit` was reached first), and how many of those
        /// each model classified correctly.
        public var scanned = 0
        public var correctA = 0
        public var correctB = 0
    }

    /// Scans `xA`/`xB` `batchSize` rows at a time until `limit` base samples are found.
    /// `progress` gets the rows scanned so far.
    public func baseSamples(xA: Tensor, xB: Tensor, labels: [Int], limit: Int,
                            progress: ((Int) -> Void)? = nil) -> BaseSamples {
        precondition(xA.batch == labels.count && xB.batch == labels.count, "BoundarySimilarity: rows and labels differ")
        let n = labels.count, c = classes
        var out = BaseSamples(logitsA: Tensor(shape: [0, c]))
        var logits: [Float] = []
        var start = 0
        while start < n, out.rows.count < limit {
            let end = min(n, start + max(1, batchSize))
            let la = a.forward(xA.slice(rows: start..<end), mode: .inference, keepForBackward: false)
            let topA = argmax(rows: la)
            let topB = argmax(rows: b.forward(xB.slice(rows: start..<end), mode: .inference, keepForBackward: false))
            for r in start..<end {
                let okA = topA[r - start] == labels[r], okB = topB[r - start] == labels[r]
                out.correctA += okA ? 1 : 0
                out.correctB += okB ? 1 : 0
                if okA && okB && out.rows.count < limit {
                    out.rows.append(r)
                    logits.append(contentsOf: la.data[((r - start) * c)..<((r - start + 1) * c)])
                }
            }
            start = end
            progress?(start)
        }
        out.scanned = start
        out.logitsA = Tensor(shape: [out.rows.count, c], data: logits)
        return out
    }

    /// Searches both models' BSS for every pair and measures them.
    ///
    /// - Parameters:
    ///   - xA, xB: the samples in A's and B's engine layout (`[N] + inputShape`, same rows).
    ///   - pairs: `baseIndex` (rows of x), `baseClass`, `targetClass` per pair.
    ///   - alignment: element correspondence between A's and B's inputs.
    public func compare(xA: Tensor, xB: Tensor, pairs: BSSPairs, alignment: SimilarityAlignment = .identity) -> SimilarityResult {
        precondition(Array(xA.shape.dropFirst()) == a.inputShape && Array(xB.shape.dropFirst()) == b.inputShape,
                     "BoundarySimilarity: samples \(xA.shape), \(xB.shape) do not fit the inputs \(a.inputShape), \(b.inputShape)")
        precondition(xA.batch == xB.batch, "BoundarySimilarity: \(xA.batch) and \(xB.batch) samples")
        let per = xA.sampleCount
        precondition(alignment.bFromA.map { $0.count == per } ?? true, "BoundarySimilarity: alignment size")
        generatorA.batchSize = batchSize
        generatorB.batchSize = batchSize
        let total = pairs.count
        let chunk = max(max(1, batchSize), min(4096, (1 << 24) / max(1, per)))
        var result = SimilarityResult(classes: classes)
        result.baseIndex.reserveCapacity(total)
        var searched = 0
        var start = 0
        while start < total {
            let range = start..<min(total, start + chunk)
            let rows = Array(pairs.baseIndex[range]), base = Array(pairs.baseClass[range])
            let target = Array(pairs.targetClass[range])
            let done = searched
            generatorA.progress = { [weak self] finished, _ in self?.progress?(done + finished, 2 * total) }
            let ra = generatorA.run(source: xA, rows: rows, base: base, target: target)
            generatorB.progress = { [weak self] finished, _ in self?.progress?(done + range.count + finished, 2 * total) }
            let rb = generatorB.run(source: xB, rows: rows, base: base, target: target)
            searched += 2 * range.count
            measure(ra, rb, xA: xA, xB: xB, rows: rows, base: base, target: target, per: per,
                    alignment: alignment, into: &result)
            start = range.upperBound
        }
        generatorA.progress = nil
        generatorB.progress = nil
        return result
    }

    /// Appends `‖d_A‖`, `‖d_B‖` and `cos(d_A, d_B)` of one chunk's pairs.
    private func measure(_ ra: BSSBatchResult, _ rb: BSSBatchResult, xA: Tensor, xB: Tensor, rows: [Int], base: [Int],
                         target: [Int], per: Int, alignment: SimilarityAlignment, into result: inout SimilarityResult) {
        xA.data.withUnsafeBufferPointer { sa in
        xB.data.withUnsafeBufferPointer { sb in
        ra.x.data.withUnsafeBufferPointer { ta in
        rb.x.data.withUnsafeBufferPointer { tb in
            for j in rows.indices {
                let x0a = sa.baseAddress! + rows[j] * per, x0b = sb.baseAddress! + rows[j] * per
                let xa = ta.baseAddress! + j * per, xb = tb.baseAddress! + j * per
                let okA = ra.status[j] == .accepted, okB = rb.status[j] == .accepted
                var na = 0.0, nb = 0.0, dot = 0.0
                for e in 0..<per {
                    let da = Double(xa[e]) - Double(x0a[e]), db = Double(xb[e]) - Double(x0b[e])
                    na += da * da
                    nb += db * db
                }
                if okA && okB {
                    if let map = alignment.bFromA {
                        for e in 0..<per {
                            let m = map[e]
                            dot += (Double(xa[e]) - Double(x0a[e])) * (Double(xb[m]) - Double(x0b[m]))
                        }
                    } else {
                        for e in 0..<per { dot += (Double(xa[e]) - Double(x0a[e])) * (Double(xb[e]) - Double(x0b[e])) }
                    }
                }
                let la = na.squareRoot(), lb = nb.squareRoot()
                result.append(baseIndex: rows[j], baseClass: base[j], targetClass: target[j], acceptedA: okA, acceptedB: okB,
                              distanceA: la, distanceB: lb, cosine: SimilarityResult.cosine(dot: dot, la, lb))
            }
        } } } }
    }
}

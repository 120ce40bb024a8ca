import NN
import Tensor

/// The outcome of `BSSGenerator.run` for P pairs, in pair order.
public struct BSSBatchResult {
    /// `[P] + inputShape`, engine layout (NCHW): the iterate each pair stopped at.
    public var x: Tensor
    public var status: [BSSStatus]
    /// Updates applied to each pair: the index `i` of the last iterate evaluated (0...maxSteps).
    public var steps: [Int]
    /// `[P, classes]`: the teacher's logits at `x` (from the evaluation that stopped the pair).
    public var logits: Tensor
    /// `L = f_b − f_k` at `x`, per pair.
    public var margins: [Float]
    /// Rows pushed through the teacher's forward pass and input-gradient backward pass in
    /// total (the work done; a pair is evaluated `steps + 1` times).
    public var forwardRows = 0
    public var backwardRows = 0

    /// How many pairs ended with `status`.
    public func count(_ status: BSSStatus) -> Int { self.status.reduce(0) { $0 + ($1 == status ? 1 : 0) } }
}

/// Finds boundary supporting samples for many (sample, base class, target class) pairs at once
/// (docs/algorithm.md, "Step rule", "Stop conditions", "Batched search").
///
/// For each pair, starting at `x_0 = x`, with `L_i = f_b(x_i) − f_k(x_i)` on the teacher's
/// logits, `a_i = argmax f(x_i)` (first index on ties) and `g_i = ∂L_i/∂x_i`:
///
///     for i = 0, 1, …, maxSteps:
///         paper:    (a) L_i < 0 and a_i = k  → accepted, stop
///                   (b) a_i ∉ {b, k}         → rejected (other class), stop
///                   (c) i = maxSteps         → rejected (step limit), stop
///         official: a_i ≠ b → stop (status 1 if a_i = k, else 2); i = maxSteps → stop (status 3)
///         x_{i+1} = clip(x_i − η (L_i + ε) g_i / D),  D = ‖g_i‖² (l2sq) or ‖g_i‖ (l2)
///
/// so `steps` counts the updates applied and `x` is the iterate the pair stopped at. A pair
/// whose gradient vanishes (`D = 0`) cannot move; it stays put until its step limit.
///
/// Batching: every active pair advances in one teacher forward pass (`.inference`: BatchNorm
/// running statistics, dropout off) and one backward pass to the input seeded with `+1` at
/// `b` and `−1` at `k` (rows are independent in inference mode, so one pass gives every `g_i`).
/// Stopped pairs leave the batch and waiting pairs take their place, so the batch stays full
/// and never exceeds `batchSize` rows (which bounds the teacher's activation memory). The two
/// input buffers (current and next iterate), the seed and the bookkeeping arrays are kept
/// across steps and calls; the only per-step allocations are the graph's own activations.
///
/// Not thread-safe: one `run` at a time per generator (the teacher graph caches activations).
public final class BSSGenerator {
    public let teacher: Graph
    public let parameters: BSSParameters
    /// Largest number of pairs in one teacher pass (default 128; values below 1 act as 1).
    public var batchSize: Int = 128
    /// Called after every step with the pairs finished so far and how many were accepted.
    public var progress: ((_ finished: Int, _ accepted: Int) -> Void)?

    // Reused across steps and calls (see the type's comment).
    private var current = Tensor.zeros([0])
    private var next = Tensor.zeros([0])
    private var seed = Tensor.zeros([0])
    private var slotPair: [Int] = [], slotStep: [Int] = []
    private var nextPair: [Int] = [], nextStep: [Int] = []
    private var stepScale: [Float] = []
    private var continues: [Bool] = []

    public init(teacher: Graph, parameters: BSSParameters) {
        precondition(parameters.problem == nil, "BSSParameters: \(parameters.problem ?? "")")
        self.teacher = teacher
        self.parameters = parameters
    }

    /// Runs pairs `(x[j], base[j], target[j])` to completion, batched; reuses buffers across calls.
    /// `x`: `[P] + teacher.inputShape`, engine layout.
    public func run(x: Tensor, base: [Int], target: [Int]) -> BSSBatchResult {
        run(source: x, rows: Array(0..<x.batch), base: base, target: target)
    }

    /// Runs pair `j` from `source[rows[j]]` with classes `base[j]`, `target[j]`, so a data set's
    /// samples need not be gathered (and duplicated per target) first.
    public func run(source: Tensor, rows: [Int], base: [Int], target: [Int]) -> BSSBatchResult {
        let inputShape = teacher.inputShape
        precondition(Array(source.shape.dropFirst()) == inputShape,
                     "BSSGenerator: samples \(source.shape) do not match the teacher's input \(inputShape)")
        let pairs = rows.count, classes = teacher.outputShape.reduce(1, *)
        precondition(base.count == pairs && target.count == pairs,
                     "BSSGenerator: \(pairs) rows, \(base.count) base and \(target.count) target classes")
        for j in 0..<pairs {
            precondition(rows[j] >= 0 && rows[j] < source.batch, "BSSGenerator: row \(rows[j]) out of range")
            precondition((0..<classes).contains(base[j]) && (0..<classes).contains(target[j]) && base[j] != target[j],
                         "BSSGenerator: pair \(j) has base \(base[j]) and target \(target[j]) (\(classes) classes)")
        }
        let per = inputShape.reduce(1, *)
        let capacity = max(1, min(batchSize, pairs))
        var out = BSSBatchResult(x: Tensor(shape: [pairs] + inputShape), status: .init(repeating: .rejectedStepLimit, count: pairs),
                                 steps: .init(repeating: 0, count: pairs), logits: Tensor(shape: [pairs, classes]),
                                 margins: .init(repeating: 0, count: pairs))
        guard pairs > 0 else { return out }
        prepare(capacity: capacity, per: per, classes: classes)

        var queued = 0, finished = 0, accepted = 0
        var active = fill(from: 0, source: source, rows: rows, queued: &queued, per: per, capacity: capacity)
        swapBuffers()
        while active > 0 {
            let logits = teacher.forward(current, mode: .inference)      // [A, classes]
            out.forwardRows += active
            // Decide every active pair from its logits; the continuing ones get their step's
            // numerator η (L + ε) in stepScale, the stopped ones are copied out.
            var continuing = 0
            logits.data.withUnsafeBufferPointer { f in
                for slot in 0..<active {
                    let pair = slotPair[slot], i = slotStep[slot], b = base[pair], k = target[pair]
                    let row = f.baseAddress! + slot * classes
                    let margin = row[b] - row[k]
                    var top = 0
                    for c in 1..<classes where row[c] > row[top] { top = c }
                    if let status = decide(margin: margin, top: top, base: b, target: k, step: i) {
                        record(pair: pair, slot: slot, status: status, step: i, margin: margin, logits: row,
                               classes: classes, per: per, into: &out)
                        finished += 1
                        if status == .accepted { accepted += 1 }
                        continues[slot] = false
                    } else {
                        stepScale[slot] = parameters.eta * (margin + parameters.eps)
                        continues[slot] = true
                        continuing += 1
                    }
                }
            }
            var count = 0
            if continuing > 0 {
                let gradient = inputGradient(active: active, classes: classes, base: base, target: target)
                out.backwardRows += active
                count = advance(active: active, gradient: gradient, per: per)
            }
            active = fill(from: count, source: source, rows: rows, queued: &queued, per: per, capacity: capacity)
            swapBuffers()
            progress?(finished, accepted)
        }
        return out
    }

    /// The stop rule of `parameters.mode` at iterate `step`, or nil to take another step.
    @inline(__always)
    private func decide(margin: Float, top: Int, base: Int, target: Int, step: Int) -> BSSStatus? {
        switch parameters.mode {
        case .paper:
            if margin < 0 && top == target { return .accepted }
            if top != base && top != target { return .rejectedOtherClass }
            if step >= parameters.maxSteps { return .rejectedStepLimit }
        case .official:
            if top != base { return top == target ? .accepted : .rejectedOtherClass }
            if step >= parameters.maxSteps { return .rejectedStepLimit }
        }
        return nil
    }

    /// Copies a stopped pair's iterate, logits and outcome into the result.
    @inline(__always)
    private func record(pair: Int, slot: Int, status: BSSStatus, step: Int, margin: Float,
                        logits row: UnsafePointer<Float>, classes: Int, per: Int, into out: inout BSSBatchResult) {
        out.status[pair] = status
        out.steps[pair] = step
        out.margins[pair] = margin
        out.logits.data.withUnsafeMutableBufferPointer { l in
            (l.baseAddress! + pair * classes).update(from: row, count: classes)
        }
        current.data.withUnsafeBufferPointer { c in
            out.x.data.withUnsafeMutableBufferPointer { x in
                (x.baseAddress! + pair * per).update(from: c.baseAddress! + slot * per, count: per)
            }
        }
    }

    /// `∂L_j/∂x_j` for every active row (one backward seeded with +1 at b, −1 at k; rows that
    /// stopped get a zero seed since their gradient is not used).
    private func inputGradient(active: Int, classes: Int, base: [Int], target: [Int]) -> Tensor {
        setRows(&seed, active, [classes])
        seed.data.withUnsafeMutableBufferPointer { s in
            s.update(repeating: 0)
            for slot in 0..<active where continues[slot] {
                let pair = slotPair[slot]
                s[slot * classes + base[pair]] = 1
                s[slot * classes + target[pair]] = -1
            }
        }
        return teacher.backward(seed, parameterGradients: false)
    }

    /// Writes `x − s · g` of every continuing slot, compacted, into `next` (rows 0..<count);
    /// returns count.
    private func advance(active: Int, gradient: Tensor, per: Int) -> Int {
        let useSquare = parameters.stepNorm == .l2sq, clip = parameters.clip
        var count = 0
        setRows(&next, active, teacher.inputShape)
        gradient.data.withUnsafeBufferPointer { gp in
            current.data.withUnsafeBufferPointer { cp in
                next.data.withUnsafeMutableBufferPointer { np in
                    for slot in 0..<active where continues[slot] {
                        let g = gp.baseAddress! + slot * per, x = cp.baseAddress! + slot * per
                        let y = np.baseAddress! + count * per
                        var sumSquares: Double = 0
                        for e in 0..<per { sumSquares += Double(g[e]) * Double(g[e]) }
                        let d = useSquare ? sumSquares : sumSquares.squareRoot()
                        // A vanished (or overflowing) gradient gives no direction: stay put.
                        let s = d > 0 && d.isFinite ? Float(Double(stepScale[slot]) / d) : 0
                        if let clip {
                            let lo = clip.lowerBound, hi = clip.upperBound
                            for e in 0..<per { y[e] = min(max(x[e] - s * g[e], lo), hi) }
                        } else {
                            for e in 0..<per { y[e] = x[e] - s * g[e] }
                        }
                        nextPair[count] = slotPair[slot]
                        nextStep[count] = slotStep[slot] + 1
                        count += 1
                    }
                }
            }
        }
        return count
    }

    /// Appends waiting pairs to `next` after its first `start` rows, up to `capacity`; returns
    /// the number of rows `next` then holds.
    private func fill(from start: Int, source: Tensor, rows: [Int], queued: inout Int, per: Int, capacity: Int) -> Int {
        let count = min(capacity, start + (rows.count - queued))
        setRows(&next, max(count, start), teacher.inputShape)
        guard count > start else { return start }
        source.data.withUnsafeBufferPointer { sp in
            next.data.withUnsafeMutableBufferPointer { np in
                for slot in start..<count {
                    (np.baseAddress! + slot * per).update(from: sp.baseAddress! + rows[queued] * per, count: per)
                    nextPair[slot] = queued
                    nextStep[slot] = 0
                    queued += 1
                }
            }
        }
        return count
    }

    /// Sizes the reusable buffers for `capacity` rows (reserving, so later resizes never allocate).
    private func prepare(capacity: Int, per: Int, classes: Int) {
        current.data.reserveCapacity(capacity * per)
        next.data.reserveCapacity(capacity * per)
        seed.data.reserveCapacity(capacity * classes)
        if slotPair.count < capacity {
            slotPair = [Int](repeating: 0, count: capacity)
            slotStep = slotPair
            nextPair = slotPair
            nextStep = slotPair
            stepScale = [Float](repeating: 0, count: capacity)
            continues = [Bool](repeating: false, count: capacity)
        }
    }

    /// The next iterate becomes the current one. Each buffer is written only while the teacher
    /// holds no reference to it (its layers keep the input of the latest forward pass, i.e. the
    /// other buffer), so the writes stay in place instead of copying.
    private func swapBuffers() {
        swap(&current, &next)
        swap(&slotPair, &nextPair)
        swap(&slotStep, &nextStep)
    }

    /// Gives `t` the shape `[rows] + perSample`, growing or shrinking its storage in place.
    private func setRows(_ t: inout Tensor, _ rows: Int, _ perSample: [Int]) {
        let count = rows * perSample.reduce(1, *)
        if t.data.count > count {
            t.data.removeLast(t.data.count - count)
        } else if t.data.count < count {
            t.data.append(contentsOf: repeatElement(0, count: count - t.data.count))
        }
        t.shape = [rows] + perSample
    }
}

extension BSSGenerator {
    /// One evaluation of the search loss for a batch: the teacher's logits `[N, classes]`,
    /// `L_j = f_{b_j} − f_{k_j}` and `∂L_j/∂x_j` `[N] + inputShape` (inference mode, one
    /// forward and one backward seeded with +1 at `b_j`, −1 at `k_j`).
    public func marginGradient(x: Tensor, base: [Int], target: [Int]) -> (logits: Tensor, margins: [Float], gradient: Tensor) {
        let logits = teacher.forward(x, mode: .inference)
        let classes = logits.sampleCount
        let margins = logitMargins(logits: logits, base: base, target: target)
        let gradient = teacher.backward(marginSeed(batch: x.batch, classes: classes, base: base, target: target),
                                        parameterGradients: false)
        return (logits, margins, gradient)
    }
}

import Boundary
import Cluster
import Foundation
import NN
import Tensor

/// One `DistillationStep` split over the ranks of an `mpirun` job (`DataParallel`, docs/mpi.md).
///
/// Every rank gets the whole batch `x` (`[B] + inputShape`), its labels and the teacher's logits
/// on it, and returns the step's global `Result`:
///
/// 1. Clean terms on this rank's rows (synchronised BatchNorm), loss gradient × `B_rank/B`.
/// 2. BSS (method `bss`, β > 0): the student's logits are gathered so every rank selects the
///    same base rows and draws the same targets from its (identical) generator; the pairs are
///    searched in contiguous shares (inference mode, per sample: the bits one process finds)
///    and gathered; the `M` used samples are split again for the BSS forward/backward
///    (synchronised BatchNorm, gradient × `M_rank/M`).
/// 3. One all-reduce of the parameter gradients, one of the loss sums, then the optimiser step
///    (the same on every rank).
extension DistillationStep {
    func runParallel(_ p: DataParallel, x: Tensor, labels: [Int], teacherLogits: Tensor?, alpha: Float, beta: Float,
                     learningRate: Float, generator: inout SeededGenerator) -> Result {
        p.beginStep()
        defer { p.endStep() }
        let batch = x.batch
        var r = Result()
        r.count = batch
        optimizer.learningRate = learningRate
        optimizer.zeroGrad()

        // Clean batch, this rank's rows.
        let share = p.share(batch)
        let rows = share ?? 0..<batch
        let weight = share == nil ? 1 / Float(p.size) : Float(rows.count) / Float(batch)
        p.synchroniseBatchNorm(student, share != nil)
        let xs = share == nil ? x : x.slice(rows: rows)
        let ys = Array(labels[rows])
        let s = student.forward(studentInput(xs), mode: .training)
        var (ce, grad) = crossEntropy(logits: s, labels: ys)
        var kd: Float = 0
        if method.usesTeacher, let t = teacherLogits {
            let (k, kdGrad) = distillationLoss(student: s, teacher: share == nil ? t : t.slice(rows: rows), temperature: temperature)
            kd = k
            grad.data.withUnsafeMutableBufferPointer { g in
                kdGrad.data.withUnsafeBufferPointer { k in for i in 0..<g.count { g[i] += alpha * k[i] } }
            }
        }
        scale(&grad, weight)
        student.backward(grad)
        let correct = zip(argmax(rows: s), ys).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
        // Loss sums of this rank (a replicated batch counts once, on rank 0).
        let counted = share != nil || p.rank == 0
        var sums: [Double] = counted ? [Double(ce) * Double(rows.count), Double(kd) * Double(rows.count), Double(correct), 0]
                                     : [0, 0, 0, 0]

        if method == .bss, beta > 0, let t = teacherLogits {
            let sAll = share == nil ? s : p.allgatherRows(s, perRow: [s.sampleCount], total: batch)
            sums[3] = parallelBSSTerm(p, x: x, labels: labels, studentLogits: sAll, teacherLogits: t, beta: beta,
                                      generator: &generator, into: &r)
        }
        p.synchroniseBatchNorm(student, false)
        p.allreduceGradients(student)
        p.world.allreduceSum(&sums)
        r.crossEntropy = Float(sums[0] / Double(batch))
        r.distillation = Float(sums[1] / Double(batch))
        r.correct = Int(sums[2])
        r.bssDistillation = r.bssUsed > 0 ? Float(sums[3] / Double(r.bssUsed)) : 0
        r.loss = r.crossEntropy + (method.usesTeacher ? alpha * r.distillation : 0) + beta * r.bssDistillation
        optimizer.step()
        return r
    }

    /// The BSS term with the search and the BSS batch split over the ranks; returns this rank's
    /// `KD_BSS · M_rank` (0 when replicated on a rank other than 0).
    private func parallelBSSTerm(_ p: DataParallel, x: Tensor, labels: [Int], studentLogits s: Tensor, teacherLogits t: Tensor,
                                 beta: Float, generator: inout SeededGenerator, into r: inout Result) -> Double {
        let base = baseSelector?(t, s, labels, bssPerBatch)
            ?? BaseSelection.forDistillation(teacherLogits: t, studentLogits: s, labels: labels, limit: bssPerBatch)
        r.baseRows = base
        guard !base.isEmpty else { return 0 }
        let samples: BoundarySamples
        if let sampleOverride {
            samples = sampleOverride(base, x)
        } else {
            let baseLabels = base.map { labels[$0] }
            // Every rank draws every target: the generators stay identical.
            let targets = TargetSelection.sample(probabilities: softmax(t.gather(rows: base)), base: baseLabels,
                                                 generator: &generator)
            let mine = Shard.range(count: base.count, rank: p.rank, size: p.size)
            let noiseSeed = attack == .noise ? generator.next() : 0
            let out = search!.run(source: x, rows: Array(base[mine]), base: Array(baseLabels[mine]), target: Array(targets[mine]),
                                  noiseSeed: noiseSeed, firstPair: mine.lowerBound)
            let found = out.result
            // One gather of every pair's [status, target, logits…, x…] in pair order.
            let classes = t.sampleCount, per = x.sampleCount, width = 2 + classes + per
            var packed = [Float](repeating: 0, count: mine.count * width)
            for j in 0..<mine.count {
                packed[j * width] = Float(found.status[j].rawValue)
                packed[j * width + 1] = Float(out.target[j])
                packed.replaceSubrange((j * width + 2)..<(j * width + 2 + classes), with: found.logits.data[(j * classes)..<((j + 1) * classes)])
                packed.replaceSubrange((j * width + 2 + classes)..<((j + 1) * width), with: found.x.data[(j * per)..<((j + 1) * per)])
            }
            let all = p.allgatherRows(Tensor(shape: [mine.count, width], data: packed), perRow: [width], total: base.count).data
            var xs = [Float](), logits = [Float](), status = [BSSStatus](), foundTargets = [Int]()
            xs.reserveCapacity(base.count * per); logits.reserveCapacity(base.count * classes)
            for j in 0..<base.count {
                status.append(BSSStatus(rawValue: Int8(all[j * width]))!)
                foundTargets.append(Int(all[j * width + 1]))
                logits += all[(j * width + 2)..<(j * width + 2 + classes)]
                xs += all[(j * width + 2 + classes)..<((j + 1) * width)]
            }
            samples = BoundarySamples(targets: foundTargets, x: Tensor(shape: [base.count] + Array(x.shape.dropFirst()), data: xs),
                                      status: status, teacherLogits: Tensor(shape: [base.count, classes], data: logits))
        }
        r.bssAttempted = base.count
        r.bssAccepted = samples.status.reduce(0) { $0 + ($1 == .accepted ? 1 : 0) }
        let used = keepsAcceptedOnly
            ? samples.status.indices.filter { samples.status[$0] == .accepted }
            : Array(samples.status.indices)
        guard !used.isEmpty, used.count * (batchNormValuesPerSample ?? 2) >= 2 else { return 0 }
        r.bssUsed = used.count
        let share = p.share(used.count)
        let mine = share.map { Array(used[$0]) } ?? used
        let weight = share == nil ? 1 / Float(p.size) : Float(mine.count) / Float(used.count)
        p.synchroniseBatchNorm(student, share != nil)
        let sb = student.forward(studentInput(samples.x.gather(rows: mine)), mode: .training)
        var (kdb, g) = distillationLoss(student: sb, teacher: samples.teacherLogits.gather(rows: mine), temperature: temperature)
        scale(&g, beta * weight)
        student.backward(g)
        return share != nil || p.rank == 0 ? Double(kdb) * Double(mine.count) : 0
    }

    private func scale(_ t: inout Tensor, _ factor: Float) {
        guard factor != 1 else { return }
        t.data.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= factor } }
    }
}

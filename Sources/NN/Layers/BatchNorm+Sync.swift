import Foundation
import Tensor

/// Synchronised BatchNorm for data-parallel training (docs/mpi.md, "BatchNorm").
///
/// Each rank holds a shard of the global batch. With `statisticsReducer` set (it sums a buffer
/// over the ranks), the training-mode statistics are those of the whole global batch:
///
///     forward   μ   = Σ_ranks Σ x / M,   σ² = Σ_ranks Σ (x − μ)² / M,   M = Σ_ranks N·S
///     backward  mean(g), mean(g·x̂) from Σ_ranks Σ dy and Σ_ranks Σ dy·x̂
///
/// (two reductions per layer and training pass: forward `[Σx, Σ(x − K)², M]`, backward
/// `[Σ dy, Σ dy·x̂]`). Each rank computes its mean and centred squares in two passes, as the
/// single-process layer does, and shifts them to a common `K` (the running mean, identical on
/// every rank) before the sum, so the variance does not come from a cancelling `Σx² − Mμ²`;
/// one process holding the whole batch differs only in the order of the additions. The
/// parameter gradients get this rank's own sums; the optimiser's gradient all-reduce adds the
/// other ranks'. Every rank updates the running statistics with the same global numbers.
extension BatchNorm {
    func syncedBatchStatistics(_ x: Tensor, n: Int, s: Int, reduce: (inout [Double]) -> Void) {
        let c = channels, local = Double(n * s)
        // This rank's mean and centred sum of squares (two passes, as the single-process layer).
        var sums = [Double](repeating: 0, count: c)
        channelSums(x, n: n, s: s, into: &sums) { v, _ in Double(v) }
        let localMean = sums.map { local > 0 ? $0 / local : 0 }
        var centred = [Double](repeating: 0, count: c)
        channelSums(x, n: n, s: s, into: &centred) { v, ch in let d = Double(v) - localMean[ch]; return d * d }
        // One reduction of [Σx, Σ(x − K)², count] with K the running mean (the same on every rank,
        // and near the batch mean, so the combination below cancels little):
        // Σ(x − K)² = M2_r + n_r (μ_r − K)²,   M2 = Σ_r Σ(x − K)² − M (μ − K)².
        let shift = runningMean.value.data.map { Double($0) }
        var buffer = [Double](repeating: 0, count: 2 * c + 1)
        for ch in 0..<c {
            buffer[ch] = sums[ch]
            let d = localMean[ch] - shift[ch]
            buffer[c + ch] = centred[ch] + local * d * d
        }
        buffer[2 * c] = local
        reduce(&buffer)
        let m = buffer[2 * c]
        precondition(m > 1, "BatchNorm in training mode needs more than one value per channel over all ranks, got \(m)")
        let mom = Double(momentum)
        runningMean.value.data.withUnsafeMutableBufferPointer { rm in
            runningVar.value.data.withUnsafeMutableBufferPointer { rv in
                for ch in 0..<c {
                    let mu = buffer[ch] / m, d = mu - shift[ch]
                    let biased = max(0, buffer[c + ch] - m * d * d) / m
                    mean[ch] = Float(mu)
                    invStd[ch] = Float(1 / (biased + Double(eps)).squareRoot())
                    rm[ch] = Float((1 - mom) * Double(rm[ch]) + mom * mu)
                    rv[ch] = Float((1 - mom) * Double(rv[ch]) + mom * biased * m / (m - 1))
                }
            }
        }
        numBatchesTracked += 1
        syncedCount = m
    }

    /// Per channel, Σ over this rank's N·S values of `term(value, channel)` (Double), channels in parallel.
    private func channelSums(_ x: Tensor, n: Int, s: Int, into out: inout [Double], _ term: (Float, Int) -> Double) {
        let c = channels
        x.data.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { op in
                parallelChunks(c, work: x.count) { chans in
                    for ch in chans {
                        var total: Double = 0
                        for i in 0..<n {
                            let off = (i * c + ch) * s
                            var acc: Double = 0
                            for k in 0..<s { acc += term(xp[off + k], ch) }
                            total += acc
                        }
                        op[ch] = total
                    }
                }
            }
        }
    }

    func syncedBackward(_ gradOutput: Tensor, _ x: Tensor, count m: Double, parameterGradients: Bool,
                        reduce: (inout [Double]) -> Void) -> Tensor {
        let n = x.batch, c = channels, s = x.count / max(n * c, 1)
        let mean = self.mean, invStd = self.invStd
        // This rank's Σ dy (first c) and Σ dy·x̂ (next c).
        var local = [Double](repeating: 0, count: 2 * c)
        x.data.withUnsafeBufferPointer { xp in
            gradOutput.data.withUnsafeBufferPointer { dy in
                local.withUnsafeMutableBufferPointer { lp in
                    parallelChunks(c, work: x.count) { chans in
                        for ch in chans {
                            let (sumDy, sumDyXhat) = BatchNorm.gradientSums(dy.baseAddress!, xp.baseAddress!, channel: ch, n: n, c: c, s: s,
                                                                            mean: mean[ch], invStd: invStd[ch])
                            lp[ch] = sumDy
                            lp[c + ch] = sumDyXhat
                        }
                    }
                }
            }
        }
        var global = local
        reduce(&global)
        if parameterGradients {
            for ch in 0..<c {
                weight.grad.data[ch] += Float(local[c + ch])
                bias.grad.data[ch] += Float(local[ch])
            }
        }
        let scale = (0..<c).map { weight.value.data[$0] * invStd[$0] }
        // As the single-process layer computes them (Float division), so one rank matches it exactly.
        let mf = Float(m)
        let meanDy = (0..<c).map { Float(global[$0]) / mf }, meanDyXhat = (0..<c).map { Float(global[c + $0]) / mf }
        let dxData = x.data.withUnsafeBufferPointer { xp in
            gradOutput.data.withUnsafeBufferPointer { dy in
                uninitializedFloats(x.count) { dxp in
                    parallelChunks(c, work: x.count) { chans in
                        for ch in chans {
                            let mu = mean[ch], inv = invStd[ch], a = scale[ch], md = meanDy[ch], mdx = meanDyXhat[ch]
                            for i in 0..<n {
                                let off = (i * c + ch) * s
                                for k in 0..<s {
                                    let xhat = (xp[off + k] - mu) * inv
                                    dxp[off + k] = a * (dy[off + k] - md - xhat * mdx)
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: x.shape, data: dxData)
    }
}

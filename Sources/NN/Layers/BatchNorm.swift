import Foundation
import Tensor

/// Batch normalisation over the channel axis, exactly `torch.nn.BatchNorm1d/2d`.
///
///     y = γ · (x − μ) / √(σ² + eps) + β        per channel c, over the batch and spatial axes
///
/// Shapes: input `[N, C]` or `[N, C, H, W]` (any `[N, C, …]`) → same shape. Parameters in
/// state-dict order: `weight` γ `[C]` (init 1), `bias` β `[C]` (init 0), buffers `running_mean`
/// `[C]` (init 0) and `running_var` `[C]` (init 1); `numBatchesTracked` counts training batches.
/// Defaults `eps = 1e-5`, `momentum = 0.1` in PyTorch's convention (Keras' momentum 0.99 is 0.01 here).
///
/// - `.inference`: μ, σ² are the running statistics; backward treats them as constants
///   (BSS generation backprops to the input through the teacher in this mode).
/// - `.training`: μ, σ² are the batch mean and **biased** variance (divide by M = N·H·W), and
///   the running statistics move towards the batch ones with the **unbiased** variance:
///   `running = (1 − momentum) · running + momentum · batch`, `σ²_unbiased = σ² · M / (M − 1)`.
///   M must exceed 1 (PyTorch raises for a single value per channel).
///
/// Backward (x̂ = normalised input, g = dy · γ):
/// training `dx = (g − mean(g) − x̂ · mean(g · x̂)) / √(σ² + eps)`; inference `dx = g / √(σ² + eps)`;
/// both `dγ += Σ dy · x̂`, `dβ += Σ dy`.
public final class BatchNorm: Layer {
    public let channels: Int
    public let eps: Float
    public var momentum: Float
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Parameter
    public let runningVar: Parameter
    /// Training batches seen (PyTorch's `num_batches_tracked`, kept for state-dict round trips).
    public var numBatchesTracked: Int64 = 0

    /// Data-parallel training (docs/mpi.md): sums a buffer element-wise over the ranks, in place.
    /// When set, training-mode forward and backward use the statistics of the global batch
    /// (BatchNorm+Sync.swift); nil (the default) uses this batch alone.
    public var statisticsReducer: ((inout [Double]) -> Void)?

    // State of the last forward call: per-channel mean and 1/√(var + eps) used, and the mode;
    // `syncedCount` is M over all ranks when the statistics were reduced.
    var mean: [Float]
    var invStd: [Float]
    var lastMode: Mode = .inference
    var syncedCount: Double?

    public init(channels: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        precondition(channels > 0, "BatchNorm needs a positive channel count, got \(channels)")
        self.channels = channels
        self.eps = eps
        self.momentum = momentum
        weight = Parameter(name: "weight", value: Tensor(shape: [channels], repeating: 1))
        bias = Parameter(name: "bias", value: Tensor.zeros([channels]))
        runningMean = Parameter(name: "running_mean", value: Tensor.zeros([channels]), trainable: false)
        runningVar = Parameter(name: "running_var", value: Tensor(shape: [channels], repeating: 1), trainable: false)
        mean = [Float](repeating: 0, count: channels)
        invStd = [Float](repeating: 1, count: channels)
    }

    public var kind: String { "BatchNorm" }
    public var summary: String { "\(channels) channels, eps \(eps), momentum \(momentum)" }
    public var parameters: [Parameter] { [weight, bias, runningMean, runningVar] }
    public var backwardReads: BackwardReads { .inputs }

    public func outputShape(for inputShapes: [[Int]]) throws -> [Int] {
        guard inputShapes.count == 1 else {
            throw NNError.shape("", "BatchNorm takes one input, got \(inputShapes.count)")
        }
        let s = inputShapes[0]
        guard (1...3).contains(s.count), s[0] == channels else {
            throw NNError.shape("", "BatchNorm(\(channels)) expects per-sample input [\(channels)] or [\(channels), H, W], got \(s)")
        }
        return s
    }

    public func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]                                   // [N, C, S…]
        prepareStatistics(x, mode: mode)
        // y = a·x + shift with a = γ/σ, shift = β − a·μ: one multiply-add per element.
        return normalise(x, residual: nil, relu: false)
    }

    /// Sets this call's mean and 1/σ: the batch statistics (and their running update) in
    /// training, the running ones in inference.
    func prepareStatistics(_ x: Tensor, mode: Mode) {
        precondition(x.rank >= 2 && x.shape[1] == channels, "BatchNorm(\(channels)) got input \(x.shape)")
        let n = x.batch, c = channels, s = x.count / max(n * c, 1)
        lastMode = mode
        syncedCount = nil
        if mode == .training, let reduce = statisticsReducer {
            syncedBatchStatistics(x, n: n, s: s, reduce: reduce)
        } else if mode == .training {
            let m = n * s
            precondition(m > 1, "BatchNorm in training mode needs more than one value per channel, got input \(x.shape)")
            batchStatistics(x, n: n, s: s)
        } else {
            runningMean.value.data.withUnsafeBufferPointer { rm in
                runningVar.value.data.withUnsafeBufferPointer { rv in
                    for ch in 0..<c {
                        mean[ch] = rm[ch]
                        invStd[ch] = 1 / (rv[ch] + eps).squareRoot()
                    }
                }
            }
        }
    }

    /// Batch mean and biased variance (two passes, Double accumulation, so large N·H·W stay
    /// accurate) into the cache, then the PyTorch running-statistics update.
    private func batchStatistics(_ x: Tensor, n: Int, s: Int) {
        let c = channels, m = Double(n * s)
        var sum = [Double](repeating: 0, count: c), sq = [Double](repeating: 0, count: c)
        x.data.withUnsafeBufferPointer { xp in
            sum.withUnsafeMutableBufferPointer { sump in
                sq.withUnsafeMutableBufferPointer { sqp in
                    // Channels are independent: each worker sums its own channels in the serial order.
                    parallelChunks(c, work: x.count) { chans in
                        for ch in chans {
                            var total: Double = 0
                            for i in 0..<n { total += BatchNormKernels.sum(xp.baseAddress! + (i * c + ch) * s, s) }
                            let mu = total / m
                            sump[ch] = mu
                            var sqTotal: Double = 0
                            for i in 0..<n {
                                sqTotal += BatchNormKernels.centredSquares(xp.baseAddress! + (i * c + ch) * s, s, mean: mu)
                            }
                            sqp[ch] = sqTotal
                        }
                    }
                }
            }
        }
        let mom = Double(momentum)
        runningMean.value.data.withUnsafeMutableBufferPointer { rm in
            runningVar.value.data.withUnsafeMutableBufferPointer { rv in
                for ch in 0..<c {
                    let biased = sq[ch] / m
                    mean[ch] = Float(sum[ch])
                    invStd[ch] = Float(1 / (biased + Double(eps)).squareRoot())
                    rm[ch] = Float((1 - mom) * Double(rm[ch]) + mom * sum[ch])
                    rv[ch] = Float((1 - mom) * Double(rv[ch]) + mom * biased * m / (m - 1))
                }
            }
        }
        numBatchesTracked += 1
    }

    public func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        [backwardCore(gradOutput, x: record.inputs[0], mask: nil, parameterGradients: parameterGradients)]
    }

    /// dx for the last forward, and the parameter gradients. With `mask` (the output of a fused
    /// ReLU, `FusedNormBlock`), the gradient is `dy · [mask > 0]`, applied as it is read.
    func backwardCore(_ gradOutput: Tensor, x: Tensor, mask: Tensor?, parameterGradients: Bool) -> Tensor {
        precondition(gradOutput.shape == x.shape, "BatchNorm backward: gradient \(gradOutput.shape), expected \(x.shape)")
        let n = x.batch, c = channels, s = x.count / max(n * c, 1), m = Float(n * s)
        let training = lastMode == .training
        if training, let reduce = statisticsReducer, let count = syncedCount {
            precondition(mask == nil, "BatchNorm: fused ReLU with a statistics reducer")
            return syncedBackward(gradOutput, x, count: count, parameterGradients: parameterGradients, reduce: reduce)
        }
        let mean = self.mean, invStd = self.invStd
        // Σ dy and Σ dy·x̂ are needed for the training-mode dx and for the parameter gradients.
        let needSums = training || parameterGradients
        var sumDyAll = [Double](repeating: 0, count: c), sumDyXhatAll = [Double](repeating: 0, count: c)
        var scale = [Float](repeating: 0, count: c)
        weight.value.data.withUnsafeBufferPointer { g in
            for ch in 0..<c { scale[ch] = g[ch] * invStd[ch] }
        }
        let total = x.count
        let dxData = x.data.withUnsafeBufferPointer { xp in
            withOptionalBuffer(mask?.data) { mp in
            gradOutput.data.withUnsafeBufferPointer { dy in
                sumDyAll.withUnsafeMutableBufferPointer { sumDyP in
                    sumDyXhatAll.withUnsafeMutableBufferPointer { sumDyXhatP in
                        scale.withUnsafeBufferPointer { scaleP in
                            uninitializedFloats(total) { dxp in
                                // Channels are independent: each worker handles its own channels.
                                parallelChunks(c, work: total) { chans in
                                    for ch in chans {
                                        let mu = mean[ch], inv = invStd[ch], a = scaleP[ch]
                                        let mask = mp?.baseAddress
                                        var sumDy: Double = 0, sumDyXhat: Double = 0
                                        if needSums {
                                            (sumDy, sumDyXhat) = BatchNorm.gradientSums(dy.baseAddress!, mask: mask, xp.baseAddress!,
                                                                                        channel: ch, n: n, c: c, s: s, mean: mu, invStd: inv)
                                            sumDyP[ch] = sumDy
                                            sumDyXhatP[ch] = sumDyXhat
                                        }
                                        if training {
                                            // The batch statistics depend on x: subtract their contributions
                                            // (on the masked gradient, ReLU's dy · [y > 0], with a mask).
                                            let meanDy = Float(sumDy) / m, meanDyXhat = Float(sumDyXhat) / m
                                            for i in 0..<n {
                                                let off = (i * c + ch) * s
                                                BatchNormKernels.trainingInputGradient(dxp + off, dy.baseAddress! + off, mask: mask.map { $0 + off },
                                                                                       xp.baseAddress! + off, s, scale: a, mean: mu, invStd: inv,
                                                                                       meanDy: meanDy, meanDyXhat: meanDyXhat)
                                            }
                                        } else if let mask {
                                            for i in 0..<n {
                                                let off = (i * c + ch) * s
                                                BatchNormKernels.maskedScale(dxp + off, dy.baseAddress! + off, mask: mask + off, s, scale: a)
                                            }
                                        } else {
                                            for i in 0..<n {
                                                let off = (i * c + ch) * s
                                                scaleElements(dxp + off, dy.baseAddress! + off, a, s)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            }
        }
        if parameterGradients {
            for ch in 0..<c {
                weight.grad.data[ch] += Float(sumDyXhatAll[ch])
                bias.grad.data[ch] += Float(sumDyAll[ch])
            }
        }
        return Tensor(shape: x.shape, data: dxData)
    }
}

extension BatchNorm {
    /// Σ dy and Σ dy·x̂ over one channel's N·S values (x̂ = (x − μ)·invStd), in Double, in a
    /// fixed order (`BatchNormKernels`): the sums backward needs, shared by the single-process and
    /// the MPI paths. With `mask` (a fused ReLU's output) the gradient is `dy · [mask > 0]`.
    @inline(__always)
    static func gradientSums(_ dy: UnsafePointer<Float>, mask: UnsafePointer<Float>? = nil, _ x: UnsafePointer<Float>,
                             channel ch: Int, n: Int, c: Int, s: Int, mean mu: Float, invStd inv: Float) -> (Double, Double) {
        var sumDy: Double = 0, sumDyXhat: Double = 0
        for i in 0..<n {
            let off = (i * c + ch) * s
            let (a, b) = BatchNormKernels.gradientSums(dy + off, mask: mask.map { $0 + off }, x + off, s, mean: mu, invStd: inv)
            sumDy += a
            sumDyXhat += b
        }
        return (sumDy, sumDyXhat)
    }
}

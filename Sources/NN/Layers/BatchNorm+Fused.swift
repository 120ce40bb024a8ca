import Tensor

/// BatchNorm → ReLU, or BatchNorm → Add → ReLU (a residual block's end), in one pass each way:
///
///     y = max(a·x + shift (+ r), 0)        a = γ/√(σ² + eps), shift = β − a·μ
///
/// with the batch statistics in `.training` (and their running update) or the running ones in
/// `.inference`, exactly as the separate layers compute them: each element is the same scalar
/// expression in the same order (BatchNorm's multiply-add, then the residual, then the max), so
/// the result is **bit-identical** to running the three nodes. What fusion saves: the
/// BatchNorm output and the Add output (two full-size temporaries and two memory passes) in
/// forward; in backward the ReLU mask `[y > 0]` is applied while BatchNorm reads the gradient
/// instead of in a pass of its own (with a residual, the masked gradient is materialised once,
/// since the residual branch receives it). See docs/design.md, "Fusion".
///
/// Not fused: a BatchNorm with a `statisticsReducer` (MPI; its statistics come from the ranks).
final class FusedNormBlock: FusedBlock {
    let bn: BatchNorm
    let members: [Int]
    let inputs: [Graph.Source]
    let hasResidual: Bool

    init(bn: BatchNorm, members: [Int], input: Graph.Source, residual: Graph.Source?) {
        self.bn = bn
        self.members = members
        inputs = [input] + (residual.map { [$0] } ?? [])
        hasResidual = residual != nil
    }

    func runs(in mode: Mode) -> Bool { bn.statisticsReducer == nil }

    func forward(_ inputs: [Tensor], mode: Mode) -> Tensor {
        let x = inputs[0]
        bn.prepareStatistics(x, mode: mode)
        return bn.normalise(x, residual: hasResidual ? inputs[1] : nil, relu: true)
    }

    /// BatchNorm's input (its backward reads x̂) and the block's output (the mask); the residual
    /// input only by shape.
    func record(inputs: [Tensor], output: Tensor) -> ForwardRecord {
        ForwardRecord(inputs: [inputs[0]] + inputs.dropFirst().map { _ in Tensor.zeros([0]) }, output: output,
                      inputShapes: inputs.map(\.shape))
    }

    func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] {
        let x = record.inputs[0]
        guard hasResidual else {
            return [bn.backwardCore(gradOutput, x: x, mask: record.output, parameterGradients: parameterGradients)]
        }
        let g = reluGradient(gradOutput, output: record.output)
        return [bn.backwardCore(g, x: x, mask: nil, parameterGradients: parameterGradients), g]
    }
}

extension BatchNorm {
    /// `y = a·x + shift`, then `+ r` with a residual, then `max(·, 0)` with `relu`, per element, with
    /// the statistics `prepareStatistics` set (the same expressions as BatchNorm, Add and ReLU).
    func normalise(_ x: Tensor, residual: Tensor?, relu: Bool) -> Tensor {
        let n = x.batch, c = channels, s = x.count / max(n * c, 1)
        if let residual {
            precondition(relu && residual.shape == x.shape, "BatchNorm+Add+ReLU got inputs of shapes \(x.shape), \(residual.shape)")
        }
        var scale = [Float](repeating: 0, count: c), shift = [Float](repeating: 0, count: c)
        weight.value.data.withUnsafeBufferPointer { g in
            bias.value.data.withUnsafeBufferPointer { b in
                for ch in 0..<c {
                    let a = g[ch] * invStd[ch]
                    scale[ch] = a
                    shift[ch] = b[ch] - a * mean[ch]
                }
            }
        }
        let total = x.count
        let data = x.data.withUnsafeBufferPointer { xp in
            withOptionalBuffer(residual?.data) { rp in
                scale.withUnsafeBufferPointer { ap in
                    shift.withUnsafeBufferPointer { sp in
                        uninitializedFloats(total) { yb in
                            let xb = xp.baseAddress!
                            parallelChunks(n * c, work: total) { planes in
                                for pl in planes {
                                    let ch = pl % c, off = pl * s
                                    if let rp {
                                        scaleShiftAddReLU(yb + off, xb + off, rp.baseAddress! + off, ap[ch], sp[ch], s)
                                    } else if relu {
                                        scaleShiftReLU(yb + off, xb + off, ap[ch], sp[ch], s)
                                    } else {
                                        scaleShift(yb + off, xb + off, ap[ch], sp[ch], s)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: x.shape, data: data)
    }
}

/// `dst[i] = max(a · src[i] + b, 0)` (BatchNorm's expression, then ReLU's `max`).
@inline(__always)
func scaleShiftReLU(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ a: Float, _ b: Float, _ n: Int) {
    let d = UnsafeMutableRawPointer(dst), s = UnsafeRawPointer(src)
    let av = SIMD16<Float>(repeating: a), bv = SIMD16<Float>(repeating: b), zero = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= n {
        let v = av * s.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) + bv
        d.storeBytes(of: v.replacing(with: zero, where: v .<= zero), toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { dst[i] = max(a * src[i] + b, 0); i += 1 }
}

/// `dst[i] = max((a · src[i] + b) + res[i], 0)` (BatchNorm's expression, Add's sum, ReLU's `max`).
@inline(__always)
func scaleShiftAddReLU(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ res: UnsafePointer<Float>,
                       _ a: Float, _ b: Float, _ n: Int) {
    let d = UnsafeMutableRawPointer(dst), s = UnsafeRawPointer(src), r = UnsafeRawPointer(res)
    let av = SIMD16<Float>(repeating: a), bv = SIMD16<Float>(repeating: b), zero = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= n {
        let v = (av * s.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) + bv)
            + r.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        d.storeBytes(of: v.replacing(with: zero, where: v .<= zero), toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { dst[i] = max((a * src[i] + b) + res[i], 0); i += 1 }
}

/// `dst[i] = max(a[i] + b[i], 0)` (Add's sum, then ReLU's `max`).
@inline(__always)
func addReLU(_ dst: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
    let d = UnsafeMutableRawPointer(dst), ar = UnsafeRawPointer(a), br = UnsafeRawPointer(b)
    let zero = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= n {
        let v = ar.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            + br.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        d.storeBytes(of: v.replacing(with: zero, where: v .<= zero), toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { dst[i] = max(a[i] + b[i], 0); i += 1 }
}

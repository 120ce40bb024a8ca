import Foundation
import Tensor

/// Depthwise convolutions (`groups == inChannels`, each output channel reading one input channel,
/// `outChannels / inChannels` of them per input channel) by a direct kernel instead of im2col +
/// sgemm: the per-group products there have one output row and `kh·kw` inner terms, far too
/// small for a GEMM (MobileNetV2 ran 6× slower than PyTorch that way).
///
/// Per sample and output channel o (input channel c = ⌊o / multiplier⌋), output plane `y_o`:
///
///     y_o = b_o,  then for each tap (ki, kj) in order:  y_o[oy, ox] += w[o, 0, ki, kj] · x_c[oy·sh − top + ki·dh, ox·sw − left + kj·dw]
///
/// over the output positions whose input lies inside the image (padding contributes nothing).
/// Backward: `dx_c[…] += w · dy_o[oy, ox]` tap by tap (the same positions), `dw[o, ki, kj] += Σ dy_o · x_c[…]`,
/// `db_o += Σ dy_o`, weight and bias gradients into per-worker partial sums added in chunk order.
/// Every sum runs in a fixed order per sample, so inference stays batch-invariant and training
/// bit-reproducible for a thread count (docs/design.md, "Determinism").
extension Conv2D {
    /// Whether this layer takes the direct depthwise kernel.
    var isDepthwise: Bool { groups > 1 && groups == inChannels && Conv2D.directDepthwise }

    /// Depthwise convolutions by the direct kernel (default) or, when false, by the per-group
    /// im2col + sgemm path like other grouped ones; `BSS_DEPTHWISE=gemm` sets false at start
    /// (for comparisons; tests switch it).
    nonisolated(unsafe) public static var directDepthwise: Bool =
        ProcessInfo.processInfo.environment["BSS_DEPTHWISE"]?.lowercased() != "gemm"

    /// The taps' valid output ranges: rows per ki, columns per kj.
    private func tapRanges(_ g: ConvGeometry) -> (rows: [Range<Int>], cols: [Range<Int>]) {
        ((0..<kernel.0).map { ConvGeometry.valid($0 * dilation.0, size: g.height, pad: g.padTop, stride: stride.0, out: g.outHeight) },
         (0..<kernel.1).map { ConvGeometry.valid($0 * dilation.1, size: g.width, pad: g.padLeft, stride: stride.1, out: g.outWidth) })
    }

    /// x `[N, C, H, W]` → y `[N, O, outH, outW]` (+ bias, then the fused activation).
    func forwardDepthwise(_ x: Tensor, _ g: ConvGeometry, weights: [Float], bias: [Float]?, activation: ConvActivation) -> Tensor {
        let n = x.shape[0], o = outChannels, mult = o / inChannels, kh = kernel.0, kw = kernel.1
        let hw = g.height * g.width, ow = g.outWidth, p = g.outHeight * ow
        let (rows, cols) = tapRanges(g)
        let sh = stride.0, sw = stride.1, dh = dilation.0, dw = dilation.1, top = g.padTop, left = g.padLeft, w = g.width
        let y = [Float](unsafeUninitializedCapacity: n * o * p) { out, initialized in
            x.data.withUnsafeBufferPointer { xp in
            weights.withUnsafeBufferPointer { wp in
            withOptionalBuffer(bias) { bp in
                Parallel.forEachChunk(n * o) { planes, _ in
                    for plane in planes {
                        let oc = plane % o, s = plane / o
                        let xc = xp.baseAddress! + (s * inChannels + oc / mult) * hw
                        let yo = out.baseAddress! + plane * p
                        yo.update(repeating: bp?[oc] ?? 0, count: p)
                        for ki in 0..<kh {
                            for kj in 0..<kw {
                                let wv = wp[(oc * kh + ki) * kw + kj], cr = cols[kj]
                                if cr.isEmpty { continue }
                                for oy in rows[ki] {
                                    let xrow = xc + (oy * sh - top + ki * dh) * w - left + kj * dw
                                    let yrow = yo + oy * ow
                                    if sw == 1 {
                                        axpy(yrow + cr.lowerBound, xrow + cr.lowerBound, wv, cr.count)
                                    } else {
                                        for ox in cr { yrow[ox] = yrow[ox] + wv * xrow[ox * sw] }
                                    }
                                }
                            }
                        }
                        activation.apply(yo, p)
                    }
                }
            }
            }
            }
            initialized = n * o * p
        }
        return Tensor(shape: [n, o, g.outHeight, ow], data: y)
    }

    /// dy `[N, O, outH, outW]` → dx `[N, C, H, W]`; accumulates dW, db with `parameterGradients`.
    func backwardDepthwise(_ dy: Tensor, input: Tensor, _ g: ConvGeometry, weights: [Float],
                           parameterGradients: Bool) -> Tensor {
        let n = input.shape[0], c = inChannels, o = outChannels, mult = o / c, kh = kernel.0, kw = kernel.1
        let hw = g.height * g.width, ow = g.outWidth, p = g.outHeight * ow
        let (rows, cols) = tapRanges(g)
        let sh = stride.0, sw = stride.1, dh = dilation.0, dwl = dilation.1, top = g.padTop, left = g.padLeft, w = g.width
        let wCount = o * kh * kw, partialSize = wCount + o, chunks = Parallel.chunkCount(n)
        let partialBase = parameterGradients ? partials.pointer(count: chunks * partialSize) : nil
        partialBase?.update(repeating: 0, count: chunks * partialSize)
        let dx = [Float](unsafeUninitializedCapacity: n * c * hw) { dxp, initialized in
            input.data.withUnsafeBufferPointer { xp in
            dy.data.withUnsafeBufferPointer { gp in
            weights.withUnsafeBufferPointer { wp in
                // Samples per worker: the weight-gradient partials are per worker.
                Parallel.forEachChunk(n) { samples, worker in
                    let part = partialBase.map { $0 + worker * partialSize }
                    for s in samples {
                        for ch in 0..<c {
                            let dxc = dxp.baseAddress! + (s * c + ch) * hw
                            let xc = xp.baseAddress! + (s * c + ch) * hw
                            dxc.update(repeating: 0, count: hw)
                            for oc in (ch * mult)..<((ch + 1) * mult) {
                                let dyo = gp.baseAddress! + (s * o + oc) * p
                                for ki in 0..<kh {
                                    for kj in 0..<kw {
                                        let wi = (oc * kh + ki) * kw + kj, wv = wp[wi], cr = cols[kj]
                                        if cr.isEmpty { continue }
                                        var dot: Float = 0
                                        for oy in rows[ki] {
                                            let off = (oy * sh - top + ki * dh) * w - left + kj * dwl
                                            let dyrow = dyo + oy * ow
                                            if sw == 1 {
                                                axpy(dxc + off + cr.lowerBound, dyrow + cr.lowerBound, wv, cr.count)
                                                if part != nil { dot += dotProduct(dyrow + cr.lowerBound, xc + off + cr.lowerBound, cr.count) }
                                            } else {
                                                for ox in cr {
                                                    dxc[off + ox * sw] = dxc[off + ox * sw] + wv * dyrow[ox]
                                                    dot += dyrow[ox] * xc[off + ox * sw]
                                                }
                                            }
                                        }
                                        part?[wi] += dot
                                    }
                                }
                                if let part { part[wCount + oc] += dotProduct(dyo, nil, p) }
                            }
                        }
                    }
                }
            }
            }
            }
            initialized = n * c * hw
        }
        if let partialBase {
            weight.grad.data.withUnsafeMutableBufferPointer { gw in
                for wk in 0..<chunks { for i in 0..<wCount { gw[i] += partialBase[wk * partialSize + i] } }
            }
            bias?.grad.data.withUnsafeMutableBufferPointer { gb in
                for wk in 0..<chunks { for i in 0..<o { gb[i] += partialBase[wk * partialSize + wCount + i] } }
            }
        }
        return Tensor(shape: input.shape, data: dx)
    }
}

/// `dst[i] = dst[i] + a · src[i]` (separate multiply and add in every lane).
@inline(__always)
func axpy(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ a: Float, _ n: Int) {
    let d = UnsafeMutableRawPointer(dst), s = UnsafeRawPointer(src)
    let av = SIMD16<Float>(repeating: a)
    var i = 0
    while i + 16 <= n {
        let v = d.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            + av * s.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        d.storeBytes(of: v, toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { dst[i] = dst[i] + a * src[i]; i += 1 }
}

/// `Σ a[i] · b[i]` (or `Σ a[i]` when b is nil) in sixteen lanes, added up in a fixed order.
@inline(__always)
func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>?, _ n: Int) -> Float {
    let ar = UnsafeRawPointer(a)
    var acc = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= n {
        let v = ar.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        if let b { acc += v * UnsafeRawPointer(b).loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) } else { acc += v }
        i += 16
    }
    var sum = acc.sum()
    while i < n { sum += b.map { a[i] * $0[i] } ?? a[i]; i += 1 }
    return sum
}

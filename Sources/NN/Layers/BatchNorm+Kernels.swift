/// BatchNorm's per-channel reductions and its training-mode input gradient as vector loops.
///
/// The reductions accumulate in `Double` (docs/design.md, "Tensor storage and buffers":
/// reductions that decide results) in eight lanes, lane `j` taking elements `k ≡ j (mod 8)` of a
/// row, the lanes then added in a fixed tree and the tail after them. The order depends only on
/// the row length, never on threads or addresses, so results stay bit-identical run to run. The
/// former scalar loops were one dependent `Double` add per element (latency-bound, about four
/// cycles each); BatchNorm was a tenth of the training step.
enum BatchNormKernels {
    /// `Σ_k Double(x[k])` over one row of `n` floats.
    @inline(__always)
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
        let r = UnsafeRawPointer(x)
        var acc = SIMD8<Double>()
        var k = 0
        while k + 8 <= n {
            acc += SIMD8<Double>(r.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self))
            k += 8
        }
        var total = reduce(acc)
        while k < n { total += Double(x[k]); k += 1 }
        return total
    }

    /// `Σ_k (Double(x[k]) − mu)²` over one row of `n` floats.
    @inline(__always)
    static func centredSquares(_ x: UnsafePointer<Float>, _ n: Int, mean mu: Double) -> Double {
        let r = UnsafeRawPointer(x)
        let m = SIMD8<Double>(repeating: mu)
        var acc = SIMD8<Double>()
        var k = 0
        while k + 8 <= n {
            let d = SIMD8<Double>(r.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)) - m
            acc += d * d
            k += 8
        }
        var total = reduce(acc)
        while k < n { let d = Double(x[k]) - mu; total += d * d; k += 1 }
        return total
    }

    /// `(Σ_k Double(g), Σ_k Double(g · (x − mu) · inv))` over one row, `g = dy[k]`, or with a
    /// mask `g = mask[k] > 0 ? dy[k] : 0` (a fused ReLU's gradient). The products are Float, as
    /// the scalar expression `d * (x − mu) * inv` evaluates them.
    @inline(__always)
    static func gradientSums(_ dy: UnsafePointer<Float>, mask: UnsafePointer<Float>?, _ x: UnsafePointer<Float>, _ n: Int,
                             mean mu: Float, invStd inv: Float) -> (Double, Double) {
        let dr = UnsafeRawPointer(dy), xr = UnsafeRawPointer(x)
        let muv = SIMD8<Float>(repeating: mu), invv = SIMD8<Float>(repeating: inv), zero = SIMD8<Float>()
        var a = SIMD8<Double>(), b = SIMD8<Double>()
        var k = 0
        if let mask {
            let mr = UnsafeRawPointer(mask)
            while k + 8 <= n {
                var d = dr.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
                d.replace(with: zero, where: .!(mr.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self) .> zero))
                let p = d * (xr.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self) - muv) * invv
                a += SIMD8<Double>(d)
                b += SIMD8<Double>(p)
                k += 8
            }
        } else {
            while k + 8 <= n {
                let d = dr.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
                let p = d * (xr.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self) - muv) * invv
                a += SIMD8<Double>(d)
                b += SIMD8<Double>(p)
                k += 8
            }
        }
        var sumDy = reduce(a), sumDyXhat = reduce(b)
        while k < n {
            let d: Float = mask.map { $0[k] > 0 ? dy[k] : 0 } ?? dy[k]
            sumDy += Double(d)
            sumDyXhat += Double(d * (x[k] - mu) * inv)
            k += 1
        }
        return (sumDy, sumDyXhat)
    }

    /// Training-mode input gradient over one row:
    /// `dx[k] = a · (g − meanDy − ((x[k] − mu) · inv) · meanDyXhat)`, `g` as in `gradientSums`.
    @inline(__always)
    static func trainingInputGradient(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, mask: UnsafePointer<Float>?,
                                      _ x: UnsafePointer<Float>, _ n: Int, scale a: Float, mean mu: Float, invStd inv: Float,
                                      meanDy: Float, meanDyXhat: Float) {
        let dr = UnsafeRawPointer(dy), xr = UnsafeRawPointer(x), out = UnsafeMutableRawPointer(dx)
        let av = SIMD16<Float>(repeating: a), muv = SIMD16<Float>(repeating: mu), invv = SIMD16<Float>(repeating: inv)
        let mdv = SIMD16<Float>(repeating: meanDy), mxv = SIMD16<Float>(repeating: meanDyXhat), zero = SIMD16<Float>()
        var k = 0
        while k + 16 <= n {
            var d = dr.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            if let mask {
                d.replace(with: zero, where: .!(UnsafeRawPointer(mask).loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self) .> zero))
            }
            let xhat = (xr.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self) - muv) * invv
            out.storeBytes(of: av * (d - mdv - xhat * mxv), toByteOffset: k * 4, as: SIMD16<Float>.self)
            k += 16
        }
        while k < n {
            let d: Float = mask.map { $0[k] > 0 ? dy[k] : 0 } ?? dy[k]
            let xhat = (x[k] - mu) * inv
            dx[k] = a * (d - meanDy - xhat * meanDyXhat)
            k += 1
        }
    }

    /// Inference-mode input gradient over one row with a mask: `dx[k] = a · g`.
    @inline(__always)
    static func maskedScale(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                            _ n: Int, scale a: Float) {
        let dr = UnsafeRawPointer(dy), mr = UnsafeRawPointer(mask), out = UnsafeMutableRawPointer(dx)
        let av = SIMD16<Float>(repeating: a), zero = SIMD16<Float>()
        var k = 0
        while k + 16 <= n {
            var d = dr.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self)
            d.replace(with: zero, where: .!(mr.loadUnaligned(fromByteOffset: k * 4, as: SIMD16<Float>.self) .> zero))
            out.storeBytes(of: av * d, toByteOffset: k * 4, as: SIMD16<Float>.self)
            k += 16
        }
        while k < n { dx[k] = a * (mask[k] > 0 ? dy[k] : 0); k += 1 }
    }

    /// The lanes' total in a fixed order: `((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`.
    @inline(__always)
    static func reduce(_ v: SIMD8<Double>) -> Double {
        let h = v.lowHalf + v.highHalf
        let q = h.evenHalf + h.oddHalf
        return q[0] + q[1]
    }
}

import Tensor

/// Runs `body` over contiguous chunks of `0..<n` on the `Parallel` workers when the total
/// `work` (elements touched) is large enough to pay for the dispatch, else inline as one chunk.
/// Bodies must write disjoint memory per index; results do not depend on the chunking.
@inline(__always)
func parallelChunks(_ n: Int, work: Int, _ body: (Range<Int>) -> Void) {
    if n <= 0 { return }
    if work < 1 << 15 || n < 2 { body(0..<n); return }
    Parallel.forEachChunk(n) { r, _ in body(r) }
}

/// A float array of `count` elements filled by `fill(pointer)`, which must write every element
/// (skips the zero-fill of `Tensor(shape:)`). `fill` is not called when `count` is 0.
@inline(__always)
func uninitializedFloats(_ count: Int, _ fill: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { p, initialized in
        if count > 0 { fill(p.baseAddress!) }
        initialized = count
    }
}

// Sixteen-lane element loops over raw pointers: the compiler cannot rule out aliasing between
// the pointers and leaves the plain loops scalar. Each lane computes exactly the scalar
// expression named in the comment (separate multiply and add, no fused multiply-add).

/// `dst[i] = a · src[i] + b`
@inline(__always)
func scaleShift(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ a: Float, _ b: Float, _ n: Int) {
    let d = UnsafeMutableRawPointer(dst), s = UnsafeRawPointer(src)
    let av = SIMD16<Float>(repeating: a), bv = SIMD16<Float>(repeating: b)
    var i = 0
    while i + 16 <= n {
        let v = s.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        d.storeBytes(of: av * v + bv, toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { dst[i] = a * src[i] + b; i += 1 }
}

/// `dst[i] = a · src[i]`
@inline(__always)
func scaleElements(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ a: Float, _ n: Int) {
    let d = UnsafeMutableRawPointer(dst), s = UnsafeRawPointer(src)
    let av = SIMD16<Float>(repeating: a)
    var i = 0
    while i + 16 <= n {
        let v = s.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        d.storeBytes(of: av * v, toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { dst[i] = a * src[i]; i += 1 }
}

/// `dst[i] = max(src[i], 0)` with `Swift.max`'s semantics (`0 >= x ? 0 : x`: −0 → +0, NaN kept).
@inline(__always)
func relu(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    let d = UnsafeMutableRawPointer(dst), s = UnsafeRawPointer(src)
    let zero = SIMD16<Float>(repeating: 0)
    var i = 0
    while i + 16 <= n {
        let v = s.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        d.storeBytes(of: v.replacing(with: zero, where: v .<= zero), toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { dst[i] = max(src[i], 0); i += 1 }
}

/// `dst[i] = a[i] + b[i]`
@inline(__always)
func addElements(_ dst: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
    let d = UnsafeMutableRawPointer(dst), ar = UnsafeRawPointer(a), br = UnsafeRawPointer(b)
    var i = 0
    while i + 16 <= n {
        let v = ar.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            + br.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        d.storeBytes(of: v, toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { dst[i] = a[i] + b[i]; i += 1 }
}

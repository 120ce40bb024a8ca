// Element-wise kernels shared by several files of Tensor (col2im in Im2col.swift, gradient
// accumulation in Tensor.swift).

/// `dst[0..<n] += src[0..<n]` sixteen lanes at a time. Written out because the compiler cannot
/// rule out aliasing between the two pointers and leaves the plain loop scalar.
@inline(__always)
func accumulate(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ n: Int) {
    let d = UnsafeMutableRawPointer(dst), s = UnsafeRawPointer(src)
    var i = 0
    while i + 16 <= n {
        let v = d.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            + s.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        d.storeBytes(of: v, toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { dst[i] += src[i]; i += 1 }
}

/// The closed-form weights of the weightless tf2onnx fixtures (Fixtures/onnx/tf2onnx-*.onnx),
/// exactly as Fixtures/scripts/make_onnx_tf2onnx_fixtures.py computes them (see its docstring):
/// element `j` of initializer `i` is `offset + scale · u(i, j)` in float64, rounded once to
/// float32, with `u` from splitmix64 of `i · 2^32 + j`.
public enum SplitmixFill {
    /// `u(i, j)` in [-0.5, 0.5): the top 53 bits of splitmix64(i · 2^32 + j) as a fraction, minus 0.5.
    @inline(__always)
    public static func u(_ i: Int, _ j: Int) -> Double {
        var z = (UInt64(i) << 32) &+ UInt64(j) &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) * 0x1p-53 - 0.5
    }

    /// The `count` values of initializer `index`, as little-endian float32 bytes (ONNX raw_data).
    public static func rawFloat32(index: Int, count: Int, scale: Double, offset: Double) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count * 4)
        out.withUnsafeMutableBytes { p in
            for j in 0..<count {
                // Multiply then add, rounded separately (no fused multiply-add), as numpy does.
                let product = scale * u(index, j)
                let v = Float(offset + product)
                p.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: j * 4, as: UInt32.self)
            }
        }
        return out
    }
}

/// The deterministic "pattern" weights of the model-zoo fixtures (Fixtures/zoo), exactly as
/// Fixtures/scripts/make_zoo_fixtures.py computes them (see its docstring). Here, in the
/// optimised TestSupport target, because the deep members have up to 20 million weights.
public enum ZooPatternValues {
    /// How a tensor's `u` values become weights.
    public enum Role {
        /// BatchNorm `weight`: `1 + 0.25 u`.
        case bnWeight
        /// BatchNorm `bias` and any other 1-d bias: `0.1 u`.
        case bias
        /// A conv or linear weight with this fan-in: `u · sqrt(6 / fanIn)`.
        case weight(fanIn: Int)
    }

    /// FNV-1a, 32 bit, of the UTF-8 bytes.
    public static func fnv1a(_ s: String) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for b in s.utf8 { h = (h ^ UInt32(b)) &* 0x0100_0193 }
        return h
    }

    /// `u` in [-1, 1) for element `i` of a tensor whose key hashes to `seed` (murmur3's
    /// finaliser on the seeded index).
    @inline(__always)
    public static func u(_ seed: UInt32, _ i: Int) -> Double {
        var x = seed ^ (UInt32(truncatingIfNeeded: i) &* 0x9E37_79B9)
        x ^= x >> 16; x = x &* 0x85EB_CA6B
        x ^= x >> 13; x = x &* 0xC2B2_AE35
        x ^= x >> 16
        return Double(x >> 8) * 0x1p-24 * 2 - 1
    }

    /// The `count` float32 values of the tensor `key` (float64 arithmetic, rounded once).
    public static func values(key: String, count: Int, role: Role) -> [Float] {
        let seed = fnv1a(key)
        var out = [Float](repeating: 0, count: count)
        switch role {
        case .bnWeight: for i in 0..<count { out[i] = Float(1.0 + 0.25 * u(seed, i)) }
        case .bias: for i in 0..<count { out[i] = Float(0.1 * u(seed, i)) }
        case let .weight(fanIn):
            let scale = (6.0 / Double(fanIn)).squareRoot()
            for i in 0..<count { out[i] = Float(u(seed, i) * scale) }
        }
        return out
    }
}

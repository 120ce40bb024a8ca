import Foundation

/// A seedable, checkpointable random number generator: xoshiro256** (Blackman & Vigna, 2018)
/// seeded through splitmix64.
///
/// Why our own generator: Swift's `SystemRandomNumberGenerator` cannot be seeded, and the
/// standard library's bounded/float helpers (`Int.random(in:using:)`, `Float.random`) are free to
/// change between Swift releases. Every draw here is defined in this file with integer
/// arithmetic (and `Double` `log`/`cos` for normals), so a seed gives the same stream on every
/// run and platform, and `state` can be saved in a checkpoint and restored for a bit-exact resume.
///
/// - `init(seed:)`: the four state words are four consecutive splitmix64 outputs of `seed`, as
///   the xoshiro authors recommend (never all zero).
/// - `next()`: 64 random bits. `nextFloat()`: `[0, 1)` on a 2⁻²⁴ grid. `nextNormal()`: N(0, 1) by
///   Box–Muller (one value per two uniforms; the sine half is dropped so `state` is all there is).
/// - `nextInt(below:)`, `permutation(_:)`, `shuffled(_:)`: unbiased (Lemire's rejection method,
///   Fisher–Yates).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    @usableFromInline var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator whose stream is determined by `seed`.
    public init(seed: UInt64) {
        var x = seed
        // splitmix64: spreads any seed (0, 1, 2, ...) into well-mixed, non-zero state words.
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    /// A generator resuming from a saved `state`.
    public init(state: [UInt64]) {
        s0 = 0; s1 = 0; s2 = 0; s3 = 0
        self.state = state
    }

    /// The four xoshiro256 state words. Saving and later assigning them resumes the stream
    /// exactly. Assigning requires four words, not all zero (the one state xoshiro never leaves).
    public var state: [UInt64] {
        get { [s0, s1, s2, s3] }
        set {
            precondition(newValue.count == 4, "SeededGenerator state has 4 words, got \(newValue.count)")
            precondition(newValue.contains { $0 != 0 }, "SeededGenerator state must not be all zero")
            s0 = newValue[0]; s1 = newValue[1]; s2 = newValue[2]; s3 = newValue[3]
        }
    }

    /// Next 64 random bits (xoshiro256**).
    @inlinable
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @usableFromInline
    @inline(__always) func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in `[0, 1)`: the top 24 bits, so every value is an exact `Float`.
    @inlinable
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    @inlinable
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Standard normal N(0, 1) by Box–Muller, computed in `Double` and rounded once.
    public mutating func nextNormal() -> Float {
        // 1 − u lies in (0, 1], so the logarithm is finite.
        let u1 = 1 - nextDouble()
        let u2 = nextDouble()
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }

    /// Uniform integer in `0..<bound` without modulo bias (Lemire's multiply-and-reject).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound, got \(bound)")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            // Reject the few low products that would make small results more likely.
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// A uniformly random permutation of `0..<n` (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        shuffled(Array(0..<n))
    }

    /// `elements` in uniformly random order (Fisher–Yates, from the back).
    public mutating func shuffled<T>(_ elements: [T]) -> [T] {
        var a = elements
        var i = a.count - 1
        while i > 0 {
            let j = nextInt(below: i + 1)
            a.swapAt(i, j)
            i -= 1
        }
        return a
    }
}

import Foundation

/// Axis ranges and tick values people can read: steps of 1, 2 or 5 × 10^k (never 11.25),
/// the range widened to whole steps, and labels with just the decimals the step needs.
public struct Ticks: Equatable {
    /// The axis range (tick-aligned for linear axes).
    public var lo: Double
    public var hi: Double
    /// The tick values, ascending, all within `lo...hi`.
    public var values: [Double]
    /// Linear step between ticks (0 for a log axis).
    public var step: Double

    /// The 1/2/5 × 10^k step closest to `span / target` from above.
    public static func niceStep(_ span: Double, target: Int = 5) -> Double {
        guard span > 0, span.isFinite else { return 1 }
        let raw = span / Double(max(1, target))
        let p = pow(10, floor(log10(raw)))
        for m in [1.0, 2, 5, 10] where m * p >= raw * (1 - 1e-9) { return m * p }
        return 10 * p
    }

    /// Linear ticks covering `lo...hi` (about `target` intervals); `integer` keeps steps ≥ 1
    /// (epochs, counts). An empty or one-point range is widened around its value.
    public static func linear(_ lo: Double, _ hi: Double, target: Int = 5, integer: Bool = false) -> Ticks {
        var lo = lo.isFinite ? lo : 0, hi = hi.isFinite ? hi : 1
        if hi < lo { swap(&lo, &hi) }
        if hi == lo {
            let d = lo == 0 ? 1 : abs(lo) * 0.1
            lo -= integer ? max(1, d.rounded(.up)) : d; hi += integer ? max(1, d.rounded(.up)) : d
        }
        var step = niceStep(hi - lo, target: target)
        if integer { step = max(1, step.rounded()) }
        let a = (lo / step + 1e-9).rounded(.down) * step, b = (hi / step - 1e-9).rounded(.up) * step
        let count = Int(((b - a) / step).rounded())
        let values = (0...count).map { clean(a + Double($0) * step, step: step) }
        return Ticks(lo: clean(a, step: step), hi: clean(b, step: step), values: values, step: step)
    }

    /// Log ticks for `lo...hi` (both > 0): 1, 2, 5 × 10^k when the range spans up to three
    /// decades, powers of ten beyond. The range is kept as given (widened to the outer ticks
    /// when they lie within a factor of 2).
    public static func log(_ lo: Double, _ hi: Double) -> Ticks {
        var lo = max(lo, .leastNormalMagnitude), hi = max(hi, lo)
        if hi / lo < 1.0001 { lo /= 2; hi *= 2 }
        let k0 = Int(floor(log10(lo))), k1 = Int(ceil(log10(hi)))
        let mantissas: [Double] = k1 - k0 <= 3 ? [1, 2, 5] : [1]
        var candidates: [Double] = []
        for k in k0...k1 { for m in mantissas { candidates.append(m * pow(10, Double(k))) } }
        // Snap the ends outwards to a tick when it is close.
        if let below = candidates.last(where: { $0 <= lo * (1 + 1e-9) }), lo / below < 2 { lo = below }
        if let above = candidates.first(where: { $0 >= hi * (1 - 1e-9) }), above / hi < 2 { hi = above }
        let values = candidates.filter { $0 >= lo * (1 - 1e-9) && $0 <= hi * (1 + 1e-9) }
        return Ticks(lo: lo, hi: hi, values: values, step: 0)
    }

    /// `v` with rounding noise removed (0.30000000000000004 → 0.3).
    static func clean(_ v: Double, step: Double) -> Double {
        let d = decimals(step)
        let f = pow(10, Double(d))
        let r = (v * f).rounded() / f
        return r == 0 ? 0 : r
    }

    /// Decimals a step of `step` needs (0.25 → 2, 5 → 0).
    static func decimals(_ step: Double) -> Int {
        guard step > 0, step.isFinite else { return 0 }
        var d = 0
        while d < 12, abs(step * pow(10, Double(d)) - (step * pow(10, Double(d))).rounded()) > 1e-6 * step * pow(10, Double(d)) { d += 1 }
        return d
    }

    /// The label of tick `v`: fixed decimals for linear axes (`0.05`, `0.10`, … `2`, `4`),
    /// `%g` for log axes; exponent form only beyond 10^6 or below 10^-4.
    public func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e6 || abs(v) < 1e-4 { return String(format: "%.0e", v).replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e-0", with: "e-") }
        if step == 0 { return String(format: "%g", v) }
        return String(format: "%.\(Self.decimals(step))f", v)
    }
}

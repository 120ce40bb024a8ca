import Foundation

/// Colour scales for plots and images: a viridis-like sequential scale (dark purple → teal →
/// yellow, readable in greyscale and by most colour-blind readers) and a blue–white–red
/// diverging scale for signed values (perturbations) at a shared symmetric range.
public enum ColorMap {
    /// Viridis-like colour for `t` in [0, 1] (clamped; NaN → 0) as RGB bytes.
    public static func viridisRGB(_ t: Double) -> (UInt8, UInt8, UInt8) {
        let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        return interpolate(stops, t)
    }

    /// Blue (−1) – white (0) – red (+1) for `t` in [−1, 1] (clamped; NaN → white).
    public static func divergingRGB(_ t: Double) -> (UInt8, UInt8, UInt8) {
        let stops: [(Double, Double, Double)] = [(33, 102, 172), (146, 197, 222), (247, 247, 247), (244, 165, 130), (178, 24, 43)]
        return interpolate(stops, ((t.isFinite ? t : 0) + 1) / 2)
    }

    /// `#rrggbb` of `viridisRGB`.
    public static func viridis(_ t: Double) -> String { hex(viridisRGB(t)) }

    /// `#rrggbb` of `divergingRGB`.
    public static func diverging(_ t: Double) -> String { hex(divergingRGB(t)) }

    /// Dark or light text for a cell of background `rgb` (by luminance).
    public static func textColor(on rgb: (UInt8, UInt8, UInt8)) -> String {
        0.299 * Double(rgb.0) + 0.587 * Double(rgb.1) + 0.114 * Double(rgb.2) > 140 ? "#000" : "#fff"
    }

    /// A qualitative palette (Tableau 10) for series.
    public static let series = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                                "#7f7f7f", "#bcbd22", "#17becf"]

    public static func hex(_ c: (UInt8, UInt8, UInt8)) -> String { String(format: "#%02x%02x%02x", c.0, c.1, c.2) }

    static func interpolate(_ stops: [(Double, Double, Double)], _ v: Double) -> (UInt8, UInt8, UInt8) {
        let t = min(1, max(0, v.isFinite ? v : 0)) * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(t)), f = t - Double(i)
        let (a, b) = (stops[i], stops[i + 1])
        func mix(_ x: Double, _ y: Double) -> UInt8 { UInt8((x + (y - x) * f).rounded()) }
        return (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}

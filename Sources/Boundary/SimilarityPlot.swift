import Foundation

/// A self-contained SVG (no scripts, fonts or libraries) of a boundary comparison:
///
/// - left: the distribution of distances to the boundary `‖d‖` for A (over the pairs A
///   accepted) and for B (over those B accepted), as two overlaid histograms on shared bins;
/// - right: `‖d_A‖` against `‖d_B‖` for every pair both accepted (the pairs MagSim and AngSim
///   average over), equal axes with the diagonal `‖d_A‖ = ‖d_B‖`, each point coloured by
///   `max(0, cos(d_A, d_B))` (a viridis-like scale from 0 to 1).
///
/// Points on the diagonal have magnitude ratio 1; yellow points have cosine near 1.
public enum SimilarityPlot {
    static let panel = (width: 400.0, height: 340.0)
    static let margin = (left: 62.0, right: 18.0, top: 58.0, bottom: 52.0)
    static let colorA = "#1f77b4", colorB = "#ff7f0e"

    /// The SVG text; `nameA`/`nameB` label the two models.
    public static func svg(_ result: SimilarityResult, nameA: String, nameB: String) -> String {
        let s = result.summary()
        let width = margin.left + panel.width + margin.right + margin.left + panel.width + 110
        let height = margin.top + panel.height + margin.bottom
        let title = "MagSim " + (s.magsim.map { String(format: "%.4f", $0) } ?? "-") + ", AngSim "
            + (s.angsim.map { String(format: "%.4f", $0) } ?? "-") + " over \(s.pairsCompared) of \(s.pairsAttempted) pairs"
        var out = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\(q(width)) height=\(q(height)) viewBox=\"0 0 \(n(width)) \(n(height))\" font-family=\"sans-serif\" font-size=\"12\">",
                   "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
                   "<text x=\(q(width / 2)) y=\"20\" text-anchor=\"middle\" font-size=\"15\">Decision boundaries: A = \(escape(nameA)), B = \(escape(nameB))</text>",
                   "<text x=\(q(width / 2)) y=\"38\" text-anchor=\"middle\">\(escape(title))</text>"]
        out += histogram(result, left: margin.left, top: margin.top)
        out += scatter(result, left: margin.left * 2 + panel.width + margin.right, top: margin.top)
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    // MARK: - Panels

    static func histogram(_ r: SimilarityResult, left x0: Double, top y0: Double) -> [String] {
        let da = (0..<r.count).filter { r.acceptedA[$0] }.map { r.distanceA[$0] }
        let db = (0..<r.count).filter { r.acceptedB[$0] }.map { r.distanceB[$0] }
        let hi = niceCeiling(max(da.max() ?? 0, db.max() ?? 0))
        let bins = 30
        func counts(_ v: [Double]) -> [Int] {
            var c = [Int](repeating: 0, count: bins)
            for x in v { c[min(bins - 1, max(0, Int(x / hi * Double(bins))))] += 1 }
            return c
        }
        let ca = counts(da), cb = counts(db)
        let top = countCeiling(Double(max(ca.max() ?? 0, cb.max() ?? 0, 1)))
        let x1 = x0 + panel.width, y1 = y0 + panel.height
        func px(_ v: Double) -> Double { x0 + v / hi * (x1 - x0) }
        func py(_ v: Double) -> Double { y1 - v / top * (y1 - y0) }
        var out = frame(x0, y0, x1, y1, xTicks: ticks(hi), yTicks: ticks(top), px: px, py: py,
                        xLabel: "distance to the boundary ||d||", yLabel: "pairs")
        for (counts, color) in [(ca, colorA), (cb, colorB)] {
            for (i, c) in counts.enumerated() where c > 0 {
                let a = px(hi * Double(i) / Double(bins)), b = px(hi * Double(i + 1) / Double(bins))
                out.append("<rect x=\(q(a)) y=\(q(py(Double(c)))) width=\(q(b - a)) height=\(q(y1 - py(Double(c)))) fill=\"\(color)\" fill-opacity=\"0.45\" stroke=\"\(color)\" stroke-width=\"0.8\"/>")
            }
        }
        let s = r.summary()
        for (i, (name, color, count, mean)) in [("A", colorA, da.count, s.meanAcceptedDistanceA),
                                                 ("B", colorB, db.count, s.meanAcceptedDistanceB)].enumerated() {
            let y = y0 + 16 + Double(i) * 18
            out.append("<rect x=\(q(x1 - 190)) y=\(q(y - 10)) width=\"12\" height=\"12\" fill=\"\(color)\" fill-opacity=\"0.6\"/>")
            out.append("<text x=\(q(x1 - 172)) y=\(q(y))>\(name): \(count) accepted, mean \(mean.map { String(format: "%.4g", $0) } ?? "-")</text>")
        }
        return out
    }

    static func scatter(_ r: SimilarityResult, left x0: Double, top y0: Double) -> [String] {
        let p = (0..<r.count).filter { r.isCompared($0) }
        let hi = niceCeiling(p.map { max(r.distanceA[$0], r.distanceB[$0]) }.max() ?? 0)
        let x1 = x0 + panel.width, y1 = y0 + panel.height
        func px(_ v: Double) -> Double { x0 + v / hi * (x1 - x0) }
        func py(_ v: Double) -> Double { y1 - v / hi * (y1 - y0) }
        var out = frame(x0, y0, x1, y1, xTicks: ticks(hi), yTicks: ticks(hi), px: px, py: py,
                        xLabel: "||d_A||", yLabel: "||d_B||")
        out.append("<line x1=\(q(x0)) y1=\(q(y1)) x2=\(q(x1)) y2=\(q(y0)) stroke=\"#888\" stroke-dasharray=\"4 3\"/>")
        for j in p {
            let c = max(0, r.cosine[j])
            out.append("<circle cx=\(q(px(r.distanceA[j]))) cy=\(q(py(r.distanceB[j]))) r=\"2.6\" fill=\"\(color(c))\" fill-opacity=\"0.85\"><title>\(String(format: "pair %d: base %d (class %d) -> %d, cos %.3f", j, r.baseIndex[j], r.baseClass[j], r.targetClass[j], r.cosine[j]))</title></circle>")
        }
        if p.isEmpty {
            out.append("<text x=\(q((x0 + x1) / 2)) y=\(q((y0 + y1) / 2)) text-anchor=\"middle\" fill=\"#666\">no pair accepted by both models</text>")
        }
        // Colour bar for max(0, cos).
        let bx = x1 + 22, steps = 20
        for i in 0..<steps {
            let v0 = Double(i) / Double(steps)
            let ya = y1 - v0 * (y1 - y0), yb = y1 - (v0 + 1 / Double(steps)) * (y1 - y0)
            out.append("<rect x=\(q(bx)) y=\(q(yb)) width=\"14\" height=\(q(ya - yb + 0.5)) fill=\"\(color(v0 + 0.5 / Double(steps)))\"/>")
        }
        for v in [0.0, 0.5, 1.0] {
            out.append("<text x=\(q(bx + 18)) y=\(q(y1 - v * (y1 - y0) + 4))>\(String(format: "%.1f", v))</text>")
        }
        out.append("<text transform=\"translate(\(n(bx + 58)) \(n((y0 + y1) / 2))) rotate(90)\" text-anchor=\"middle\">max(0, cos(d_A, d_B))</text>")
        return out
    }

    /// Axes box, grid, tick labels and axis titles.
    static func frame(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, xTicks: [Double], yTicks: [Double],
                      px: (Double) -> Double, py: (Double) -> Double, xLabel: String, yLabel: String) -> [String] {
        var out = ["<rect x=\(q(x0)) y=\(q(y0)) width=\(q(x1 - x0)) height=\(q(y1 - y0)) fill=\"none\" stroke=\"#999\"/>"]
        for t in yTicks {
            out.append("<line x1=\(q(x0)) y1=\(q(py(t))) x2=\(q(x1)) y2=\(q(py(t))) stroke=\"#eee\"/>")
            out.append("<text x=\(q(x0 - 6)) y=\(q(py(t) + 4)) text-anchor=\"end\">\(label(t))</text>")
        }
        for t in xTicks {
            out.append("<text x=\(q(px(t))) y=\(q(y1 + 16)) text-anchor=\"middle\">\(label(t))</text>")
        }
        out.append("<text x=\(q((x0 + x1) / 2)) y=\(q(y1 + 36)) text-anchor=\"middle\">\(escape(xLabel))</text>")
        out.append("<text transform=\"translate(\(n(x0 - 46)) \(n((y0 + y1) / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>")
        return out
    }

    // MARK: - Scales and text

    /// A viridis-like colour for `v` in [0, 1] (dark purple → teal → yellow).
    public static func color(_ v: Double) -> String {
        let stops: [(Double, Double, Double)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let t = min(1, max(0, v.isFinite ? v : 0)) * Double(stops.count - 1)
        let i = min(stops.count - 2, Int(t)), f = t - Double(i)
        let (a, b) = (stops[i], stops[i + 1])
        func mix(_ x: Double, _ y: Double) -> Int { Int((x + (y - x) * f).rounded()) }
        return String(format: "#%02x%02x%02x", mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    /// The smallest m × 10^k at or above `v` with m in {1, 1.2, 1.6, 2, 2.4, 3.2, 4, 5, 6, 8}
    /// (each divides into four round ticks); 1 for v ≤ 0.
    static func niceCeiling(_ v: Double) -> Double {
        guard v > 0, v.isFinite else { return 1 }
        let p = pow(10, floor(log10(v)))
        for m in [1.0, 1.2, 1.6, 2, 2.4, 3.2, 4, 5, 6, 8, 10] where m * p >= v * (1 - 1e-12) { return m * p }
        return 10 * p
    }

    /// An axis top for counts: a multiple of 4 (integer ticks) at or above `v`.
    static func countCeiling(_ v: Double) -> Double {
        let nice = niceCeiling(v)
        return nice.truncatingRemainder(dividingBy: 4) == 0 ? nice : 4 * (v / 4).rounded(.up)
    }

    /// Five ticks from 0 to `hi`.
    static func ticks(_ hi: Double) -> [Double] { (0...4).map { hi * Double($0) / 4 } }

    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        return abs(v) >= 1e4 || abs(v) < 1e-3 ? String(format: "%.1e", v) : String(format: "%g", (v * 1e4).rounded() / 1e4)
    }

    static func q(_ v: Double) -> String { "\"\(n(v))\"" }
    static func n(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

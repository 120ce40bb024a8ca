import Foundation

/// The training curves as a self-contained SVG (no scripts, no external fonts): two panels
/// over epochs, the loss terms (total, CE, KD, KD on BSS) and the accuracies (train, val).
/// Series that are all zero (KD for `original`, KD_BSS for `hinton`) or absent (val without
/// validation data) are left out; KD on BSS is drawn only for epochs that used BSS (none once
/// beta reaches 0). Up to 30 epochs also get a dot per epoch.
public enum CurvesPlot {
    struct Series {
        var name: String
        var color: String
        var values: [(x: Double, y: Double)]
        var dashed = false
    }

    static let width = 760.0, panelHeight = 260.0, margin = (left: 64.0, right: 150.0, top: 36.0, bottom: 40.0)

    public static func svg(_ history: [EpochMetrics], title: String) -> String {
        let e = history.map { Double($0.epoch) }
        func series(_ name: String, _ color: String, _ f: (EpochMetrics) -> Double?, dashed: Bool = false) -> Series? {
            let pts = zip(e, history).compactMap { x, m in f(m).map { (x: x, y: $0) } }
            guard !pts.isEmpty, pts.contains(where: { $0.y != 0 }) else { return nil }
            return Series(name: name, color: color, values: pts, dashed: dashed)
        }
        let losses = [series("loss (total)", "#222222", { $0.loss }), series("CE", "#1f77b4", { $0.ce }),
                      series("KD", "#ff7f0e", { $0.kd }), series("KD on BSS", "#2ca02c", { $0.bssUsed > 0 ? $0.kdBSS : nil })].compactMap { $0 }
        let accuracies = [series("train accuracy", "#1f77b4", { $0.trainAccuracy }),
                          series("val accuracy", "#d62728", { $0.valAccuracy })].compactMap { $0 }
        let height = 2 * panelHeight + 30
        var out = ["<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\(q(height)) viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">",
                   "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
                   "<text x=\"\(Int(width / 2))\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">\(escape(title))</text>"]
        let epochs = (e.min() ?? 1, max(e.max() ?? 1, (e.min() ?? 1) + 1))
        out += panel(losses, top: 20, yLabel: "loss", xRange: epochs, yRange: nil)
        out += panel(accuracies, top: 20 + panelHeight + 10, yLabel: "accuracy", xRange: epochs, yRange: (0, 1))
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }

    public static func write(_ history: [EpochMetrics], title: String, to url: URL) throws {
        try writeText(svg(history, title: title), to: url)
    }

    static func panel(_ series: [Series], top: Double, yLabel: String, xRange: (Double, Double),
                      yRange fixed: (Double, Double)?) -> [String] {
        let x0 = margin.left, x1 = width - margin.right
        let y0 = top + margin.top, y1 = top + panelHeight - margin.bottom
        let ys = series.flatMap { $0.values.map(\.y) }
        var lo = fixed?.0 ?? min(0, ys.min() ?? 0), hi = fixed?.1 ?? (ys.max() ?? 1)
        if hi <= lo { hi = lo + 1 }
        if fixed == nil { hi = niceCeiling(hi) ; lo = min(lo, 0) }
        func px(_ x: Double) -> Double { x0 + (x - xRange.0) / (xRange.1 - xRange.0) * (x1 - x0) }
        func py(_ y: Double) -> Double { y1 - (y - lo) / (hi - lo) * (y1 - y0) }
        var out = ["<g>", "<rect x=\(q(x0)) y=\(q(y0)) width=\(q(x1 - x0)) height=\(q(y1 - y0)) fill=\"none\" stroke=\"#999\"/>"]
        for i in 0...4 {
            let v = lo + (hi - lo) * Double(i) / 4, y = py(v)
            out.append("<line x1=\(q(x0)) y1=\(q(y)) x2=\(q(x1)) y2=\(q(y)) stroke=\"#eee\"/>")
            out.append("<text x=\(q(x0 - 6)) y=\(q(y + 4)) text-anchor=\"end\">\(label(v))</text>")
        }
        for x in ticks(xRange) {
            out.append("<text x=\(q(px(x))) y=\(q(y1 + 16)) text-anchor=\"middle\">\(Int(x))</text>")
        }
        out.append("<text x=\(q((x0 + x1) / 2)) y=\(q(y1 + 32)) text-anchor=\"middle\">epoch</text>")
        out.append("<text x=\"14\" y=\(q((y0 + y1) / 2)) text-anchor=\"middle\" transform=\"rotate(-90 14 \(fmt((y0 + y1) / 2)))\">\(yLabel)</text>")
        for (i, s) in series.enumerated() {
            let pts = s.values.map { "\(fmt(px($0.x))),\(fmt(py($0.y)))" }.joined(separator: " ")
            let dash = s.dashed ? " stroke-dasharray=\"5,3\"" : ""
            if s.values.count > 1 {
                out.append("<polyline points=\"\(pts)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"\(dash)/>")
            }
            for p in s.values where s.values.count <= 30 {
                out.append("<circle cx=\(q(px(p.x))) cy=\(q(py(p.y))) r=\"2.5\" fill=\"\(s.color)\"/>")
            }
            let ly = y0 + 14 + Double(i) * 18
            out.append("<line x1=\(q(x1 + 12)) y1=\(q(ly - 4)) x2=\(q(x1 + 32)) y2=\(q(ly - 4)) stroke=\"\(s.color)\" stroke-width=\"2\"\(dash)/>")
            out.append("<text x=\(q(x1 + 38)) y=\(q(ly))>\(escape(s.name))</text>")
        }
        out.append("</g>")
        return out
    }

    /// Up to about 10 integer epoch ticks.
    static func ticks(_ r: (Double, Double)) -> [Double] {
        let span = r.1 - r.0
        let step = max(1, (span / 8).rounded(.up))
        return stride(from: r.0, through: r.1, by: step).map { $0 }
    }

    static func niceCeiling(_ v: Double) -> Double {
        guard v > 0 else { return 1 }
        let p = pow(10, floor(log10(v)))
        for m in [1.0, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10] where m * p >= v { return m * p }
        return 10 * p
    }

    static func label(_ v: Double) -> String {
        abs(v) >= 100 || v == v.rounded() ? String(format: "%.0f", v) : String(format: "%.2f", v)
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
    static func q(_ v: Double) -> String { "\"\(fmt(v))\"" }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

import Foundation
import Plot

/// A self-contained SVG (no scripts, fonts or libraries) of a boundary comparison, drawn with
/// the shared `Plot` module:
///
/// - left: the distribution of distances to the boundary `‖d‖` for A (over the pairs A
///   accepted) and for B (over those B accepted), as two overlaid histograms on shared bins;
/// - right: `‖d_A‖` against `‖d_B‖` for every pair both accepted (the pairs MagSim and AngSim
///   average over), equal axes with the diagonal `‖d_A‖ = ‖d_B‖`, each point coloured by
///   `max(0, cos(d_A, d_B))` (a viridis-like scale from 0 to 1).
///
/// Points on the diagonal have magnitude ratio 1; yellow points have cosine near 1.
public enum SimilarityPlot {
    static let colorA = "#1f77b4", colorB = "#ff7f0e"
    public static let panelWidth = 470.0, panelHeight = 400.0

    /// The SVG text; `nameA`/`nameB` label the two models.
    public static func svg(_ result: SimilarityResult, nameA: String, nameB: String) -> String {
        let s = result.summary()
        let width = 2 * panelWidth + 80
        let title = "MagSim " + (s.magsim.map { String(format: "%.4f", $0) } ?? "-") + ", AngSim "
            + (s.angsim.map { String(format: "%.4f", $0) } ?? "-") + " over \(s.pairsCompared) of \(s.pairsAttempted) pairs"
        let scatter = scatterPanel(result)
        var body = [SVG.text("Decision boundaries: A = \(nameA), B = \(nameB)", x: width / 2, y: 20, anchor: "middle", size: 15),
                    SVG.text(title, x: width / 2, y: 38, anchor: "middle")]
        body += histogramPanel(result).elements(at: 0, 46)
        body += scatter.elements(at: panelWidth, 46)
        body += colorBar(scatter, left: panelWidth, top: 46)
        return SVG.document(width: width, height: panelHeight + 52, body)
    }

    /// Overlaid histograms of the accepted distances of A and B.
    public static func histogramPanel(_ r: SimilarityResult, width: Double = panelWidth, height: Double = panelHeight) -> Panel {
        let da = (0..<r.count).filter { r.acceptedA[$0] }.map { r.distanceA[$0] }
        let db = (0..<r.count).filter { r.acceptedB[$0] }.map { r.distanceB[$0] }
        let h = Histogram.bins([da, db], target: 24)
        let s = r.summary()
        func name(_ side: String, _ n: Int, _ mean: Double?) -> String {
            "\(side): \(n) accepted, mean \(mean.map { String(format: "%.4g", $0) } ?? "-")"
        }
        let left = Array(h.edges.dropLast()), right = Array(h.edges.dropFirst())
        var p = Panel(x: Axis("distance to the boundary ‖d‖ (input units, L2)", includeZero: true),
                      y: Axis("pairs", includeZero: true, integer: true),
                      marks: [.bars(name("A", da.count, s.meanAcceptedDistanceA), color: colorA, left: left, right: right, heights: h.counts[0].map(Double.init), opacity: 0.45),
                              .bars(name("B", db.count, s.meanAcceptedDistanceB), color: colorB, left: left, right: right, heights: h.counts[1].map(Double.init), opacity: 0.45)],
                      width: width, height: height)
        if da.isEmpty && db.isEmpty { p.note = "no accepted pair" }
        return p
    }

    /// `‖d_A‖` against `‖d_B‖` over the compared pairs, coloured by cosine; room on the right
    /// for the colour bar (`colorBar`).
    public static func scatterPanel(_ r: SimilarityResult, width: Double = panelWidth, height: Double = panelHeight) -> Panel {
        let p = (0..<r.count).filter { r.isCompared($0) }
        let hi = Ticks.linear(0, p.map { max(r.distanceA[$0], r.distanceB[$0]) }.max() ?? 1).hi
        let marks: [Mark] = [
            .guide(x: [0, hi], y: [0, hi]),
            .points(nil, color: color(1), x: p.map { r.distanceA[$0] }, y: p.map { r.distanceB[$0] },
                    colors: p.map { color(max(0, r.cosine[$0])) },
                    titles: p.map { String(format: "pair %d: base %d (class %d) -> %d, cos %.3f", $0, r.baseIndex[$0], r.baseClass[$0], r.targetClass[$0], r.cosine[$0]) }),
        ]
        var panel = Panel(x: Axis("‖d_A‖ (input units, L2)", min: 0, max: hi), y: Axis("‖d_B‖ (input units, L2)", min: 0, max: hi),
                          marks: marks, width: width, height: height)
        panel.rightMargin = 90
        if p.isEmpty { panel.note = "no pair accepted by both models" }
        return panel
    }

    /// The cosine colour bar to the right of a `scatterPanel` placed at (`left`, `top`).
    public static func colorBar(_ panel: Panel, left: Double, top: Double) -> [String] {
        let f = panel.frame(panel.ticks())
        return ColorBar.elements(x: left + f.x1 + 14, y0: top + f.y0, y1: top + f.y1, range: (0, 1), title: "max(0, cos(d_A, d_B))")
    }

    /// A viridis-like colour for `v` in [0, 1] (dark purple → teal → yellow).
    public static func color(_ v: Double) -> String { ColorMap.viridis(v) }
}

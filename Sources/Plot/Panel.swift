import Foundation

/// One axis of a `Panel`: its title (with the unit, e.g. `"‖d‖ (input units)"`), optional fixed
/// bounds, and whether it is logarithmic, starts at zero or only has integer ticks.
public struct Axis {
    public var label: String
    public var min: Double?
    public var max: Double?
    public var includeZero: Bool
    public var log: Bool
    public var integer: Bool

    public init(_ label: String, min: Double? = nil, max: Double? = nil, includeZero: Bool = false,
                log: Bool = false, integer: Bool = false) {
        self.label = label; self.min = min; self.max = max; self.includeZero = includeZero
        self.log = log; self.integer = integer
    }
}

/// Something drawn in a panel: a polyline, points, bars from zero, or an unlabelled guide line.
/// A mark with a `name` gets a legend entry.
public struct Mark {
    public enum Kind { case line, points, bars, guide }
    public var kind: Kind
    public var name: String?
    public var color: String
    /// Points (`line`, `points`, `guide`); for `bars` the left edges and heights.
    public var x: [Double]
    public var y: [Double]
    /// `bars`: right edges.
    public var x1: [Double] = []
    /// `points`: a colour and a tooltip per point (optional).
    public var colors: [String]?
    public var titles: [String]?
    public var dashed = false
    /// `line`: a dot at every point (only drawn up to 40 points).
    public var dots = false
    public var opacity = 1.0
    public var radius = 2.6

    public static func line(_ name: String?, color: String, x: [Double], y: [Double], dashed: Bool = false, dots: Bool = true) -> Mark {
        Mark(kind: .line, name: name, color: color, x: x, y: y, dashed: dashed, dots: dots)
    }

    public static func points(_ name: String?, color: String, x: [Double], y: [Double], colors: [String]? = nil,
                              titles: [String]? = nil, radius: Double = 2.6) -> Mark {
        Mark(kind: .points, name: name, color: color, x: x, y: y, colors: colors, titles: titles, opacity: 0.85, radius: radius)
    }

    /// Bars from 0 to `heights` between `left` and `right` edges (histograms, bar charts).
    public static func bars(_ name: String?, color: String, left: [Double], right: [Double], heights: [Double], opacity: Double = 0.5) -> Mark {
        Mark(kind: .bars, name: name, color: color, x: left, y: heights, x1: right, opacity: opacity)
    }

    /// A thin line that does not set the axis ranges (a diagonal, a zero line).
    public static func guide(x: [Double], y: [Double], color: String = "#888", dashed: Bool = true) -> Mark {
        Mark(kind: .guide, name: nil, color: color, x: x, y: y, dashed: dashed)
    }
}

/// Where a panel's legend sits, always inside the plotting frame; `auto` picks the corner
/// covering the fewest data points.
public enum LegendPlacement { case auto, topLeft, topRight, bottomLeft, bottomRight, none }

/// One plot: a frame with labelled axes, light grid lines at readable ticks (`Ticks`), its
/// marks, and a legend inside the frame. `svg()` gives a standalone document, `elements(at:)`
/// the same drawing placed in a larger SVG.
public struct Panel {
    public var title: String?
    public var x: Axis
    public var y: Axis
    public var marks: [Mark]
    /// Total size including margins, in pixels.
    public var width: Double
    public var height: Double
    public var legend: LegendPlacement = .auto
    /// Text shown in the middle of the frame (e.g. why it is empty).
    public var note: String?
    /// Extra right margin (for a colour bar drawn by the caller).
    public var rightMargin = 16.0

    public init(title: String? = nil, x: Axis, y: Axis, marks: [Mark], width: Double = 460, height: Double = 300) {
        self.title = title; self.x = x; self.y = y; self.marks = marks; self.width = width; self.height = height
    }

    /// The ticks of both axes from the marks (guides excluded) and the axis settings.
    public func ticks() -> (x: Ticks, y: Ticks) {
        var xs: [Double] = [], ys: [Double] = []
        for m in marks where m.kind != .guide {
            xs += m.x; ys += m.y
            if m.kind == .bars { xs += m.x1; ys.append(0) }
        }
        return (Self.ticks(x, xs), Self.ticks(y, ys))
    }

    static func ticks(_ a: Axis, _ values: [Double]) -> Ticks {
        let v = values.filter { $0.isFinite && (!a.log || $0 > 0) }
        var lo = a.min ?? v.min() ?? (a.log ? 1 : 0), hi = a.max ?? v.max() ?? (a.log ? 10 : 1)
        if a.includeZero && !a.log { lo = Swift.min(lo, 0); hi = Swift.max(hi, 0) }
        if a.log { return Ticks.log(lo, hi) }
        var t = Ticks.linear(lo, hi, integer: a.integer)
        if let fixedLo = a.min, let fixedHi = a.max, fixedHi > fixedLo {
            // Fixed bounds stay exact; ticks are the round values within them.
            let step = Ticks.linear(fixedLo, fixedHi, integer: a.integer).step
            t = Ticks(lo: fixedLo, hi: fixedHi, values: t.values.filter { $0 >= fixedLo - 1e-9 * step && $0 <= fixedHi + 1e-9 * step }, step: step)
        }
        return t
    }

    /// The plotting frame inside the panel (relative to its top-left corner).
    public func frame(_ t: (x: Ticks, y: Ticks)) -> (x0: Double, y0: Double, x1: Double, y1: Double) {
        let labelWidth = t.y.values.map { SVG.textWidth(t.y.label($0)) }.max() ?? 20
        return (x0: 30 + labelWidth, y0: title == nil ? 12 : 30, x1: width - rightMargin, y1: height - 44)
    }

    public func svg() -> String { SVG.document(width: width, height: height, elements(at: 0, 0)) }

    /// Pixel mappings of the data to the frame placed at (`ox`, `oy`), values clamped just
    /// outside the frame so stray marks stay near it.
    func mapping(_ t: (x: Ticks, y: Ticks), _ ox: Double, _ oy: Double) -> (px: (Double) -> Double, py: (Double) -> Double, frame: (Double, Double, Double, Double)) {
        let f = frame(t)
        let x0 = ox + f.x0, x1 = ox + f.x1, y0 = oy + f.y0, y1 = oy + f.y1
        let xLog = x.log, yLog = y.log
        func scale(_ v: Double, _ tk: Ticks, _ log: Bool) -> Double {
            let r = log ? (Foundation.log(v) - Foundation.log(tk.lo)) / (Foundation.log(tk.hi) - Foundation.log(tk.lo))
                        : (v - tk.lo) / (tk.hi - tk.lo)
            return Swift.min(1.02, Swift.max(-0.02, r.isFinite ? r : 0))
        }
        return ({ x0 + scale($0, t.x, xLog) * (x1 - x0) }, { y1 - scale($0, t.y, yLog) * (y1 - y0) }, (x0, y0, x1, y1))
    }

    /// The drawing with its top-left corner at (`ox`, `oy`).
    public func elements(at ox: Double, _ oy: Double) -> [String] {
        // Headroom: when the legend would cover data in every corner, raise a free y axis
        // (up to three times) so the legend fits above the data.
        var p = self
        let free = y.max == nil && !y.log && legend != .none
        for _ in 0..<(free ? 3 : 0) {
            let t = p.ticks()
            let m = p.mapping(t, ox, oy)
            guard let placed = p.legendPlacement(frame: m.frame, px: m.px, py: m.py), placed.covered > 0 else { break }
            p.y.max = t.y.hi + (t.y.hi - t.y.lo) * 0.3
        }
        return p.draw(at: ox, oy)
    }

    func draw(at ox: Double, _ oy: Double) -> [String] {
        let t = ticks()
        let (px, py, f) = mapping(t, ox, oy)
        let (x0, y0, x1, y1) = f

        var out = ["<g>"]
        if let title { out.append(SVG.text(title, x: (x0 + x1) / 2, y: oy + 18, anchor: "middle", size: 13, extra: " font-weight=\"bold\"")) }
        for v in t.y.values {
            out.append("<line x1=\(SVG.q(x0)) y1=\(SVG.q(py(v))) x2=\(SVG.q(x1)) y2=\(SVG.q(py(v))) stroke=\"#e6e6e6\"/>")
            out.append(SVG.text(t.y.label(v), x: x0 - 5, y: py(v) + 4, anchor: "end"))
        }
        for v in t.x.values {
            out.append("<line x1=\(SVG.q(px(v))) y1=\(SVG.q(y0)) x2=\(SVG.q(px(v))) y2=\(SVG.q(y1)) stroke=\"#f0f0f0\"/>")
            out.append("<line x1=\(SVG.q(px(v))) y1=\(SVG.q(y1)) x2=\(SVG.q(px(v))) y2=\(SVG.q(y1 + 4)) stroke=\"#666\"/>")
            out.append(SVG.text(t.x.label(v), x: px(v), y: y1 + 16, anchor: "middle"))
        }
        out.append(SVG.text(x.label, x: (x0 + x1) / 2, y: y1 + 34, anchor: "middle"))
        out.append("<text transform=\"translate(\(SVG.n(ox + 14)) \(SVG.n((y0 + y1) / 2))) rotate(-90)\" text-anchor=\"middle\">\(SVG.escape(y.label))</text>")

        for m in marks {
            let dash = m.dashed ? " stroke-dasharray=\"5 3\"" : ""
            switch m.kind {
            case .bars:
                for i in m.y.indices where m.y[i] != 0 {
                    let a = px(m.x[i]), b = px(m.x1[i]), top = py(Swift.max(m.y[i], 0)), bottom = py(Swift.min(m.y[i], 0))
                    out.append("<rect x=\(SVG.q(a)) y=\(SVG.q(top)) width=\(SVG.q(Swift.max(0.5, b - a))) height=\(SVG.q(bottom - top)) fill=\"\(m.color)\" fill-opacity=\"\(m.opacity)\" stroke=\"\(m.color)\" stroke-width=\"0.8\"/>")
                }
            case .line, .guide:
                let pts = zip(m.x, m.y).filter { $0.0.isFinite && $0.1.isFinite }
                if pts.count > 1 {
                    let width = m.kind == .guide ? 1 : 2
                    out.append("<polyline points=\"\(pts.map { "\(SVG.n(px($0.0))),\(SVG.n(py($0.1)))" }.joined(separator: " "))\" fill=\"none\" stroke=\"\(m.color)\" stroke-width=\"\(width)\"\(dash)/>")
                }
                if m.kind == .line && (m.dots || pts.count == 1) && pts.count <= 40 {
                    for p in pts { out.append("<circle cx=\(SVG.q(px(p.0))) cy=\(SVG.q(py(p.1))) r=\"2.5\" fill=\"\(m.color)\"/>") }
                }
            case .points:
                for i in m.x.indices where m.x[i].isFinite && m.y[i].isFinite {
                    let c = m.colors?[i] ?? m.color
                    let tip = m.titles.map { "<title>\(SVG.escape($0[i]))</title>" } ?? ""
                    out.append("<circle cx=\(SVG.q(px(m.x[i]))) cy=\(SVG.q(py(m.y[i]))) r=\(SVG.q(m.radius)) fill=\"\(c)\" fill-opacity=\"\(m.opacity)\">\(tip)</circle>")
                }
            }
        }
        out.append("<rect x=\(SVG.q(x0)) y=\(SVG.q(y0)) width=\(SVG.q(x1 - x0)) height=\(SVG.q(y1 - y0)) fill=\"none\" stroke=\"#888\"/>")
        if let note { out.append(SVG.text(note, x: (x0 + x1) / 2, y: (y0 + y1) / 2, anchor: "middle", extra: " fill=\"#666\"")) }
        out += legendElements(frame: f, px: px, py: py)
        out.append("</g>")
        return out
    }

    /// The legend's size.
    var legendSize: (w: Double, h: Double) {
        let entries = marks.filter { $0.name != nil }
        return ((entries.map { SVG.textWidth($0.name!) }.max() ?? 0) + 36, Double(entries.count) * 17 + 8)
    }

    /// Where the legend goes (top-left corner) and how many data positions it covers there;
    /// nil without legend entries.
    func legendPlacement(frame: (Double, Double, Double, Double), px: (Double) -> Double, py: (Double) -> Double) -> (x: Double, y: Double, covered: Int)? {
        guard marks.contains(where: { $0.name != nil }), legend != .none else { return nil }
        let (x0, y0, x1, y1) = frame
        let (w, h) = legendSize
        let pad = 6.0
        let corners: [(LegendPlacement, Double, Double)] = [(.topRight, x1 - pad - w, y0 + pad), (.topLeft, x0 + pad, y0 + pad),
                                                             (.bottomRight, x1 - pad - w, y1 - pad - h), (.bottomLeft, x0 + pad, y1 - pad - h)]
        // Pixel positions of the data: points, line segments sampled along their length, bars
        // sampled over their area.
        var pts: [(Double, Double)] = []
        for m in marks {
            let p = zip(m.x, m.y).map { (px($0.0), py($0.1)) }
            if m.kind != .bars { pts += p }
            if m.kind == .line || m.kind == .guide, p.count > 1 {
                for i in 1..<p.count { for f in stride(from: 0.1, to: 1, by: 0.1) { pts.append((p[i - 1].0 + (p[i].0 - p[i - 1].0) * f, p[i - 1].1 + (p[i].1 - p[i - 1].1) * f)) } }
            }
            if m.kind == .bars {
                for i in m.x.indices where m.y[i] != 0 {
                    for fx in [0.0, 0.5, 1.0] { for fy in stride(from: 0.0, through: 1, by: 0.1) { pts.append((px(m.x[i] + (m.x1[i] - m.x[i]) * fx), py(m.y[i] * fy))) } }
                }
            }
        }
        func covered(_ c: (LegendPlacement, Double, Double)) -> Int {
            pts.filter { $0.0 >= c.1 - 4 && $0.0 <= c.1 + w + 4 && $0.1 >= c.2 - 4 && $0.1 <= c.2 + h + 4 }.count
        }
        let chosen = corners.first { $0.0 == legend } ?? corners.min { covered($0) < covered($1) }!
        return (chosen.1, chosen.2, covered(chosen))
    }

    /// The legend box inside the frame, in the requested corner or the emptiest one.
    func legendElements(frame: (Double, Double, Double, Double), px: (Double) -> Double, py: (Double) -> Double) -> [String] {
        guard let (lx, ly, _) = legendPlacement(frame: frame, px: px, py: py) else { return [] }
        let (w, h) = legendSize
        var out = ["<rect x=\(SVG.q(lx)) y=\(SVG.q(ly)) width=\(SVG.q(w)) height=\(SVG.q(h)) fill=\"white\" fill-opacity=\"0.88\" stroke=\"#bbb\"/>"]
        for (i, m) in marks.filter({ $0.name != nil }).enumerated() {
            let cy = ly + 12 + Double(i) * 17
            switch m.kind {
            case .line, .guide:
                out.append("<line x1=\(SVG.q(lx + 6)) y1=\(SVG.q(cy)) x2=\(SVG.q(lx + 26)) y2=\(SVG.q(cy)) stroke=\"\(m.color)\" stroke-width=\"2\"\(m.dashed ? " stroke-dasharray=\"5 3\"" : "")/>")
            case .bars, .points:
                out.append("<rect x=\(SVG.q(lx + 10)) y=\(SVG.q(cy - 5)) width=\"10\" height=\"10\" rx=\"\(m.kind == .points ? 5 : 0)\" fill=\"\(m.color)\" fill-opacity=\"\(max(m.opacity, 0.6))\"/>")
            }
            out.append(SVG.text(m.name!, x: lx + 32, y: cy + 4))
        }
        return out
    }
}

/// Histogram bins with round edges: the bin width is a 1/2/5 × 10^k step (about `target`
/// bins over the data), shared by every value set so overlaid histograms line up.
public enum Histogram {
    public static func bins(_ sets: [[Double]], target: Int = 20, integer: Bool = false) -> (edges: [Double], counts: [[Int]]) {
        let all = sets.flatMap { $0 }.filter(\.isFinite)
        guard let lo = all.min(), let hi = all.max() else { return ([0, 1], sets.map { _ in [0] }) }
        var step = Ticks.niceStep(Swift.max(hi - lo, integer ? 1 : (lo == 0 ? 1 : abs(lo) * 0.1)), target: target)
        if integer { step = Swift.max(1, step.rounded()) }
        let start = integer ? (lo - 0.5).rounded(.down) + 0.5 : (lo / step).rounded(.down) * step
        let n = Swift.max(1, Int(((hi - start) / step).rounded(.down)) + 1)
        let edges = (0...n).map { start + Double($0) * step }
        let counts = sets.map { set -> [Int] in
            var c = [Int](repeating: 0, count: n)
            for v in set where v.isFinite { c[Swift.min(n - 1, Swift.max(0, Int(((v - start) / step).rounded(.down))))] += 1 }
            return c
        }
        return (edges, counts)
    }
}

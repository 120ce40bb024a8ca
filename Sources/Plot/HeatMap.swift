import Foundation

/// A matrix as coloured cells (viridis over `range`), with row and column names, axis titles,
/// optional text in each cell and a tooltip per cell, and a colour bar with readable ticks.
/// Used for the BSS acceptance matrix (base class × target class) and confusion matrices.
public struct HeatMap {
    public var title: String?
    /// Rows of values; nil cells (not applicable, e.g. the diagonal) are drawn light grey.
    public var values: [[Double?]]
    public var rowTitle: String
    public var columnTitle: String
    public var rowNames: [String]
    public var columnNames: [String]
    public var range: (Double, Double)
    public var colorBarTitle: String
    /// Text drawn in each cell (nil: none); only drawn when cells are at least 22 px.
    public var cellText: [[String?]]?
    public var cellTitles: [[String]]?

    public init(title: String? = nil, values: [[Double?]], rowTitle: String, columnTitle: String,
                rowNames: [String]? = nil, columnNames: [String]? = nil, range: (Double, Double) = (0, 1),
                colorBarTitle: String, cellText: [[String?]]? = nil, cellTitles: [[String]]? = nil) {
        self.title = title; self.values = values; self.rowTitle = rowTitle; self.columnTitle = columnTitle
        self.rowNames = rowNames ?? values.indices.map(String.init)
        self.columnNames = columnNames ?? (values.first ?? []).indices.map(String.init)
        self.range = range; self.colorBarTitle = colorBarTitle; self.cellText = cellText; self.cellTitles = cellTitles
    }

    /// Side of a cell: the matrix fits in about 420 px, cells between 4 and 40 px.
    var cell: Double {
        let n = Double(max(values.count, values.first?.count ?? 0, 1))
        return min(40, max(4, (420 / n).rounded(.down)))
    }

    public func svg() -> String {
        let rows = values.count, cols = values.first?.count ?? 0
        let c = cell
        let names = c >= 12
        let left = 44.0 + (names ? (rowNames.map { SVG.textWidth($0, size: 11) }.max() ?? 0) : 0)
        let top = (title == nil ? 10.0 : 30.0)
        let width = left + Double(cols) * c + 110, height = top + Double(rows) * c + 48
        var out: [String] = []
        if let title { out.append(SVG.text(title, x: width / 2, y: 18, anchor: "middle", size: 13, extra: " font-weight=\"bold\"")) }
        let span = range.1 - range.0
        for r in 0..<rows {
            for k in 0..<cols {
                let x = left + Double(k) * c, y = top + Double(r) * c
                let tip = cellTitles.map { "<title>\(SVG.escape($0[r][k]))</title>" } ?? ""
                guard let v = values[r][k], v.isFinite else {
                    out.append("<rect x=\(SVG.q(x)) y=\(SVG.q(y)) width=\(SVG.q(c)) height=\(SVG.q(c)) fill=\"#eeeeee\" stroke=\"white\" stroke-width=\"0.5\">\(tip)</rect>")
                    continue
                }
                let rgb = ColorMap.viridisRGB(span > 0 ? (v - range.0) / span : 0)
                out.append("<rect x=\(SVG.q(x)) y=\(SVG.q(y)) width=\(SVG.q(c)) height=\(SVG.q(c)) fill=\"\(ColorMap.hex(rgb))\" stroke=\"white\" stroke-width=\"0.5\">\(tip)</rect>")
                if c >= 22, let s = cellText?[r][k] {
                    out.append(SVG.text(s, x: x + c / 2, y: y + c / 2 + 4, anchor: "middle", size: c >= 34 ? 11 : 9,
                                        extra: " fill=\"\(ColorMap.textColor(on: rgb))\""))
                }
            }
        }
        let x1 = left + Double(cols) * c, y1 = top + Double(rows) * c
        let every = max(1, Int((14 / c).rounded(.up)))   // label every k-th class when cells are small
        for r in stride(from: 0, to: rows, by: every) {
            out.append(SVG.text(rowNames[r], x: left - 4, y: top + (Double(r) + 0.5) * c + 4, anchor: "end", size: 11))
        }
        for k in stride(from: 0, to: cols, by: every) {
            out.append(SVG.text(columnNames[k], x: left + (Double(k) + 0.5) * c, y: y1 + 14, anchor: "middle", size: 11))
        }
        out.append(SVG.text(columnTitle, x: (left + x1) / 2, y: y1 + 34, anchor: "middle"))
        out.append("<text transform=\"translate(14 \(SVG.n((top + y1) / 2))) rotate(-90)\" text-anchor=\"middle\">\(SVG.escape(rowTitle))</text>")
        out += ColorBar.elements(x: x1 + 16, y0: top, y1: y1, range: range, title: colorBarTitle)
        return SVG.document(width: width, height: height, out)
    }
}

/// A vertical viridis colour bar from `range.0` (bottom) to `range.1` (top) with round ticks
/// and a title along its right side.
public enum ColorBar {
    public static func elements(x: Double, y0: Double, y1: Double, range: (Double, Double), title: String) -> [String] {
        var out: [String] = []
        let steps = 32
        for i in 0..<steps {
            let a = y1 - Double(i) / Double(steps) * (y1 - y0), b = y1 - Double(i + 1) / Double(steps) * (y1 - y0)
            out.append("<rect x=\(SVG.q(x)) y=\(SVG.q(b)) width=\"12\" height=\(SVG.q(a - b + 0.4)) fill=\"\(ColorMap.viridis((Double(i) + 0.5) / Double(steps)))\"/>")
        }
        out.append("<rect x=\(SVG.q(x)) y=\(SVG.q(y0)) width=\"12\" height=\(SVG.q(y1 - y0)) fill=\"none\" stroke=\"#888\"/>")
        let t = Ticks.linear(range.0, range.1, target: 4)
        for v in t.values where v >= range.0 - 1e-12 && v <= range.1 + 1e-12 {
            let y = y1 - (v - range.0) / max(range.1 - range.0, 1e-300) * (y1 - y0)
            out.append("<line x1=\(SVG.q(x + 12)) y1=\(SVG.q(y)) x2=\(SVG.q(x + 15)) y2=\(SVG.q(y)) stroke=\"#666\"/>")
            out.append(SVG.text(t.label(v), x: x + 17, y: y + 4, size: 11))
        }
        out.append("<text transform=\"translate(\(SVG.n(x + 62)) \(SVG.n((y0 + y1) / 2))) rotate(90)\" text-anchor=\"middle\">\(SVG.escape(title))</text>")
        return out
    }
}

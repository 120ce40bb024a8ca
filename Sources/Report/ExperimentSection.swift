import Foundation
import ModelIO
import Plot

/// The results of an experiment (docs/report.md, "Experiment folders"): `results.json` in
/// the folder, an object `{"format": "bss-experiment-results", "format_version": 1, "rows": [...]}`
/// (or just the array of rows), one row per trained student:
///
/// | key | type | meaning |
/// |---|---|---|
/// | `method` | string | `original`, `hinton`, `bss`, … (`original` is the baseline of the gain plot) |
/// | `attack` | string or null | how the boundary samples were made (`bss`, `fgsm`, …), null for none |
/// | `fraction` | number in (0, 1] | fraction of the training data used |
/// | `seed` | integer | the run's seed |
/// | `accuracy` | number in [0, 1] | test accuracy of the student |
/// | `magsim`, `angsim` | number in [0, 1] or null | boundary similarity to the teacher |
struct ExperimentResults {
    struct Row {
        var method: String
        var attack: String?
        var fraction: Double
        var seed: Int
        var accuracy: Double
        var magsim: Double?
        var angsim: Double?
        /// `method` or `method (attack)`.
        var label: String { attack.map { $0 == method ? method : "\(method) (\($0))" } ?? method }
    }

    var file: String
    var title: String?
    var rows: [Row]

    static func read(_ url: URL) throws -> ExperimentResults {
        let file = url.path
        let root = try ReportBuilder.readJSON(url)
        var title: String?
        let items: [Any]
        if let list = root as? [Any] {
            items = list
        } else if let o = root as? [String: Any] {
            if let f = o["format"], f as? String != "bss-experiment-results" {
                throw ModelIOError(.mismatch, file: file, location: "format", "expected 'bss-experiment-results', found \(f)")
            }
            if let v = o["format_version"], (v as? Int) != 1 {
                throw ModelIOError(.unsupported, file: file, location: "format_version", "expected 1, found \(v)")
            }
            guard let r = o["rows"] as? [Any] else { throw ModelIOError(.notFound, file: file, location: "rows", "expected an array of result rows") }
            items = r
            title = o["title"] as? String
        } else {
            throw ModelIOError(.mismatch, file: file, "expected an object with 'rows' or an array of result rows")
        }
        let known: Set<String> = ["method", "attack", "fraction", "seed", "accuracy", "magsim", "angsim"]
        let rows = try items.enumerated().map { i, item -> Row in
            let at = "rows[\(i)]"
            guard let o = item as? [String: Any] else { throw ModelIOError(.mismatch, file: file, location: at, "expected an object") }
            if let extra = o.keys.sorted().first(where: { !known.contains($0) }) {
                throw ModelIOError(.mismatch, file: file, location: "\(at).\(extra)", "unknown key; expected \(known.sorted().joined(separator: ", "))")
            }
            func number(_ k: String, optional: Bool = false, in range: ClosedRange<Double>) throws -> Double? {
                if o[k] == nil || o[k] is NSNull {
                    if optional { return nil }
                    throw ModelIOError(.notFound, file: file, location: "\(at).\(k)", "missing")
                }
                guard let v = (o[k] as? NSNumber)?.doubleValue, !isBool(o[k]), v.isFinite, range.contains(v) else {
                    throw ModelIOError(.mismatch, file: file, location: "\(at).\(k)", "expected a number in [\(range.lowerBound), \(range.upperBound)], found \(o[k]!)")
                }
                return v
            }
            guard let method = o["method"] as? String, !method.isEmpty else {
                throw ModelIOError(.mismatch, file: file, location: "\(at).method", "expected a method name")
            }
            let attack = o["attack"] is NSNull ? nil : o["attack"].map { $0 as? String }
            if attack == .some(nil) { throw ModelIOError(.mismatch, file: file, location: "\(at).attack", "expected a string or null") }
            let fraction = try number("fraction", in: 0...1)!
            guard fraction > 0 else { throw ModelIOError(.mismatch, file: file, location: "\(at).fraction", "must be above 0") }
            guard let seed = (o["seed"] as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }), !isBool(o["seed"]) else {
                throw ModelIOError(.mismatch, file: file, location: "\(at).seed", "expected an integer")
            }
            return Row(method: method, attack: attack ?? nil, fraction: fraction, seed: seed, accuracy: try number("accuracy", in: 0...1)!,
                       magsim: try number("magsim", optional: true, in: 0...1), angsim: try number("angsim", optional: true, in: 0...1))
        }
        guard !rows.isEmpty else { throw ModelIOError(.mismatch, file: file, location: "rows", "no result rows") }
        return ExperimentResults(file: file, title: title, rows: rows)
    }
}

/// Whether a JSON value is `true`/`false` (Foundation hands booleans over as NSNumber too;
/// their type code is `c`).
func isBool(_ v: Any?) -> Bool {
    guard let n = v as? NSNumber else { return false }
    return String(cString: n.objCType) == "c"
}

enum ExperimentSection {
    /// Mean and (sample) standard deviation over seeds.
    struct Cell { var mean: Double; var std: Double?; var n: Int }

    static func cell(_ v: [Double]) -> Cell? {
        guard !v.isEmpty else { return nil }
        let m = v.reduce(0, +) / Double(v.count)
        let s = v.count > 1 ? (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot() : nil
        return Cell(mean: m, std: s, n: v.count)
    }

    static func render(_ e: ExperimentResults) -> [String] {
        let labels = orderedLabels(e.rows)
        let fractions = Array(Set(e.rows.map(\.fraction))).sorted(by: >)
        var out = [Fragment.meta([("file", e.file), ("rows", "\(e.rows.count) students: \(labels.count) methods × \(fractions.count) training fractions, seeds \(Set(e.rows.map(\.seed)).sorted().map(String.init).joined(separator: ", "))")])]
        for (name, metric, scale) in [("Test accuracy (%)", { (r: ExperimentResults.Row) in Optional(r.accuracy) }, 100.0),
                                      ("MagSim", { (r: ExperimentResults.Row) in r.magsim }, 1.0), ("AngSim", { (r: ExperimentResults.Row) in r.angsim }, 1.0)] {
            guard e.rows.contains(where: { metric($0) != nil }) else { continue }
            out.append("<h3>\(Fragment.h(name))</h3>")
            out.append(table(e.rows, labels: labels, fractions: fractions, metric: metric, scale: scale))
        }
        out.append("<p class=\"small\">Mean ± standard deviation over seeds (n); bold: the best (highest) mean in each column.</p>")
        out.append("<h3>Generalisation: gain over Original</h3>")
        out += gainPlot(e.rows, labels: labels, fractions: fractions)
        return out
    }

    /// Method labels in first-appearance order, `original` first.
    static func orderedLabels(_ rows: [ExperimentResults.Row]) -> [String] {
        var seen: [String] = []
        for r in rows where !seen.contains(r.label) { seen.append(r.label) }
        return seen.filter { $0 == "original" } + seen.filter { $0 != "original" }
    }

    static func table(_ rows: [ExperimentResults.Row], labels: [String], fractions: [Double],
                      metric: (ExperimentResults.Row) -> Double?, scale: Double) -> String {
        let cells = labels.map { l in fractions.map { f in cell(rows.filter { $0.label == l && $0.fraction == f }.compactMap(metric)) } }
        let best = fractions.indices.map { j in cells.compactMap { $0[j]?.mean }.max() }
        let digits = scale == 100 ? "%.2f" : "%.4f"
        let html = labels.indices.map { i in
            [Fragment.h(labels[i])] + fractions.indices.map { j in
                guard let c = cells[i][j] else { return "-" }
                return String(format: digits, c.mean * scale) + (c.std.map { " ± " + String(format: digits, $0 * scale) } ?? "") + " <span class=\"small\">(\(c.n))</span>"
            }
        }
        let marks = labels.indices.map { i in [false] + fractions.indices.map { j in cells[i][j] != nil && cells[i][j]!.mean == best[j] } }
        return Fragment.table(header: ["method (attack)"] + fractions.map { "\(percent($0))% data" }, rows: html, best: marks)
    }

    static func percent(_ f: Double) -> String { String(format: "%g", (f * 1e4).rounded() / 100) }

    /// Accuracy gain over `original` (percentage points, mean over seeds) against the training
    /// fraction, one line per other method; a log x axis when the fractions span 10× or more.
    static func gainPlot(_ rows: [ExperimentResults.Row], labels: [String], fractions: [Double]) -> [String] {
        guard labels.contains("original") else {
            return [Fragment.note("No rows with method 'original': the gain over Original cannot be computed.")]
        }
        func mean(_ l: String, _ f: Double) -> Double? { cell(rows.filter { $0.label == l && $0.fraction == f }.map(\.accuracy))?.mean }
        var marks: [Mark] = []
        for (i, l) in labels.enumerated() where l != "original" {
            let pts = fractions.sorted().compactMap { f -> (Double, Double)? in
                guard let m = mean(l, f), let o = mean("original", f) else { return nil }
                return (f * 100, (m - o) * 100)
            }
            if !pts.isEmpty { marks.append(.line(l, color: ColorMap.series[i % ColorMap.series.count], x: pts.map(\.0), y: pts.map(\.1))) }
        }
        let xs = fractions.map { $0 * 100 }
        let log = (xs.max() ?? 1) / (xs.min() ?? 1) >= 10
        marks.insert(.guide(x: [xs.min() ?? 1, xs.max() ?? 100], y: [0, 0], color: "#444", dashed: true), at: 0)
        var p = Panel(title: "Accuracy gain over Original", x: Axis("training data used (%" + (log ? ", log scale)" : ")"), log: log),
                      y: Axis("test accuracy − Original (percentage points)", includeZero: true), marks: marks, width: 640, height: 380)
        if marks.count == 1 { p.note = "no method besides original" }
        return [Fragment.figure(p.svg(), caption: "Mean over seeds at each fraction of the training data; above the dashed line a method beats Original trained on the same data.")]
    }
}

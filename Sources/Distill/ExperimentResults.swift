import Foundation
import ModelIO

/// Writes an experiment's results into its folder (docs/algorithm.md, "Experiments"):
///
/// - `results.json`: `{"format": "bss-experiment-results", "format_version": 1, "title", "rows"}`,
///   one row per finished cell with `method`, `attack` (null without a BSS slot), `fraction`,
///   `seed`, `accuracy`, `magsim`, `angsim`: the layout `bss report` reads (docs/report.md,
///   "Experiment folders");
/// - `results.csv`: the same rows plus pair counts and seconds;
/// - `results.md`: the paper's table layout, one row per method (and attack), one column per
///   fraction, test accuracy in % as mean ± sample sd over seeds with the best mean per column in
///   bold; then MagSim and AngSim tables of the same shape (means over seeds).
public struct ExperimentResultsWriter {
    public var config: ExperimentConfig
    public var results: [CellResult]

    public init(config: ExperimentConfig, results: [CellResult]) {
        self.config = config
        self.results = results
    }

    public func write(to folder: URL) throws {
        let json = try JSONSerialization.data(withJSONObject: jsonObject, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try AtomicFile.write(to: folder.appendingPathComponent("results.json")) { try json.write(to: $0) }
        try AtomicFile.write(to: folder.appendingPathComponent("results.csv")) { try Data(csv.utf8).write(to: $0) }
        try AtomicFile.write(to: folder.appendingPathComponent("results.md")) { try Data(markdown.utf8).write(to: $0) }
    }

    /// The row labels in grid order: `method` or `method (attack)`.
    var labels: [String] {
        var seen: [String] = []
        for c in Experiment(config: config).cells where !seen.contains(c.label) { seen.append(c.label) }
        return seen
    }

    func label(_ r: CellResult) -> String { r.attack.map { "\(r.method) (\($0))" } ?? r.method }

    public var jsonObject: [String: Any] {
        var o: [String: Any] = ["format": "bss-experiment-results", "format_version": 1,
                                "rows": results.map { r -> [String: Any] in
                                    ["method": r.method, "attack": r.attack ?? NSNull(), "fraction": r.fraction, "seed": r.seed,
                                     "accuracy": r.accuracy, "magsim": r.magsim ?? NSNull(), "angsim": r.angsim ?? NSNull()]
                                }]
        if let t = config.title { o["title"] = t }
        return o
    }

    public var csv: String {
        func f(_ v: Double?) -> String { v.map { "\($0)" } ?? "" }
        return (["method,attack,fraction,seed,accuracy,magsim,angsim,pairs_compared,pairs_attempted,seconds"]
            + results.map { r in
                [r.method, r.attack ?? "", "\(r.fraction)", "\(r.seed)", "\(r.accuracy)", f(r.magsim), f(r.angsim),
                 "\(r.pairsCompared)", "\(r.pairsAttempted)", String(format: "%.1f", r.seconds)].joined(separator: ",")
            }).joined(separator: "\n") + "\n"
    }

    /// Mean and sample standard deviation (0 for one value).
    static func meanSD(_ v: [Double]) -> (mean: Double, sd: Double)? {
        guard !v.isEmpty else { return nil }
        let m = v.reduce(0, +) / Double(v.count)
        guard v.count > 1 else { return (m, 0) }
        return (m, (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot())
    }

    func table(_ title: String, value: (CellResult) -> Double?, scale: Double, digits: Int, sd: Bool) -> [String] {
        let fractions = config.fractions
        var lines = ["### \(title)", "",
                     "| method | " + fractions.map { String(format: "%g %%", $0 * 100) }.joined(separator: " | ") + " |",
                     "|---|" + fractions.map { _ in "---:|" }.joined()]
        let stats: [[(mean: Double, sd: Double, n: Int)?]] = labels.map { l in
            fractions.map { f in
                let v = results.filter { label($0) == l && $0.fraction == f }.compactMap(value)
                return Self.meanSD(v).map { ($0.mean, $0.sd, v.count) }
            }
        }
        let best = fractions.indices.map { j in stats.compactMap { $0[j]?.mean }.max() }
        for (i, l) in labels.enumerated() {
            let cells = fractions.indices.map { j -> String in
                guard let s = stats[i][j] else { return "–" }
                var t = String(format: "%.\(digits)f", s.mean * scale)
                if sd && s.n > 1 { t += String(format: " ± %.\(digits)f", s.sd * scale) }
                return s.mean == best[j] ? "**\(t)**" : t
            }
            lines.append("| \(l) | " + cells.joined(separator: " | ") + " |")
        }
        return lines
    }

    public var markdown: String {
        let seeds = Set(results.map(\.seed)).count, total = Experiment(config: config).cells.count
        var lines = ["# " + (config.title ?? "Experiment results"), "",
                     "Teacher `\((config.teacher as NSString).lastPathComponent)`, student `\((config.student as NSString).lastPathComponent)`, "
                     + "data `\((config.data as NSString).lastPathComponent)`, tested on `\((config.test as NSString).lastPathComponent)`. "
                     + "\(results.count) of \(total) cells finished; \(seeds) seed\(seeds == 1 ? "" : "s"); columns are training-data fractions.", ""]
        lines += table("Test accuracy (%), mean ± sd over seeds", value: { $0.accuracy }, scale: 100, digits: 2, sd: true)
        if config.similarityLimit > 0 {
            lines += [""] + table("MagSim to the teacher (mean over seeds)", value: { $0.magsim }, scale: 1, digits: 3, sd: false)
            lines += [""] + table("AngSim to the teacher (mean over seeds)", value: { $0.angsim }, scale: 1, digits: 3, sd: false)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

import Foundation

/// What `bss similarity` reports: MagSim and AngSim of two models' decision boundaries with
/// the counts behind them, overall and per base class, the mean distance to each model's
/// boundary, and where everything came from. `jsonObject` follows
/// Schemas/similarity-report.schema.json (format `bss-similarity-report`, version 1).
public struct SimilarityReport {
    /// One compared model, as far as it is known.
    public struct Side {
        /// Model file (nil: architecture only, or unknown for a BSS data set without it).
        public var file: String?
        /// Preset, spec path or Keras model name.
        public var architecture: String
        /// `ModelFormat.rawValue`.
        public var format: String
        /// Engine-layout (NCHW) per-sample input shape, and the model's native layout.
        public var inputShape: [Int]
        public var inputLayout: String
        /// The BSS data set the side was read from (`--a-bss`/`--b-bss`), else nil.
        public var bssFile: String?

        public init(file: String?, architecture: String, format: String, inputShape: [Int], inputLayout: String,
                    bssFile: String? = nil) {
            self.file = file; self.architecture = architecture; self.format = format
            self.inputShape = inputShape; self.inputLayout = inputLayout; self.bssFile = bssFile
        }

        var jsonObject: [String: Any] {
            ["file": file ?? NSNull(), "architecture": architecture, "format": format, "input_shape": inputShape,
             "input_layout": inputLayout, "bss_file": bssFile ?? NSNull()]
        }

        var line: String {
            var s = (file ?? architecture) + " (" + [file == nil ? nil : architecture, format, "input \(inputShape)"]
                .compactMap { $0 }.joined(separator: ", ") + ")"
            if let bssFile { s = "\(bssFile): BSS of " + s }
            return s
        }
    }

    /// How base samples and targets were chosen (model comparisons; nil for BSS data sets).
    public struct Selection {
        public var data: String
        public var samples: Int
        /// Rows evaluated to find the base samples, and each model's correct count among them.
        public var scanned: Int
        public var correctA: Int
        public var correctB: Int
        public var baseSamples: Int
        public var limit: Int
        public var targets: String
        public var perSample: Int
        public var seed: UInt64

        public init(data: String, samples: Int, scanned: Int, correctA: Int, correctB: Int, baseSamples: Int,
                    limit: Int, targets: String, perSample: Int, seed: UInt64) {
            self.data = data; self.samples = samples; self.scanned = scanned; self.correctA = correctA
            self.correctB = correctB; self.baseSamples = baseSamples; self.limit = limit; self.targets = targets
            self.perSample = perSample; self.seed = seed
        }
    }

    public var tool: String
    public var a: Side
    public var b: Side
    /// `models` (searched here) or `bss-datasets` (read from two files).
    public var source: String
    public var selection: Selection?
    /// The search parameters (nil when two data sets disagree on them).
    public var parameters: BSSParameters?
    public var result: SimilarityResult
    public var seconds: Double
    public var warnings: [String]

    public init(tool: String, a: Side, b: Side, source: String, selection: Selection?, parameters: BSSParameters?,
                result: SimilarityResult, seconds: Double, warnings: [String] = []) {
        self.tool = tool; self.a = a; self.b = b; self.source = source; self.selection = selection
        self.parameters = parameters; self.result = result; self.seconds = seconds; self.warnings = warnings
    }

    /// JSON-ready values (snake_case keys, absent values as null).
    public var jsonObject: [String: Any] {
        let overall = result.summary()
        var object = Self.summaryObject(overall)
        object["format"] = "bss-similarity-report"
        object["format_version"] = 1
        object["tool"] = tool
        object["source"] = source
        object["a"] = a.jsonObject
        object["b"] = b.jsonObject
        object["classes"] = result.classes
        object["algorithm"] = parameters.map { $0.jsonObject as Any } ?? NSNull()
        object["selection"] = selection.map { s -> Any in
            ["data": s.data, "samples": s.samples, "rows_scanned": s.scanned, "correct_a": s.correctA,
             "correct_b": s.correctB, "base_samples": s.baseSamples, "limit": s.limit, "targets": s.targets,
             "per_sample": s.perSample, "seed": s.seed]
        } ?? NSNull()
        object["per_class"] = result.perClass.enumerated().map { c, s -> [String: Any] in
            var o = Self.summaryObject(s)
            o["class"] = c
            return o
        }
        object["seconds"] = seconds
        object["warnings"] = warnings
        return object
    }

    static func summaryObject(_ s: SimilaritySummary) -> [String: Any] {
        func value(_ v: Double?) -> Any { v.flatMap { $0.isFinite ? $0 as Any : nil } ?? NSNull() }   // JSON has no NaN
        return ["magsim": value(s.magsim), "angsim": value(s.angsim), "pairs_compared": s.pairsCompared,
                "pairs_attempted": s.pairsAttempted, "accepted_a": s.acceptedA, "accepted_b": s.acceptedB,
                "mean_distance": ["a": value(s.meanDistanceA), "b": value(s.meanDistanceB)],
                "mean_distance_accepted": ["a": value(s.meanAcceptedDistanceA), "b": value(s.meanAcceptedDistanceB)]]
    }

    /// The human-readable report, one line per entry.
    public var lines: [String] {
        let s = result.summary()
        var out = ["A: " + a.line, "B: " + b.line]
        if let sel = selection {
            out.append("data: \(sel.data) (\(sel.samples) samples); base samples both classify correctly: \(sel.baseSamples)"
                       + " (limit \(sel.limit); of \(sel.scanned) rows scanned, A correct \(sel.correctA), B correct \(sel.correctB))")
            out.append("targets: \(sel.targets)" + (sel.targets == "sampled" ? " (\(sel.perSample) per base sample from A's softmax, seed \(sel.seed))" : ""))
        }
        if let p = parameters {
            out.append("search: \(p.mode.rawValue) mode, eta \(fmt(Double(p.eta))), eps \(fmt(Double(p.eps))), \(p.maxSteps) steps, step norm \(p.stepNorm.rawValue), "
                       + (p.clip.map { "clip [\(fmt(Double($0.lowerBound))), \(fmt(Double($0.upperBound)))]" } ?? "no clip"))
        }
        out.append("pairs attempted: \(s.pairsAttempted)")
        out.append("accepted by A:   \(s.acceptedA)\(percent(s.acceptedA, s.pairsAttempted))")
        out.append("accepted by B:   \(s.acceptedB)\(percent(s.acceptedB, s.pairsAttempted))")
        out.append("pairs compared:  \(s.pairsCompared)\(percent(s.pairsCompared, s.pairsAttempted)) (both accepted)")
        out.append("MagSim:          " + (s.magsim.map { String(format: "%.6f", $0) } ?? "- (no pair accepted by both)"))
        out.append("AngSim:          " + (s.angsim.map { String(format: "%.6f", $0) } ?? "- (no pair accepted by both)"))
        out.append("mean distance to the boundary ||d|| over compared pairs: A \(opt(s.meanDistanceA)), B \(opt(s.meanDistanceB))")
        out.append("mean distance over each model's accepted pairs:          A \(opt(s.meanAcceptedDistanceA)), B \(opt(s.meanAcceptedDistanceB))")
        if s.pairsCompared > 0 && s.pairsCompared < 30 {
            out.append("note: only \(s.pairsCompared) pairs compared; the similarity means little over so few")
        }
        out.append("per base class:")
        out.append("  class attempted  acc. A  acc. B compared    MagSim    AngSim  mean ||d_A||  mean ||d_B||")
        for (c, p) in result.perClass.enumerated() where p.pairsAttempted > 0 {
            out.append(String(format: "  %5d %9d %7d %7d %8d", c, p.pairsAttempted, p.acceptedA, p.acceptedB, p.pairsCompared)
                       + " " + col(p.magsim, 9, "%.4f") + " " + col(p.angsim, 9, "%.4f")
                       + " " + col(p.meanDistanceA, 13, "%.5g") + " " + col(p.meanDistanceB, 13, "%.5g"))
        }
        out.append(String(format: "time: %.2f s", seconds))
        return out
    }

    private func fmt(_ v: Double) -> String { String(format: "%g", v) }
    private func opt(_ v: Double?) -> String { v.map { String(format: "%.5g", $0) } ?? "-" }
    private func percent(_ n: Int, _ of: Int) -> String { of > 0 ? String(format: " (%.1f%%)", 100 * Double(n) / Double(of)) : "" }
    private func col(_ v: Double?, _ width: Int, _ format: String) -> String {
        let s = v.map { String(format: format, $0) } ?? "-"
        return String(repeating: " ", count: max(0, width - s.count)) + s
    }
}

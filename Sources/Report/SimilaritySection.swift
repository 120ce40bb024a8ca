import Boundary
import Foundation
import ModelIO
import Plot

/// A `bss similarity --json` report (Schemas/similarity-report.schema.json) as the report
/// reads it, with the per-pair distances when they can be had: from an optional `pairs`
/// member (`SimilarityResult.pairsJSONObject`) or, for reports of two BSS data sets, by
/// comparing the two data sets again (cheap: no model runs).
struct SimilarityInput {
    var file: String
    var object: [String: Any]
    var result: SimilarityResult?
    /// Why the per-pair plots are missing.
    var pairsNote: String?

    var magsim: Double? { object["magsim"] as? Double }
    var angsim: Double? { object["angsim"] as? Double }
    var pairsCompared: Int { object["pairs_compared"] as? Int ?? 0 }
    var pairsAttempted: Int { object["pairs_attempted"] as? Int ?? 0 }
    var a: [String: Any] { object["a"] as? [String: Any] ?? [:] }
    var b: [String: Any] { object["b"] as? [String: Any] ?? [:] }
    static func name(_ side: [String: Any]) -> String {
        (side["bss_file"] as? String) ?? (side["file"] as? String) ?? (side["architecture"] as? String) ?? "?"
    }
    var nameA: String { Self.name(a) }
    var nameB: String { Self.name(b) }

    static func isSimilarity(_ object: [String: Any]) -> Bool { object["format"] as? String == "bss-similarity-report" }

    init(file: String, object: [String: Any]) throws {
        self.file = file
        self.object = object
        guard object["format_version"] as? Int == 1 else {
            throw ModelIOError(.unsupported, file: file, location: "format_version", "expected 1 (bss-similarity-report version 1)")
        }
        for key in ["a", "b", "per_class", "classes"] where object[key] == nil {
            throw ModelIOError(.mismatch, file: file, location: key, "missing in a bss similarity report")
        }
        if let pairs = object["pairs"] as? [String: Any] {
            result = try SimilarityResult(pairsJSONObject: pairs, classes: object["classes"] as? Int ?? 0, file: file)
        } else if object["source"] as? String == "bss-datasets", let fa = a["bss_file"] as? String, let fb = b["bss_file"] as? String {
            let dir = URL(fileURLWithPath: file).deletingLastPathComponent()
            func locate(_ p: String) -> String? { [p, dir.appendingPathComponent(p).path].first { FileManager.default.fileExists(atPath: $0) } }
            if let pa = locate(fa), let pb = locate(fb) {
                let c = try BoundarySimilarity.compare(try BSSDataset.read(URL(fileURLWithPath: pa)), try BSSDataset.read(URL(fileURLWithPath: pb)), fileA: pa, fileB: pb)
                result = c.result
            } else {
                pairsNote = "The BSS data sets \(fa) and \(fb) were not found: per-pair plots are not shown."
            }
        } else {
            pairsNote = "This report has no per-pair distances (no `pairs` member): the distance distributions and the scatter are not shown."
        }
    }

    /// Whether B is the student `out` of a run (same file after resolving paths).
    func compares(student out: String?, runFolder: URL) -> Bool {
        guard let out, let bFile = b["file"] as? String else { return false }
        let s = URL(fileURLWithPath: RunEvaluation.locate(out, runFolder: runFolder) ?? out).standardizedFileURL.resolvingSymlinksInPath()
        let dir = URL(fileURLWithPath: file).deletingLastPathComponent()
        return [bFile, dir.appendingPathComponent(bFile).path].contains {
            URL(fileURLWithPath: $0).standardizedFileURL.resolvingSymlinksInPath() == s
        }
    }
}

enum SimilaritySection {
    static func render(_ s: SimilarityInput) -> [String] {
        var out: [String] = []
        func side(_ o: [String: Any]) -> String {
            var t = (o["file"] as? String ?? "(no file)") + " — " + (o["architecture"] as? String ?? "?") + ", " + (o["format"] as? String ?? "?")
            if let bss = o["bss_file"] as? String { t = "BSS data set \(bss) of " + t }
            return t
        }
        var rows: [(String, String)] = [("file", s.file), ("A (reference)", side(s.a)), ("B", side(s.b)), ("source", s.object["source"] as? String ?? "?")]
        if let sel = s.object["selection"] as? [String: Any] {
            rows.append(("base samples", "\(sel["base_samples"] ?? "?") of \(sel["data"] ?? "?") (limit \(sel["limit"] ?? "?")); targets \(sel["targets"] ?? "?")"))
        }
        if let alg = s.object["algorithm"] as? [String: Any] {
            // Float parameters come back as doubles (9.999999747378752e-05): shown with 4 significant digits.
            func g(_ k: String) -> String { (alg[k] as? NSNumber).map { String(format: "%.4g", $0.doubleValue) } ?? "?" }
            rows.append(("search", "\(alg["mode"] ?? "?") mode, eta \(g("eta")), eps \(g("eps")), max steps \(g("max_steps")), step norm \(alg["step_norm"] ?? "?")"))
        }
        rows.append(("MagSim / AngSim", "\(Fragment.num(s.magsim)) / \(Fragment.num(s.angsim)) over \(s.pairsCompared) of \(s.pairsAttempted) pairs (accepted by A \(s.object["accepted_a"] ?? "?"), by B \(s.object["accepted_b"] ?? "?"))"))
        for w in s.object["warnings"] as? [String] ?? [] { rows.append(("warning", w)) }
        out.append(Fragment.meta(rows))
        if let r = s.result {
            let hist = SimilarityPlot.histogramPanel(r, width: 520, height: 360)
            let scatter = SimilarityPlot.scatterPanel(r, width: 520, height: 420)
            let scatterSVG = SVG.document(width: scatter.width, height: scatter.height, scatter.elements(at: 0, 0) + SimilarityPlot.colorBar(scatter, left: 0, top: 0))
            out.append(Fragment.figure(hist.svg(), caption: "Distance to each model's boundary ‖d‖ over the pairs it accepted (A blue, B orange, shared bins)."))
            out.append(Fragment.figure(scatterSVG, caption: "‖d_A‖ against ‖d_B‖ for the pairs both accepted; dashed: ‖d_A‖ = ‖d_B‖; colour: max(0, cos(d_A, d_B))."))
        } else if let note = s.pairsNote {
            out.append(Fragment.note(note))
        }
        out.append("<h3>Per base class</h3>")
        let perClass = (s.object["per_class"] as? [[String: Any]] ?? []).filter { ($0["pairs_attempted"] as? Int ?? 0) > 0 }
        let values: [(Int, Double?, Double?)] = perClass.map { ($0["class"] as? Int ?? -1, $0["magsim"] as? Double, $0["angsim"] as? Double) }
        let bestMag = values.compactMap(\.1).max(), bestAng = values.compactMap(\.2).max()
        let rowsHTML = perClass.map { c -> [String] in
            let md = c["mean_distance"] as? [String: Any] ?? [:]
            return ["\(c["class"] ?? "?")", "\(c["pairs_attempted"] ?? 0)", "\(c["accepted_a"] ?? 0)", "\(c["accepted_b"] ?? 0)", "\(c["pairs_compared"] ?? 0)",
                    Fragment.num(c["magsim"] as? Double), Fragment.num(c["angsim"] as? Double),
                    Fragment.num(md["a"] as? Double, "%.4g"), Fragment.num(md["b"] as? Double, "%.4g")]
        }
        let best = values.map { v in [false, false, false, false, false, v.1 != nil && v.1 == bestMag, v.2 != nil && v.2 == bestAng, false, false] }
        out.append(Fragment.table(header: ["class", "attempted", "accepted A", "accepted B", "compared", "MagSim", "AngSim", "mean ‖d_A‖", "mean ‖d_B‖"],
                                  rows: rowsHTML, best: best))
        out.append("<p class=\"small\">Bold: the highest MagSim and AngSim over the classes. Mean distances over the pairs both accepted.</p>")
        return out
    }
}

import Boundary
import Foundation
import ModelIO
import Plot
import Tensor

/// The report of a BSS (or other attack) data set (`BSSDataset`):
///
/// - what made it (`meta`: teacher, data, search parameters, selection, counts);
/// - a grid of examples, one row per base class `b` and one column per target class `k`: the
///   base image (from the source data `meta.data` names, checked by SHA-256), then per target
///   the BSS image and the perturbation `x_bss − x_base` as a diverging heat map at one
///   shared scale (the largest |value| shown); bar plots for vector samples;
/// - the base × target acceptance matrix as a heat map;
/// - histograms of steps, perturbation norms (accepted pairs) and `target_prob`.
enum DatasetSection {
    static let maxClasses = 10

    static func render(_ ds: BSSDataset, file: String) -> [String] {
        var out: [String] = []
        out.append(Fragment.meta(metaRows(ds.meta, file: file)))
        let base = baseSamples(ds, file: file)
        out.append("<h3>Examples</h3>")
        if let note = base.note { out.append(Fragment.note(note)) }
        out += examples(ds, base: base.x)
        out.append("<h3>Acceptance by base and target class</h3>")
        out.append(Fragment.figure(acceptance(ds), caption: "Fraction of the pairs searched from base class b towards target class k that were accepted (\(BSSStatus.accepted.meaning(in: ds.mode))); grey: no pair. Hover a cell for the counts."))
        out.append("<h3>Distributions</h3>")
        out += histograms(ds)
        return out
    }

    static func metaRows(_ m: BSSMetadata, file: String) -> [(String, String)] {
        let a = m.algorithm, s = m.selection, c = m.counts
        func f(_ v: Float) -> String { String(format: "%g", v) }
        return [
            ("file", file), ("written by", "\(m.createdBy) (\(m.tool)), format \(m.format) v\(m.formatVersion)"),
            ("teacher", "\(m.teacher.file ?? "(fresh weights)") — \(m.teacher.architecture), \(m.teacher.format), input \(m.teacher.inputShape), \(m.teacher.classes) classes"),
            ("source data", "\(m.data.file) (\(m.data.samples) samples, stored \(m.data.storedLayout)" + (m.data.scale.map { ", scale \(f($0))" } ?? "") + (m.data.normalize.map { ", normalize \($0)" } ?? "") + ")"),
            ("x_bss", "layout \(m.inputLayout), per-sample shape \(m.inputShape)"),
            ("search", "\(a.name) \(a.mode) mode, eta \(f(a.eta)), eps \(f(a.eps)), max steps \(a.maxSteps), step norm \(a.stepNorm), " + (a.clip.map { "clip [\($0.map(f).joined(separator: ", "))]" } ?? "no clip")),
            ("selection", "base samples: \(s.base)" + (s.limit.map { " (limit \($0))" } ?? "") + "; targets: \(s.targets)" + (s.targets == "sampled" ? " (\(s.perSample) per sample)" : "") + (s.acceptedOnly ? "; accepted pairs only" : "") + "; seed \(m.seed)"),
            ("counts", "\(c.baseSamples) base samples, \(c.pairsTried) pairs tried, \(c.pairsWritten) written; accepted \(c.accepted), entered another class \(c.rejectedOtherClass), step limit \(c.rejectedStepLimit)"),
        ]
    }

    // MARK: - Base samples

    /// The base samples of every pair (rows of the source data), or why they are not shown.
    static func baseSamples(_ ds: BSSDataset, file: String) -> (x: Tensor?, note: String?) {
        let m = ds.meta
        let dir = URL(fileURLWithPath: file).deletingLastPathComponent()
        let candidates = [m.data.file, dir.appendingPathComponent(m.data.file).path]
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            return (nil, "The source data \(m.data.file) was not found (as given, or next to \(file)): base images and perturbations are not shown.")
        }
        do {
            let hash = try SHA256.path(path)
            guard hash == m.data.sha256 else {
                return (nil, "\(path) is not the file the data set was made from (SHA-256 \(hash.prefix(12))…, meta says \(m.data.sha256.prefix(12))…): base images and perturbations are not shown.")
            }
            var pre = try m.data.normalize.map { try DataLoader.Preprocessing.normalization($0) } ?? .init()
            if let s = m.data.scale { pre.scale = s }
            let stored = DataLayout(rawValue: m.data.storedLayout) ?? .nchw
            let data = try DataLoader.load(path, stored: stored, preprocessing: pre)
                .conformed(to: m.teacher.inputShape, layout: ds.storedLayout)
            guard data.x.sampleCount == ds.x.sampleCount, ds.baseIndex.allSatisfy({ (0..<data.count).contains($0) }) else {
                return (nil, "\(path): its samples do not match the data set's base_index or input shape; base images are not shown.")
            }
            return (data.x.gather(rows: ds.baseIndex), nil)
        } catch {
            return (nil, "Cannot read the source data \(path): \(error); base images are not shown.")
        }
    }

    // MARK: - Examples

    /// One example per (base class, target class): for each base class the base sample of
    /// its first accepted pair (else its first pair), and that sample's pair for each target
    /// (else the first pair of the class towards that target).
    static func chosenExamples(_ ds: BSSDataset, classes: Int) -> [(base: Int?, targets: [Int?])] {
        (0..<classes).map { b in
            let rows = (0..<ds.count).filter { ds.baseClass[$0] == b }
            guard let first = rows.first(where: { ds.status[$0] == .accepted }) ?? rows.first else { return (nil, Array(repeating: nil, count: classes)) }
            let sample = ds.baseIndex[first]
            let targets: [Int?] = (0..<classes).map { k in
                guard k != b else { return nil }
                let toK = rows.filter { ds.targetClass[$0] == k }
                return toK.first { ds.baseIndex[$0] == sample } ?? toK.first { ds.status[$0] == .accepted } ?? toK.first
            }
            return (first, targets)
        }
    }

    static func examples(_ ds: BSSDataset, base: Tensor?) -> [String] {
        let classes = min(ds.meta.teacher.classes, maxClasses)
        let shape = Array(ds.x.shape.dropFirst())
        let chosen = chosenExamples(ds, classes: classes)
        var out: [String] = []
        if ds.meta.teacher.classes > classes {
            out.append("<p class=\"small\">Classes 0–\(classes - 1) of \(ds.meta.teacher.classes) shown.</p>")
        }
        // Every row shown, each once: first one per base class, then the other targets.
        var rows: [Int] = []
        for r in chosen.compactMap(\.base) + chosen.flatMap({ $0.targets.compactMap { $0 } }) where !rows.contains(r) { rows.append(r) }
        guard !rows.isEmpty else { return [Fragment.note("The data set has no pairs.")] }
        let n = ds.x.sampleCount
        func values(_ t: Tensor, _ r: Int) -> ArraySlice<Float> { t.data[(r * n)..<((r + 1) * n)] }
        func delta(_ r: Int) -> [Float]? { base.map { b in (0..<n).map { ds.x.data[r * n + $0] - b.data[r * n + $0] } } }
        guard Images.isImage(shape) else { return out + vectorExamples(ds, rows: Array(rows.prefix(12)), delta: delta) }

        // Shared scales: one linear range for every image shown, one symmetric range for δ.
        var lo = Double.infinity, hi = -Double.infinity, dmax = 0.0
        for r in rows {
            for v in values(ds.x, r) { lo = min(lo, Double(v)); hi = max(hi, Double(v)) }
            if let b = base { for v in values(b, r) { lo = min(lo, Double(v)); hi = max(hi, Double(v)) } }
            if let d = delta(r) { for v in d { dmax = max(dmax, abs(Double(v))) } }
        }
        let size = max(40, min(64, 8 * max(shape[1], shape[2])))
        var table = ["<table class=\"grid\"><tr><th>base class b</th><th>base sample</th>" + (0..<classes).map { "<th>→ \($0)</th>" }.joined() + "</tr>"]
        for (b, c) in chosen.enumerated() {
            var row = "<tr><th>\(b)</th>"
            if let r = c.base, let bx = base {
                row += "<td>" + Images.sample(values(bx, r), shape: shape, lo: lo, hi: hi, size: size, title: "base sample \(ds.baseIndex[r]) (class \(b))") + "row \(ds.baseIndex[r])</td>"
            } else {
                row += "<td>" + (c.base.map { "row \(ds.baseIndex[$0])" } ?? "—") + "</td>"
            }
            for k in 0..<classes {
                guard let r = c.targets[k] else { row += "<td>\(k == b ? "" : "—")</td>"; continue }
                let ok = ds.status[r] == .accepted
                let title = "pair \(r): base \(ds.baseIndex[r]) class \(b) → \(k), \(ds.status[r].meaning(in: ds.mode)), \(ds.steps[r]) steps, ‖δ‖ \(String(format: "%.3g", ds.perturbationNorm[r]))"
                row += "<td class=\"\(ok ? "acc" : "rej")\">" + Images.sample(values(ds.x, r), shape: shape, lo: lo, hi: hi, size: size, title: "BSS: " + title)
                if let d = delta(r) { row += Images.perturbation(d, shape: shape, scale: dmax, size: size, title: "δ: " + title) }
                row += String(format: "%.2f", ds.perturbationNorm[r]) + (ok ? "" : " ✗") + "</td>"
            }
            table.append(row + "</tr>")
        }
        table.append("</table>")
        out.append(table.joined(separator: "\n"))
        out.append("<p class=\"small\">Each target cell: the BSS image (top) and the perturbation δ = x_bss − x_base (bottom), then ‖δ‖₂; green: accepted, red ✗: rejected. Images share one grey/colour scale over [\(String(format: "%.3g", lo)), \(String(format: "%.3g", hi))] (the model's input units); δ" + (shape[0] == 3 ? " (mean over the 3 channels)" : "") + " uses the scale below.</p>")
        if base != nil { out.append(Images.divergingBar(scale: dmax > 0 ? dmax : 1, label: "δ (input units)")) }
        return out
    }

    /// Vector samples: a bar plot of δ per feature (or of x_bss without base samples).
    static func vectorExamples(_ ds: BSSDataset, rows: [Int], delta: (Int) -> [Float]?) -> [String] {
        rows.map { r in
            let v = delta(r) ?? Array(ds.x.data[(r * ds.x.sampleCount)..<((r + 1) * ds.x.sampleCount)])
            let i = v.indices.map(Double.init)
            let p = Panel(title: "pair \(r): class \(ds.baseClass[r]) → \(ds.targetClass[r]), " + (ds.status[r] == .accepted ? "accepted" : "rejected"),
                          x: Axis("feature index", min: -0.5, max: Double(v.count) - 0.5, integer: true), y: Axis(delta(r) == nil ? "x_bss (input units)" : "δ = x_bss − x_base (input units)", includeZero: true),
                          marks: [.bars(nil, color: "#1f77b4", left: i.map { $0 - 0.4 }, right: i.map { $0 + 0.4 }, heights: v.map(Double.init), opacity: 0.8)],
                          width: 360, height: 220)
            return Fragment.figure(p.svg())
        }
    }

    // MARK: - Acceptance and distributions

    static func acceptance(_ ds: BSSDataset) -> String {
        let c = ds.meta.teacher.classes
        var tried = [[Int]](repeating: [Int](repeating: 0, count: c), count: c), acc = tried
        for j in 0..<ds.count {
            tried[ds.baseClass[j]][ds.targetClass[j]] += 1
            if ds.status[j] == .accepted { acc[ds.baseClass[j]][ds.targetClass[j]] += 1 }
        }
        let values: [[Double?]] = (0..<c).map { b in (0..<c).map { k in tried[b][k] > 0 ? Double(acc[b][k]) / Double(tried[b][k]) : nil } }
        let text: [[String?]] = values.map { $0.map { $0.map { String(format: "%.2f", $0) } } }
        let titles = (0..<c).map { b in (0..<c).map { k in "\(b) → \(k): \(acc[b][k]) of \(tried[b][k]) accepted" } }
        return HeatMap(values: values, rowTitle: "base class b", columnTitle: "target class k", colorBarTitle: "accepted / tried",
                       cellText: text, cellTitles: titles).svg()
    }

    static func histograms(_ ds: BSSDataset) -> [String] {
        let accepted = (0..<ds.count).filter { ds.status[$0] == .accepted }
        let steps = Histogram.bins([ds.steps.map(Double.init), accepted.map { Double(ds.steps[$0]) }], integer: true)
        func bars(_ h: (edges: [Double], counts: [[Int]]), _ names: [String], _ colors: [String]) -> [Mark] {
            names.indices.map { i in .bars(names[i], color: colors[i], left: Array(h.edges.dropLast()), right: Array(h.edges.dropFirst()), heights: h.counts[i].map(Double.init), opacity: 0.5) }
        }
        let pairs = Axis("pairs", includeZero: true, integer: true)
        let p1 = Panel(title: "Steps", x: Axis("updates applied (steps)", integer: true), y: pairs,
                       marks: bars(steps, ["all pairs (\(ds.count))", "accepted (\(accepted.count))"], ["#7f7f7f", "#2ca02c"]), width: 380, height: 280)
        let norms = Histogram.bins([accepted.map { Double(ds.perturbationNorm[$0]) }])
        var p2 = Panel(title: "Perturbation norm (accepted)", x: Axis("‖x_bss − x_base‖₂ (input units)", includeZero: true), y: pairs,
                       marks: bars(norms, ["accepted (\(accepted.count))"], ["#1f77b4"]), width: 380, height: 280)
        if accepted.isEmpty { p2.note = "no accepted pair" }
        let probs = Histogram.bins([ds.targetProbability.map(Double.init)])
        let p3 = Panel(title: "Target probability", x: Axis("target_prob p_t(k) / (1 − p_t(b))", includeZero: true), y: pairs,
                       marks: bars(probs, ["all pairs (\(ds.count))"], ["#ff7f0e"]), width: 380, height: 280)
        return [Fragment.figure(p1.svg()), Fragment.figure(p2.svg()), Fragment.figure(p3.svg())]
    }
}

extension BSSDataset {
    /// The search mode of the data set (paper when `meta` names one this version does not know).
    var mode: BSSMode { BSSMode(rawValue: meta.algorithm.mode) ?? .paper }
}

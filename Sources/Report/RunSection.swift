import Distill
import Foundation
import ModelIO
import NN
import Plot
import Tensor

/// The report of a `bss distill` run, from the files it writes next to its output
/// (`RunArtifacts`): the metrics log (`*.metrics.jsonl`, required) and the resolved config
/// (`*.config.yaml`, optional).
///
/// - the settings (and the whole resolved config, folded);
/// - curves over epochs: loss terms, learning rate, α and β, train/val accuracy, BSS accepted;
/// - the final student's confusion matrix and per-class accuracy on the validation data
///   (the student file and `val` from the config are read and evaluated here);
/// - its MagSim/AngSim against the teacher when a similarity report compares the two
///   (`similarities` given with the report's inputs, or `*.similarity.json` in the run folder).
struct RunInput {
    var metrics: URL
    var stem: String { String(metrics.lastPathComponent.dropLast(".metrics.jsonl".count)) }
    var folder: URL { metrics.deletingLastPathComponent() }
    var configURL: URL { folder.appendingPathComponent(stem + ".config.yaml") }
}

enum RunSection {
    static func render(_ run: RunInput, similarities: [SimilarityInput], evaluate: Bool) throws -> [String] {
        let history = try MetricsLog.read(run.metrics)
        var out: [String] = []
        var config: RunConfig?
        if FileManager.default.fileExists(atPath: run.configURL.path) {
            let text = try String(contentsOf: run.configURL, encoding: .utf8)
            config = try RunConfig.parse(yaml: text, source: run.configURL.path)
        }
        out.append(Fragment.meta(settings(run, config, history)))
        if let config { out.append("<details><summary class=\"small\">resolved config (\(Fragment.h(run.configURL.lastPathComponent)))</summary><pre class=\"small\">\(Fragment.h(config.yaml))</pre></details>") }
        else { out.append(Fragment.note("No \(run.configURL.lastPathComponent) next to the metrics log: settings, the student and its evaluation are not shown.")) }
        out.append("<h3>Training curves</h3>")
        out += curves(history, config: config)
        out.append("<h3>Final student</h3>")
        if let config, evaluate {
            do {
                let e = try RunEvaluation.evaluate(config, runFolder: run.folder)
                out += confusion(e)
            } catch let e as RunEvaluation.Skipped {
                out.append(Fragment.note(e.reason))
            }
        } else if config != nil {
            out.append(Fragment.note("Evaluation skipped (--no-eval)."))
        }
        let matching = similarities.filter { s in config.map { s.compares(student: $0.out, runFolder: run.folder) } ?? false }
        if matching.isEmpty {
            out.append("<p class=\"small\">Boundary similarity to the teacher: give a `bss similarity --json` report of teacher (A) and student (B) with the run, or put it in the run folder as *.similarity.json.</p>")
        }
        for s in matching {
            out.append(Fragment.meta([("boundary similarity to the teacher",
                                       "MagSim \(Fragment.num(s.magsim)), AngSim \(Fragment.num(s.angsim)) over \(s.pairsCompared) of \(s.pairsAttempted) pairs (A = \(s.nameA), B = \(s.nameB); \(s.file))")]))
        }
        return out
    }

    static func settings(_ run: RunInput, _ c: RunConfig?, _ h: [EpochMetrics]) -> [(String, String)] {
        var rows: [(String, String)] = [("metrics log", run.metrics.path)]
        if let c {
            rows.append(("method", c.method.rawValue + (c.method == .bss ? " (\(c.bssMode.rawValue) search, \(c.bssPerBatch) base samples per batch)" : "")))
            rows.append(("epochs", "\(h.count) of \(c.epochs) done, batch \(c.batchSize), lr \(RunConfigText.number(c.lr)), T \(RunConfigText.number(c.temperature)), α \(c.alpha.text), β \(c.beta.text), seed \(c.seed)"))
            rows.append(("teacher", c.method.usesTeacher ? (c.teacher ?? "-") + (c.teacherArch.map { " (\($0))" } ?? "") : "none (original)"))
            rows.append(("student", (c.student ?? "-") + (c.studentArch.map { " (\($0))" } ?? "") + " → " + (c.out ?? "-")))
            rows.append(("data", (c.data ?? "-") + (c.trainFraction < 1 ? " (fraction \(c.trainFraction))" : "") + "; validation: " + (c.val ?? "none")))
        } else {
            rows.append(("epochs", "\(h.count)"))
        }
        if let last = h.last {
            rows.append(("final epoch", String(format: "train accuracy %.4f", last.trainAccuracy) + (last.valAccuracy.map { String(format: ", val accuracy %.4f", $0) } ?? "")
                         + String(format: ", %.3g s per epoch on average", h.map(\.seconds).reduce(0, +) / Double(h.count))))
        }
        return rows
    }

    static func curves(_ h: [EpochMetrics], config: RunConfig?) -> [String] {
        guard !h.isEmpty else { return [Fragment.note("The metrics log has no epoch yet.")] }
        let e = h.map { Double($0.epoch) }
        let epoch = Axis("epoch", integer: true)
        let size = (w: 520.0, h: 280.0)
        func line(_ name: String, _ color: String, _ f: (EpochMetrics) -> Double?, dashed: Bool = false) -> Mark? {
            let p = zip(e, h).compactMap { x, m in f(m).map { (x, $0) } }
            guard !p.isEmpty else { return nil }
            return .line(name, color: color, x: p.map(\.0), y: p.map(\.1), dashed: dashed, dots: p.count <= 30)
        }
        let bss = h.contains { $0.bssAttempted > 0 }
        let losses = CurvesPlot.panels(h).loss.marks + [line("val CE", "#d62728", { $0.valLoss }, dashed: true)].compactMap { $0 }
        let lossPanel = Panel(title: "Loss terms", x: epoch, y: Axis("loss (nats per sample)", includeZero: true), marks: losses, width: size.w, height: size.h)
        let lrs = h.map(\.lr).filter { $0 > 0 }
        let logLR = (lrs.max() ?? 1) / (lrs.min() ?? 1) >= 10
        let lrPanel = Panel(title: "Learning rate", x: epoch, y: Axis("learning rate" + (logLR ? " (log scale)" : ""), includeZero: !logLR, log: logLR),
                            marks: [line("lr", "#222222", { $0.lr })].compactMap { $0 }, width: size.w, height: size.h)
        var weights = [line("α (KD on clean samples)", "#ff7f0e", { $0.alpha })]
        if config?.method == .bss || bss { weights.append(line("β (KD on BSS)", "#2ca02c", { $0.beta })) }
        let weightPanel = Panel(title: "Loss weights", x: epoch, y: Axis("weight", includeZero: true), marks: weights.compactMap { $0 }, width: size.w, height: size.h)
        var accuracy = CurvesPlot.panels(h).accuracy
        accuracy.title = "Accuracy"; accuracy.width = size.w; accuracy.height = size.h
        var out = [lossPanel, accuracy, lrPanel, weightPanel].map { Fragment.figure($0.svg()) }
        if bss {
            let p = Panel(title: "Boundary supporting samples per epoch", x: epoch, y: Axis("samples per epoch", includeZero: true, integer: true),
                          marks: [line("attempted", "#7f7f7f", { Double($0.bssAttempted) }), line("accepted", "#2ca02c", { Double($0.bssAccepted) }),
                                  line("used in the loss", "#1f77b4", { Double($0.bssUsed) }, dashed: true)].compactMap { $0 },
                          width: size.w, height: size.h)
            out.append(Fragment.figure(p.svg(), caption: "Accepted: searches that reached the target class; used: accepted samples in batches with β > 0."))
        }
        return out
    }

    static func confusion(_ e: RunEvaluation) -> [String] {
        let c = e.confusion.count
        let totals = e.confusion.map { $0.reduce(0, +) }
        let values: [[Double?]] = (0..<c).map { t in (0..<c).map { p in totals[t] > 0 ? Double(e.confusion[t][p]) / Double(totals[t]) : nil } }
        let text: [[String?]] = e.confusion.map { $0.map { $0 > 0 ? String($0) : nil } }
        let titles = (0..<c).map { t in (0..<c).map { p in "true \(t), predicted \(p): \(e.confusion[t][p]) of \(totals[t])" } }
        let map = HeatMap(values: values, rowTitle: "true class", columnTitle: "predicted class", colorBarTitle: "fraction of the true class",
                          cellText: text, cellTitles: titles)
        let correct = (0..<c).map { e.confusion[$0][$0] }
        let overall = Double(correct.reduce(0, +)) / Double(max(1, totals.reduce(0, +)))
        let rows = (0..<c).map { k in [String(k), String(totals[k]), String(correct[k]), Fragment.num(totals[k] > 0 ? Double(correct[k]) / Double(totals[k]) : nil)] }
        let worst = (0..<c).filter { totals[$0] > 0 }.min { Double(correct[$0]) / Double(totals[$0]) < Double(correct[$1]) / Double(totals[$1]) }
        return [
            "<p>\(Fragment.h(e.student)) on \(Fragment.h(e.data)) (\(totals.reduce(0, +)) samples): accuracy <b>\(Fragment.num(overall))</b>" + (worst.map { "; lowest per-class accuracy: class \($0)" } ?? "") + ".</p>",
            Fragment.figure(map.svg(), caption: "Confusion matrix: rows are the true classes, colour the fraction of each row, numbers the counts."),
            "<figure>" + Fragment.table(header: ["class", "samples", "correct", "accuracy"], rows: rows) + "<figcaption>Per-class accuracy of the final student.</figcaption></figure>",
        ]
    }
}

/// Numbers as the run config writes them.
enum RunConfigText {
    static func number(_ v: Float) -> String { v == v.rounded() && abs(v) < 1e7 ? String(Int(v)) : "\(v)" }
}

/// The final student of a run evaluated on the run's validation data.
struct RunEvaluation {
    struct Skipped: Error { var reason: String }

    var student: String
    var data: String
    /// `confusion[true][predicted]`.
    var confusion: [[Int]]

    /// A path of the config as given (relative to the directory the run was started in): as
    /// is, or relative to the run folder or its parent.
    static func locate(_ p: String?, runFolder: URL) -> String? {
        guard let p else { return nil }
        let candidates = p.hasPrefix("/") ? [p] : [p, runFolder.appendingPathComponent(p).path,
                                                    runFolder.deletingLastPathComponent().appendingPathComponent(p).path,
                                                    runFolder.appendingPathComponent(URL(fileURLWithPath: p).lastPathComponent).path]
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    static func evaluate(_ c: RunConfig, runFolder: URL) throws -> RunEvaluation {
        guard let outName = c.out, let out = locate(outName, runFolder: runFolder) else {
            throw Skipped(reason: "The trained student \(c.out ?? "(none)") was not found: the run has not finished, or the file moved. Confusion matrix not shown.")
        }
        guard let valName = c.val else {
            throw Skipped(reason: "The run has no validation data (config key val): confusion matrix not shown.")
        }
        guard let val = locate(valName, runFolder: runFolder) else {
            throw Skipped(reason: "The validation data \(valName) was not found: confusion matrix not shown.")
        }
        do {
            // The student file is in its own format; a fresh-architecture student needs its architecture back.
            let studentIsFile = locate(c.student, runFolder: runFolder).map { !$0.lowercased().hasSuffix(".json") } ?? false
            let arch = studentIsFile ? c.studentArch.map { locate($0, runFolder: runFolder) ?? $0 } : c.student.map { locate($0, runFolder: runFolder) ?? $0 }
            let student = try ModelLoader.load(out, arch: arch)
            var layout = c.dataLayout.flatMap(DataLayout.init(rawValue:))
            if layout == nil, c.method.usesTeacher, let t = locate(c.teacher, runFolder: runFolder) {
                layout = try ModelLoader.load(t, arch: c.teacherArch.map { locate($0, runFolder: runFolder) ?? $0 }).inputLayout
            }
            var pre = try c.normalize.map { try DataLoader.Preprocessing.normalization($0) } ?? .init()
            if let s = c.scale { pre.scale = s }
            let reading = c.readOptions
            let data = try DataLoader.load(val, stored: layout ?? student.inputLayout, preprocessing: pre, options: reading)
                .conformed(to: student.graph.inputShape, layout: student.inputLayout)
            try data.validate(inputShape: student.graph.inputShape, classes: student.classes)
            guard let y = data.y else { throw Skipped(reason: "\(val) has no labels: confusion matrix not shown.") }
            let top = argmax(rows: student.graph.predict(data.x, batchSize: c.evalBatchSize))
            var m = [[Int]](repeating: [Int](repeating: 0, count: student.classes), count: student.classes)
            for (t, p) in zip(y, top) { m[t][p] += 1 }
            return RunEvaluation(student: out, data: val, confusion: m)
        } catch let e as Skipped {
            throw e
        } catch {
            throw Skipped(reason: "Cannot evaluate the student \(out) on \(val): \(error)")
        }
    }
}

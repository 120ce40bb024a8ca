import Boundary
import Distill
import Foundation
import ModelIO

/// `bss report`: one self-contained HTML page (`HTMLPage`) for any mix of inputs, each
/// recognised by what it is (docs/report.md):
///
/// - a BSS (or other attack) data set: `.h5`/`.hdf5`/`.npz` that `BSSDataset.read` accepts;
/// - a distillation run: its `*.metrics.jsonl`, or a folder holding one or more of them;
/// - a similarity report: `.json` with `format: bss-similarity-report`;
/// - an experiment: a folder with `results.json`, or that file (`ExperimentResults`).
///
/// Every input is read before anything is written; a bad input is a one-line error naming it.
public struct ReportBuilder {
    public enum Input {
        case dataset(BSSDataset, file: String)
        case run(URL)
        case similarity(file: String, object: [String: Any])
        case experiment(URL)
    }

    public var inputs: [Input] = []
    /// Evaluate each run's final student on its validation data (confusion matrix).
    public var evaluateRuns = true

    public init() {}

    /// Recognises and reads `path`; throws a one-line error when it is none of the kinds.
    public mutating func add(_ path: String) throws {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelIOError(.notFound, file: path, "no such file or folder")
        }
        if isDirectory.boolValue {
            let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
            var found = false
            if names.contains("results.json") { inputs.append(.experiment(url.appendingPathComponent("results.json"))); found = true }
            for n in names where n.hasSuffix(".metrics.jsonl") && !n.hasPrefix(".") {
                inputs.append(.run(url.appendingPathComponent(n))); found = true
            }
            for n in names where n.hasSuffix(".similarity.json") && !n.hasPrefix(".") {
                try add(url.appendingPathComponent(n).path); found = true
            }
            guard found else {
                throw ModelIOError(.notFound, file: path, "not a run or experiment folder: no *.metrics.jsonl, results.json or *.similarity.json in it")
            }
            return
        }
        let name = url.lastPathComponent.lowercased()
        switch url.pathExtension.lowercased() {
        case "h5", "hdf5", "npz":
            inputs.append(.dataset(try BSSDataset.read(url), file: path))
        case "jsonl" where name.hasSuffix(".metrics.jsonl"):
            inputs.append(.run(url))
        case "json":
            let root = try Self.readJSON(url)
            if let o = root as? [String: Any], SimilarityInput.isSimilarity(o) {
                inputs.append(.similarity(file: path, object: o))
            } else if name == "results.json" || (root as? [String: Any])?["format"] as? String == "bss-experiment-results" {
                inputs.append(.experiment(url))
            } else {
                throw ModelIOError(.mismatch, file: path, "not a similarity report (format bss-similarity-report) or experiment results (results.json)")
            }
        default:
            throw ModelIOError(.unsupported, file: path, "cannot report on this file: expected a BSS data set (.h5/.npz), a run's .metrics.jsonl or folder, a similarity .json or an experiment folder with results.json")
        }
    }

    /// The page.
    public func html(generatedBy: String) throws -> String {
        let similarities = try inputs.compactMap { i -> SimilarityInput? in
            if case let .similarity(file, object) = i { return try SimilarityInput(file: file, object: object) }
            return nil
        }
        var page = HTMLPage(title: "bss report")
        var n = 0, s = 0
        for input in inputs {
            n += 1
            switch input {
            case let .dataset(ds, file):
                page.section("s\(n)", "BSS data set: \(URL(fileURLWithPath: file).lastPathComponent)", kind: "dataset", DatasetSection.render(ds, file: file))
            case let .run(url):
                let run = RunInput(metrics: url)
                // Similarity reports in the run folder count as given.
                var sims = similarities
                for f in (try? FileManager.default.contentsOfDirectory(atPath: run.folder.path)) ?? [] where f.hasSuffix(".similarity.json") {
                    let p = run.folder.appendingPathComponent(f).path
                    if !sims.contains(where: { $0.file == p }), let o = try? Self.readJSON(URL(fileURLWithPath: p)) as? [String: Any],
                       SimilarityInput.isSimilarity(o), let si = try? SimilarityInput(file: p, object: o) { sims.append(si) }
                }
                page.section("s\(n)", "Distillation run: \(run.stem)", kind: "run", try RunSection.render(run, similarities: sims, evaluate: evaluateRuns))
            case .similarity:
                let si = similarities[s]; s += 1
                page.section("s\(n)", "Boundary similarity: \(URL(fileURLWithPath: si.file).lastPathComponent)", kind: "similarity", SimilaritySection.render(si))
            case let .experiment(url):
                let e = try ExperimentResults.read(url)
                page.section("s\(n)", "Experiment: " + (e.title ?? url.deletingLastPathComponent().lastPathComponent), kind: "experiment", ExperimentSection.render(e))
            }
        }
        return page.html(generatedBy: generatedBy)
    }

    /// Writes the page to `out` atomically.
    public func write(to out: String, generatedBy: String) throws {
        let text = try html(generatedBy: generatedBy)
        try AtomicFile.write(to: URL(fileURLWithPath: out)) { temporary in
            do { try Data(text.utf8).write(to: temporary) } catch {
                throw ModelIOError(.io, file: out, "cannot write: \(error.localizedDescription)")
            }
        }
    }

    /// A JSON file checked strictly (`JSONInput`) and parsed.
    static func readJSON(_ url: URL) throws -> Any {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModelIOError(.notFound, file: url.path, "cannot read")
        }
        try JSONInput.validate(data, file: url.path)
        do { return try JSONSerialization.jsonObject(with: data) } catch {
            throw ModelIOError(.malformed, file: url.path, "not valid JSON")
        }
    }
}

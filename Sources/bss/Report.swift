import ArgumentParser
import Foundation
import ModelIO
import Report

/// `bss report INPUT… --out report.html`: one self-contained HTML page of BSS data sets,
/// distillation runs, similarity reports and experiments (docs/report.md).
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML report of BSS data sets, distillation runs, similarity reports and experiments.",
        discussion: """
            Each INPUT is recognised by what it is: a BSS data set (.h5/.npz from bss generate), a distillation \
            run (its .metrics.jsonl, or the folder holding it and its .config.yaml), a similarity report \
            (bss similarity --json output) or an experiment folder with results.json (layout in docs/report.md). \
            The page has no external resources: plots are inline SVG, images inline PNG. A run's final student \
            is evaluated on the run's validation data for the confusion matrix (--no-eval skips it).

            Example:
              bss report out/bss.h5 out/run --out report.html
            """)

    @Argument(help: "Data sets, run folders or metrics logs, similarity .json files, experiment folders.")
    var inputs: [String] = []

    @Option(help: ArgumentHelp("The HTML file to write.", valueName: "report.html")) var out: String

    @Flag(help: "Do not evaluate runs' final students (no confusion matrix).") var noEval = false

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give at least one input to report on") }
        guard out.lowercased().hasSuffix(".html") || out.lowercased().hasSuffix(".htm") else {
            throw ValidationError("--out must name an .html file, found '\(out)'")
        }
    }

    func run() throws {
        try OutputPath.checkNotAnInput(out, inputs: inputs)
        var builder = ReportBuilder()
        builder.evaluateRuns = !noEval
        for i in inputs { try builder.add(i) }
        try builder.write(to: out, generatedBy: "bss \(BSSCommand.version) report of " + inputs.joined(separator: ", "))
        say("wrote \(out)")
    }
}

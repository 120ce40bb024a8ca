import ArgumentParser
import Distill
import Foundation

/// `bss experiment CONFIG.yaml`: a grid of methods × attacks × fractions × seeds, each cell a
/// normal distillation run, summarised in results.md/.csv/.json (docs/algorithm.md, "Experiments").
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run a grid of distillations (methods × attacks × data fractions × seeds) and tabulate accuracy, MagSim and AngSim.",
        discussion: """
            CONFIG.yaml names one teacher, one student architecture, training and test data, and the grid: \
            methods (original, hinton, bss, fitnet, at, fsp, bss+fsp), attacks for the BSS slot (paper, official, \
            fgsm, pgd, deepfool, noise), fractions and seeds; 'distill' holds run-config keys for every cell \
            (epochs, lr, attack_eps, ...). Unknown keys are errors. Every cell is a run folder OUT/runs/<cell>/ \
            (student, config, metrics, checkpoint) with its cell.json; a finished cell is never recomputed, an \
            interrupted one continues from its checkpoint, so running the command again resumes the grid. \
            After every cell OUT/results.md (mean ± sd over seeds, best per column in bold), results.csv and \
            results.json (read by bss report) are rewritten.

            Example:
              bss experiment experiments/paper-digits.yaml
            """)

    @Argument(help: "The experiment config (YAML).") var config: String
    @Flag(help: "Print the cells and exit.") var dryRun = false
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        runtime.apply()
        var c = try ExperimentConfig.read(config)
        if let t = runtime.threads { c.base.threads = t }
        let experiment = Experiment(config: c)
        let total = experiment.cells.count
        if dryRun {
            for (i, cell) in experiment.cells.enumerated() {
                say("\(i + 1)/\(total) \(cell.folder)" + (experiment.finished(cell) != nil ? " (done)" : ""))
            }
            return
        }
        note("experiment: \(total) cells in \(c.out)")
        var ranHere = 0, done = 0
        let start = Date()
        experiment.onStart = { i, cell in note("cell \(i + 1)/\(total): \(cell.label), fraction \(cell.fraction), seed \(cell.seed)") }
        experiment.onEpoch = { m in
            note(String(format: "  epoch %d: loss %.4f, train acc %.4f", m.epoch, m.loss, m.trainAccuracy)
                 + (m.valAccuracy.map { String(format: ", test acc %.4f", $0) } ?? ""))
        }
        experiment.onCell = { _, cell, r, reused in
            done += 1
            if reused { return }
            ranHere += 1
            let left = Double(total - done) * Date().timeIntervalSince(start) / Double(ranHere)
            note(String(format: "done %d/%d cells: %@ accuracy %.4f", done, total, cell.folder, r.accuracy)
                 + (r.magsim.map { String(format: ", MagSim %.3f", $0) } ?? "") + (r.angsim.map { String(format: ", AngSim %.3f", $0) } ?? "")
                 + String(format: ", %.1f s; ETA %@", r.seconds, Self.clock(left)))
        }
        try experiment.run(createdBy: "bss \(BSSCommand.version)")
        note("wrote \(c.out)/results.md, results.csv, results.json (\(total - ranHere) of \(total) cells were already done)")
    }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }
}

import Boundary
import Foundation
import ModelIO
import NN
import Tensor

/// One cell of an experiment grid: a method (with its attack when it has a BSS slot), a
/// training-data fraction and a seed.
public struct ExperimentCell: Equatable, Sendable {
    public var method: DistillMethod
    /// nil for methods without a BSS slot.
    public var attack: AttackKind?
    public var fraction: Double
    public var seed: UInt64

    /// `method` or `method (attack)`, as the tables label rows.
    public var label: String { attack.map { "\(method.rawValue) (\($0.rawValue))" } ?? method.rawValue }
    /// The run folder's name: `bss+fsp-pgd_f0.5_s3`.
    public var folder: String {
        method.rawValue + (attack.map { "-\($0.rawValue)" } ?? "") + "_f\(fraction)_s\(seed)"
    }
}

/// What a finished cell measured (its `cell.json`).
public struct CellResult: Codable, Equatable, Sendable {
    public var method: String
    public var attack: String?
    public var fraction: Double
    public var seed: UInt64
    /// Test accuracy of the student.
    public var accuracy: Double
    /// Boundary similarity to the teacher (nil when no pair was accepted by both, or not measured).
    public var magsim: Double?
    public var angsim: Double?
    public var pairsCompared: Int
    public var pairsAttempted: Int
    /// Wall time of the cell, in seconds.
    public var seconds: Double
    /// SHA-256 of the cell's resolved run config (YAML): a finished cell counts only for the
    /// config that made it.
    public var configSHA256: String?

    enum CodingKeys: String, CodingKey {
        case method, attack, fraction, seed, accuracy, magsim, angsim, seconds, configSHA256 = "config_sha256"
        case pairsCompared = "pairs_compared", pairsAttempted = "pairs_attempted"
    }
}

/// Runs an experiment grid (docs/algorithm.md, "Experiments"): every cell is a normal `bss
/// distill` run in `out/runs/<cell>/` (config, metrics, checkpoint, student) plus its `cell.json`,
/// written last and atomically. A cell with a `cell.json` is never recomputed; a cell that was
/// interrupted continues from its checkpoint (bit-exact, as `bss distill --resume`). After every
/// cell the results (`ExperimentResultsWriter`) are rewritten.
public final class Experiment {
    public let config: ExperimentConfig
    public let cells: [ExperimentCell]
    /// Called before a cell starts (index, cell) and after it ends (with its result and whether
    /// it was already done).
    public var onStart: ((Int, ExperimentCell) -> Void)?
    public var onCell: ((Int, ExperimentCell, CellResult, _ reused: Bool) -> Void)?
    /// Called with each epoch's metrics of the running cell.
    public var onEpoch: ((EpochMetrics) -> Void)?
    var teacher: Model?

    public init(config: ExperimentConfig) {
        self.config = config
        var cells: [ExperimentCell] = []
        for m in config.methods {
            let attacks: [AttackKind?] = !m.usesBSS ? [nil]
                : (config.attackMethods.map { $0.contains(m) } ?? true) ? config.attacks : [config.attacks[0]]
            for a in attacks { for f in config.fractions { for s in config.seeds {
                cells.append(ExperimentCell(method: m, attack: a, fraction: f, seed: s))
            } } }
        }
        self.cells = cells
    }

    public var outURL: URL { URL(fileURLWithPath: config.out) }
    func folder(_ c: ExperimentCell) -> URL { outURL.appendingPathComponent("runs").appendingPathComponent(c.folder) }

    /// The run config of a cell.
    public func runConfig(_ c: ExperimentCell) -> RunConfig {
        var r = config.perMethod[c.method] ?? config.base
        r.teacher = config.teacher; r.teacherArch = config.teacherArch
        r.student = config.student; r.studentArch = config.studentArch
        r.data = config.data; r.val = config.test
        r.out = folder(c).appendingPathComponent("student.npz").path
        r.method = c.method; r.seed = c.seed; r.trainFraction = c.fraction
        if let a = c.attack {
            r.attack = a
            if let m = a.bssMode { r.bssMode = m }
        }
        if r.threads == nil { r.threads = Parallel.threads }
        return r
    }

    /// The result of a finished cell, or nil.
    public func finished(_ c: ExperimentCell) -> CellResult? {
        let url = folder(c).appendingPathComponent("cell.json")
        guard let data = try? Data(contentsOf: url), let r = try? JSONDecoder().decode(CellResult.self, from: data),
              r.method == c.method.rawValue, r.attack == c.attack?.rawValue, r.fraction == c.fraction, r.seed == c.seed else { return nil }
        return r
    }

    /// SHA-256 of a cell's resolved run config.
    func configHash(_ c: ExperimentCell) -> String { SHA256.hex(Data(runConfig(c).yaml.utf8)) }

    /// Refuses cells (finished or interrupted) made with another config: their results would
    /// mix two experiments.
    func checkCellsMatchConfig() throws {
        for c in cells {
            let dir = folder(c)
            if let r = finished(c), let h = r.configSHA256, h != configHash(c) {
                throw ModelIOError(.mismatch, file: dir.appendingPathComponent("cell.json").path,
                                   "this cell was run with another configuration (\(c.folder)); delete \(dir.path) (or the whole \(config.out)) or give the experiment another 'out'")
            }
        }
    }

    /// Runs every cell not yet finished, writing the results after each. Returns all results.
    @discardableResult
    public func run(createdBy: String) throws -> [CellResult] {
        try FileManager.default.createDirectory(at: outURL, withIntermediateDirectories: true)
        try checkCellsMatchConfig()
        var results: [CellResult?] = cells.map { finished($0) }
        for (i, c) in cells.enumerated() {
            if let r = results[i] { onCell?(i, c, r, true); continue }
            onStart?(i, c)
            let r = try runCell(c, createdBy: createdBy)
            results[i] = r
            try ExperimentResultsWriter(config: config, results: results.compactMap { $0 }).write(to: outURL)
            onCell?(i, c, r, false)
        }
        let all = results.compactMap { $0 }
        try ExperimentResultsWriter(config: config, results: all).write(to: outURL)
        return all
    }

    func runCell(_ c: ExperimentCell, createdBy: String) throws -> CellResult {
        let start = Date()
        let dir = folder(c)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = runConfig(c)
        let run: DistillRun
        if (try? Checkpoint.locate(dir.path)) != nil {
            run = try DistillRun.resume(from: dir.path, threads: config.threads).run
        } else {
            run = try DistillRun.prepare(config)
            try run.writeConfig()
        }
        try run.distiller.run(onEpoch: { m in
            try run.endEpoch(createdBy: createdBy)
            self.onEpoch?(m)
        })
        try run.export()
        let d = run.distiller
        guard let val = d.val, let labels = val.y, let accuracy = try d.evaluate()?.accuracy else {
            throw ModelIOError(.mismatch, file: self.config.test, "the test data gave no accuracy (no labels or no samples)")
        }
        var result = CellResult(method: c.method.rawValue, attack: c.attack?.rawValue, fraction: c.fraction, seed: c.seed,
                                accuracy: accuracy, magsim: nil, angsim: nil, pairsCompared: 0, pairsAttempted: 0, seconds: 0,
                                configSHA256: configHash(c))
        if self.config.similarityLimit > 0 {
            if teacher == nil {
                teacher = try ModelLoader.load(self.config.teacher, arch: self.config.teacherArch, archFlag: "teacher_arch")
            }
            let s = try similarity(teacher: teacher!.graph, student: d.student.graph, x: try val.whole?.x ?? val.gather(Array(0..<val.count)), labels: labels,
                               bss: config.bssParameters, seed: c.seed)
            result.magsim = s.magsim; result.angsim = s.angsim
            result.pairsCompared = s.pairsCompared; result.pairsAttempted = s.pairsAttempted
        }
        result.seconds = Date().timeIntervalSince(start)
        let data = try JSONEncoder().encode(result)
        try AtomicFile.write(to: dir.appendingPathComponent("cell.json")) { try data.write(to: $0) }
        return result
    }

    /// MagSim/AngSim of the student against the teacher on the first `similarityLimit` test
    /// samples both classify correctly, every target class (docs/algorithm.md, "Boundary similarity").
    func similarity(teacher: Graph, student: Graph, x: Tensor, labels: [Int], bss: BSSParameters, seed: UInt64) throws -> SimilaritySummary {
        var p = bss
        if p.mode != .paper { p = .paper }   // the paper's measure: accepted pairs
        guard teacher.inputShape == student.inputShape else {
            throw ModelIOError(.mismatch, file: config.student, location: "similarity_limit",
                               "MagSim/AngSim need a student that reads the teacher's input shape \(teacher.inputShape), found \(student.inputShape); set similarity_limit: 0")
        }
        let sim = BoundarySimilarity(a: teacher, b: student, parameters: p)
        let bases = sim.baseSamples(xA: x, xB: x, labels: labels, limit: config.similarityLimit)
        var g = SeededGenerator(seed: seed)
        let pairs = PairSelection.pairs(rows: bases.rows, baseClass: bases.rows.map { labels[$0] }, logits: bases.logitsA,
                                        rule: .all, generator: &g)
        return sim.compare(xA: x, xB: x, pairs: pairs).summary()
    }
}

import ArgumentParser
import Boundary
import Cluster
import Foundation
import ModelIO
import NN
import Tensor

/// `bss generate --teacher MODEL [--teacher-arch SPEC] --data DATA --out OUT.h5|OUT.npz`: boundary
/// supporting samples of a teacher for base samples of a data set, written as a self-describing
/// data set (Schemas/bss-dataset.schema.json).
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find boundary supporting samples (BSS) of a teacher and write them as an .h5 or .npz data set.",
        discussion: """
        For each base sample x (by default: the samples of DATA the teacher classifies correctly) \
        and target class k, steps x <- x - eta*(L + eps)*g/||g||^2 with L = f_b - f_k on the \
        teacher's logits (inference mode) until the teacher's top class is k with L < 0 \
        (accepted), another class (rejected) or the step limit is reached (rejected). \
        --bss-mode official runs the authors' code instead (eta 0.3, ||g||, clamp to [-2.5, 2.5], \
        every pair kept). The data set holds one row per pair: base_index, base_class, \
        target_class, status, steps, x_bss (in the teacher's own input layout), teacher_logits, \
        target_prob, perturbation_norm, and a JSON 'meta' with the full provenance.

        Load it in Python and feed x_bss back to the original teacher:
          import json, numpy as np, torch       # .h5: f = h5py.File(p); f.attrs["meta"]
          d = np.load("bss.npz"); meta = json.loads(str(d["meta"]))
          logits = teacher(torch.from_numpy(d["x_bss"]))  # Keras: model(d["x_bss"])

        Example:
          bss generate --teacher teacher.keras --data test.npz --scale 1/255 --limit 100 --out out/bss.h5
        """)

    @Option(help: "Teacher model: .npz, .safetensors or .h5 state dict (with --teacher-arch), Keras .h5 or .keras, or ONNX .onnx.")
    var teacher: String

    @Option(help: "Architecture of a weight-only teacher file: a preset or a JSON spec path.")
    var teacherArch: String?

    @Option(name: .customLong("arch"), help: .hidden) var oldArch: String?

    @Option(name: .customLong("input-shape"), help: ArgumentHelp("Per-sample input shape of an ONNX teacher whose input dimensions are symbolic.", valueName: "C,H,W"),
            transform: parseInputShape)
    var inputShape: [Int]?

    @OptionGroup var data: DataOptions

    @Option(help: "Output data set: .h5 (HDF5) or .npz (missing folders are created).")
    var out: String

    @OptionGroup var search: BSSOptions
    @OptionGroup var attackOptions: AttackOptions

    @Option(help: "Base samples: correct (rows the teacher classifies as labelled; the default) or all.")
    var base: BaseFilter = .correct

    @OptionGroup var pairs: PairOptions
    @OptionGroup var seedOption: SeedOption
    @OptionGroup var batch: BatchSizeOption

    @Flag(help: "Write accepted pairs only.")
    var acceptedOnly = false

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var safety: InputSafetyOptions

    var arch: String? { teacherArch ?? oldArch }
    var seed: UInt64 { seedOption.seed ?? 0 }
    var batchSize: Int { batch.value() }
    var perSample: Int { pairs.perSample ?? 1 }
    var limit: Int? { pairs.limit }

    func validate() throws {
        if oldArch != nil {
            if teacherArch != nil { throw ValidationError("give --teacher-arch only (--arch is its old spelling)") }
            deprecationNote(old: "--arch", new: "--teacher-arch")
        }
        guard ["h5", "hdf5", "npz"].contains(URL(fileURLWithPath: out).pathExtension.lowercased()) else {
            throw ValidationError("--out must end in .h5 or .npz, found '\(out)'")
        }
        _ = try pairs.choice(default: .sampled)
        _ = try attackOptions.resolve(search: search)
    }

    var targetRule: TargetRule {
        ((try? pairs.choice(default: .sampled)) ?? .sampled).rule(perSample: perSample)
    }

    func run() throws {
        runtime.apply()
        safety.apply()
        // Under mpirun the scan and the search are split over the ranks; rank 0 writes (docs/mpi.md).
        let world = try MPISupport.start(runtime)
        let (attack, attackParameters, parameters) = try attackOptions.resolve(search: search)
        if attack == .deepfool && perSample != 1 || attack == .deepfool && targetRule == .all {
            throw UserError("--attack deepfool is untargeted: it makes one sample per base sample (remove --targets all / --per-sample)")
        }
        if world != nil && !attack.isBSS {
            throw UserError("--attack \(attack.rawValue) runs in one process; start it without mpirun")
        }
        try OutputPath.checkNotAnInput(out, inputs: [teacher, arch, data.data])
        try OutputPath.checkCanCreate(out)
        let model = try ModelLoader.load(teacher, arch: arch, archFlag: "--teacher-arch", inputShape: inputShape)
        let filter = base
        if case .sampled(let k) = targetRule, k >= model.classes {
            throw UserError("--per-sample \(k) needs at least \(k + 1) classes; the teacher has \(model.classes)")
        }
        let teacherHash = try SHA256.path(teacher), dataHash = try SHA256.path(data.data)

        // Base samples: the teacher's predictions on the data, a chunk at a time; only the
        // chosen base samples are kept (`scan`, docs/design.md "Bounded memory for large data sets").
        let scan = world == nil ? try streamedScan(model, filter: filter)
                                : try wholeScan(model, filter: filter, world: world!)
        let bases = scan.bases
        guard !bases.rows.isEmpty else {
            throw UserError("no base samples: the teacher classifies none of the \(scan.count) samples of \(data.data) as labelled (try --base all)")
        }
        var generator = SeededGenerator(seed: seed)
        // Pairs index `scan.source`, whose row i is data row `scan.sourceRows[i]` (the draws do not
        // depend on the row numbers); the data rows go into the file.
        let compactRows = bases.rows.map { scan.sourceRow[$0]! }
        var pairs = PairSelection.pairs(rows: compactRows, baseClass: bases.baseClass, logits: bases.logits, rule: targetRule,
                                        generator: &generator)

        // The search.
        let engine = BSSGenerator(teacher: model.graph, parameters: parameters)
        engine.batchSize = batchSize
        let attackEngine = AdversarialAttack(teacher: model.graph, kind: attack, parameters: attackParameters, bss: parameters)
        attackEngine.batchSize = batchSize
        let progress = Progress(total: pairs.count, label: attack.isBSS ? "generate" : attack.rawValue, unit: "pairs")
        var acceptedSoFar = 0
        progress.extra = { "\(acceptedSoFar) \(attack == .paper ? "accepted" : "crossed into k")" }
        engine.progress = { finished, accepted in
            acceptedSoFar = accepted
            // Nothing finishes in the first step or two; a "0 done, ETA 0:00" line would mislead.
            if finished > 0 { progress.update(finished) }
        }
        if !attack.isBSS { attackEngine.progress = engine.progress }
        let start = Date()
        let result: BSSBatchResult
        if attack.isBSS {
            result = world.map { MPISupport.search($0, engine: engine, source: scan.source, pairs: pairs) }
                ?? engine.run(source: scan.source, rows: pairs.baseIndex, base: pairs.baseClass, target: pairs.targetClass)
        } else {
            let found = attackEngine.run(source: scan.source, rows: pairs.baseIndex, base: pairs.baseClass, target: pairs.targetClass,
                                         noiseSeed: seed)
            result = found.result
            if attack == .deepfool { pairs.retarget(found.target, probabilities: softmax(bases.logits), rows: compactRows) }
        }
        let seconds = Date().timeIntervalSince(start)
        progress.finish()

        if let world, !world.isRoot { return }
        // The data set.
        var meta = BSSMetadata(
            tool: "bss \(BSSCommand.version)", createdBy: "bss generate",
            teacher: .init(file: teacher, sha256: teacherHash, architecture: model.architectureName, format: model.format.rawValue,
                           inputShape: model.graph.inputShape, classes: model.classes),
            data: .init(file: data.data, sha256: dataHash, samples: scan.count, storedLayout: (data.input.dataLayout ?? model.inputLayout).rawValue, scale: data.scale,
                        normalize: data.normalize),
            inputLayout: model.inputLayout.rawValue, inputShape: model.graph.inputShape, algorithm: .init(parameters),
            selection: .init(base: filter.rawValue, limit: limit, targets: targetRule.name, perSample: perSample,
                             acceptedOnly: acceptedOnly),
            seed: seed, counts: .init(baseSamples: pairs.baseSamples, result: result), mpiWorldSize: world?.size ?? 1)
        meta.setAttack(attack, attackParameters)
        var dataset = BSSDataset(pairs: pairs, result: result, source: scan.source, meta: meta)
        dataset.baseIndex = dataset.baseIndex.map { scan.sourceRows[$0] }
        var report = BSSReport(result: result, baseClass: pairs.baseClass, targetClass: pairs.targetClass,
                               norms: dataset.perturbationNorm, classes: model.classes, parameters: parameters, seconds: seconds)
        // Other attacks' status codes mean what official mode's do (crossed into k / elsewhere / not).
        if !attack.isBSS { report.mode = .official }
        if acceptedOnly { dataset = dataset.rows(result.status.indices.filter { result.status[$0] == .accepted }) }
        try dataset.write(to: URL(fileURLWithPath: out))

        if json {
            var object = report.jsonObject
            object["out"] = out
            object["attack"] = attack.isBSS ? attack.rawValue : attackParameters.jsonObject(for: attack)
            object["pairs_written"] = dataset.count
            object["base_samples"] = pairs.baseSamples
            say(jsonString(object))
        } else {
            say("teacher: \(teacher) (\(model.architectureName))")
            say("data:    \(data.data): \(pairs.baseSamples) base samples of \(scan.count), \(pairs.count) pairs (targets: \(targetRule.name))")
            if !attack.isBSS { say("attack:  " + attackSummary(attack, attackParameters)) }
            say("search:  \(parameters.mode.rawValue) mode, eta \(parameters.eta), eps \(parameters.eps), \(parameters.maxSteps) steps, "
                + "\(parameters.stepNorm.rawValue)" + (parameters.clip.map { ", clip [\($0.lowerBound), \($0.upperBound)]" } ?? ""))
            for line in report.lines { say(line) }
        }
        note("wrote \(out): \(dataset.count) pairs\(acceptedOnly ? " (accepted only)" : "")")
    }
}

/// The base samples a scan chose, their data rows and samples, and the set's size.
struct BaseScan {
    var bases: (rows: [Int], baseClass: [Int], logits: Tensor)
    /// The chosen base samples `[B] + inputShape` (engine layout), in `sourceRows` order.
    var source: Tensor
    var sourceRows: [Int]
    /// Data row -> row of `source`.
    var sourceRow: [Int: Int]
    /// Samples in the set (after --skip-bad-images).
    var count: Int
}

extension Generate {
    /// The scan a chunk at a time (`DataStream`): chunks are whole numbers of batches, so the
    /// teacher sees the batches (and gives the bits) of one pass over the whole set. With
    /// `--limit` it stops once enough base samples are found (unless --skip-bad-images, whose
    /// count needs every image).
    func streamedScan(_ model: Model, filter: BaseFilter) throws -> BaseScan {
        let chunk = max(1, DataLoader.defaultChunkSize / max(1, batchSize)) * max(1, batchSize)
        let stream = try data.stream(for: model, chunkSize: chunk)
        let progress = Progress(total: stream.count, label: "teacher", unit: "samples")
        var rows: [Int] = [], baseClass: [Int] = [], logits: [Float] = [], kept: [Float] = []
        var seen = 0, stopped = false
        let want = limit ?? Int.max
        _ = try data.scanChunks(stream, for: model, until: { ds, before in
            if filter == .correct && ds.y == nil {
                throw ModelIOError(.notFound, file: data.data, location: "y",
                                   "--base correct needs labels (array 'y'); use --base all to start from every sample with the teacher's prediction as its class")
            }
            let found = PairSelection.baseSamples(teacher: model.graph, x: ds.x, labels: ds.y, filter: filter,
                                                  limit: want - rows.count, batchSize: batchSize) { progress.update(before + $0) }
            rows += found.rows.map { $0 + before }
            baseClass += found.baseClass
            logits += found.logits.data
            kept += ds.x.gather(rows: found.rows).data
            seen = before + ds.count
            stopped = rows.count >= want && !data.reading.skipBadImages
            return stopped
        })
        progress.finish()
        let per = model.graph.inputShape
        let classes = model.graph.outputShape.reduce(1, *)
        return BaseScan(bases: (rows, baseClass, Tensor(shape: [rows.count, classes], data: logits)),
                        source: Tensor(shape: [rows.count] + per, data: kept), sourceRows: rows,
                        sourceRow: Dictionary(uniqueKeysWithValues: rows.enumerated().map { ($1, $0) }),
                        count: stopped ? stream.count : seen)
    }

    /// Under mpirun: the whole set in memory, the scan split over the ranks (docs/mpi.md).
    func wholeScan(_ model: Model, filter: BaseFilter, world: MPIWorld) throws -> BaseScan {
        let ds = try data.load(for: model)
        if filter == .correct && ds.y == nil {
            throw ModelIOError(.notFound, file: ds.file, location: "y",
                               "--base correct needs labels (array 'y'); use --base all to start from every sample with the teacher's prediction as its class")
        }
        let progress = Progress(total: ds.count, label: "teacher", unit: "samples")
        let bases = MPISupport.baseSamples(world, teacher: model.graph, x: ds.x, labels: ds.y, filter: filter, limit: limit,
                                           batchSize: batchSize) { progress.update($0) }
        progress.finish()
        return BaseScan(bases: bases, source: ds.x, sourceRows: Array(0..<ds.count),
                        sourceRow: Dictionary(uniqueKeysWithValues: (0..<ds.count).map { ($0, $0) }), count: ds.count)
    }
}

/// One line naming an attack and the values it used.
func attackSummary(_ kind: AttackKind, _ p: AttackParameters) -> String {
    let clip = p.clip.map { ", clip [\($0.lowerBound), \($0.upperBound)]" } ?? ""
    switch kind {
    case .fgsm: return "fgsm, eps \(p.epsilon)" + clip
    case .pgd: return "pgd, eps \(p.epsilon), step \(p.resolvedStepSize), \(p.steps) steps" + clip
    case .deepfool: return "deepfool, overshoot \(p.overshoot), at most \(p.steps) steps" + clip
    case .noise: return "noise with the norms of the pairs' BSS (search below)" + clip
    case .paper, .official: return "bss (\(kind.rawValue))"
    }
}

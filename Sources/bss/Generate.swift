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
        let ds = try data.load(for: model)
        let filter = base
        if filter == .correct && ds.y == nil {
            throw ModelIOError(.notFound, file: ds.file, location: "y",
                               "--base correct needs labels (array 'y'); use --base all to start from every sample with the teacher's prediction as its class")
        }
        if case .sampled(let k) = targetRule, k >= model.classes {
            throw UserError("--per-sample \(k) needs at least \(k + 1) classes; the teacher has \(model.classes)")
        }
        let teacherHash = try SHA256.path(teacher), dataHash = try SHA256.path(data.data)

        // Base samples and pairs.
        let scan = Progress(total: ds.count, label: "teacher", unit: "samples")
        let bases = world.map { MPISupport.baseSamples($0, teacher: model.graph, x: ds.x, labels: ds.y, filter: filter, limit: limit,
                                                       batchSize: batchSize) { scan.update($0) } }
            ?? PairSelection.baseSamples(teacher: model.graph, x: ds.x, labels: ds.y, filter: filter, limit: limit,
                                         batchSize: batchSize) { scan.update($0) }
        scan.finish()
        guard !bases.rows.isEmpty else {
            throw UserError("no base samples: the teacher classifies none of the \(ds.count) samples of \(ds.file) as labelled (try --base all)")
        }
        var generator = SeededGenerator(seed: seed)
        var pairs = PairSelection.pairs(rows: bases.rows, baseClass: bases.baseClass, logits: bases.logits, rule: targetRule,
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
            result = world.map { MPISupport.search($0, engine: engine, source: ds.x, pairs: pairs) }
                ?? engine.run(source: ds.x, rows: pairs.baseIndex, base: pairs.baseClass, target: pairs.targetClass)
        } else {
            let found = attackEngine.run(source: ds.x, rows: pairs.baseIndex, base: pairs.baseClass, target: pairs.targetClass,
                                         noiseSeed: seed)
            result = found.result
            if attack == .deepfool { pairs.retarget(found.target, probabilities: softmax(bases.logits), rows: bases.rows) }
        }
        let seconds = Date().timeIntervalSince(start)
        progress.finish()

        if let world, !world.isRoot { return }
        // The data set.
        var meta = BSSMetadata(
            tool: "bss \(BSSCommand.version)", createdBy: "bss generate",
            teacher: .init(file: teacher, sha256: teacherHash, architecture: model.architectureName, format: model.format.rawValue,
                           inputShape: model.graph.inputShape, classes: model.classes),
            data: .init(file: ds.file, sha256: dataHash, samples: ds.count, storedLayout: ds.storedLayout.rawValue, scale: data.scale,
                        normalize: data.normalize),
            inputLayout: model.inputLayout.rawValue, inputShape: model.graph.inputShape, algorithm: .init(parameters),
            selection: .init(base: filter.rawValue, limit: limit, targets: targetRule.name, perSample: perSample,
                             acceptedOnly: acceptedOnly),
            seed: seed, counts: .init(baseSamples: pairs.baseSamples, result: result), mpiWorldSize: world?.size ?? 1)
        meta.setAttack(attack, attackParameters)
        var dataset = BSSDataset(pairs: pairs, result: result, source: ds.x, meta: meta)
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
            say("data:    \(ds.file): \(pairs.baseSamples) base samples of \(ds.count), \(pairs.count) pairs (targets: \(targetRule.name))")
            if !attack.isBSS { say("attack:  " + attackSummary(attack, attackParameters)) }
            say("search:  \(parameters.mode.rawValue) mode, eta \(parameters.eta), eps \(parameters.eps), \(parameters.maxSteps) steps, "
                + "\(parameters.stepNorm.rawValue)" + (parameters.clip.map { ", clip [\($0.lowerBound), \($0.upperBound)]" } ?? ""))
            for line in report.lines { say(line) }
        }
        note("wrote \(out): \(dataset.count) pairs\(acceptedOnly ? " (accepted only)" : "")")
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

import ArgumentParser
import Cluster
import Distill
import Foundation
import ModelIO
import Tensor

/// `bss distill`: train a student from a teacher with the BSS loss (or the Hinton / original
/// baselines) and write it back in its own format.
struct DistillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distill",
        abstract: "Distil a student from a teacher (original, hinton, bss, fitnet, at, fsp, bss+fsp) and export it in its own format.",
        discussion: """
            Loss (see docs/algorithm.md): CE(s(x), y) + alpha·KD_T(s(x), t(x)) + beta·KD_T(s(x~), t(x~)), \
            KD_T = -mean Σ softmax(t/T)·log_softmax(s/T) (no T² factor); x~ are boundary supporting \
            samples found from the batch's base samples (teacher and student both correct, at most \
            --bss-per-batch, ranked by off-label disagreement) towards target classes drawn from the \
            teacher's probabilities. Defaults are the authors' CIFAR-10 recipe: 80 epochs, batch 256, \
            SGD lr 0.1 (÷10 after 50% and 75% of the epochs), momentum 0.9, weight decay 1e-4, T 3, \
            alpha 4 -> 1, beta 2 -> 0 by 75%, 64 BSS per batch, paper-mode search.
            Feature methods (fitnet, at, fsp, bss+fsp) add w·term on intermediate maps, named by node as \
            `bss inspect` prints them (--feature-pairs TEACHER_NODE:STUDENT_NODE,...; presets have default \
            taps); feature_losses lists more terms for any method (docs/algorithm.md, "Feature methods").
            Every option is also a key of a YAML or JSON --config file (--batch-size ↔ batch_size); \
            flags override the file. Next to OUT the run writes OUT.config.yaml (the resolved \
            config; OUT is the whole output file name, e.g. s.npz.config.yaml), OUT.metrics.jsonl (one JSON \
            line per epoch), OUT.curves.svg and OUT.checkpoint.npz (after every epoch, with SHA-256 \
            digests of its arrays and config); --resume DIR continues an interrupted run and ends with the \
            same student (a checkpoint whose digests do not match is refused; paths inside the run folder \
            are kept relative to it, so a copied run folder resumes into the copy). A new run refuses to \
            replace an earlier run's files unless --overwrite is given. A loss that becomes NaN or \
            infinite stops the run with the epoch and step.
            --student is a model file (Keras .h5/.keras; .npz/.safetensors/.h5 state dict with --student-arch) or an \
            architecture (preset such as heo2019-resnet8 or mlp:64-48-10, or a JSON spec) for fresh \
            weights initialised from --seed. A Keras student is written back as .h5/.keras, any student \
            as a PyTorch state dict (.npz, .safetensors or .h5) with BatchNorm statistics and num_batches_tracked.
            Missing folders of OUT are created. --threads is recorded in the config (key threads): the same \
            count gives the same student bit for bit, and --resume uses the recorded count unless given another.
            Ctrl-C stops the run, leaving the last end-of-epoch checkpoint, and prints the --resume command.

            Example:
              bss distill --teacher teacher.keras --student mlp:64-48-10 --data train.npz --val test.npz \\
                --scale 1/255 --epochs 20 --batch-size 64 --out out/student.npz
              bss distill --resume out
            """)

    // Files.
    @Option(help: "Teacher model: Keras .h5/.keras, ONNX .onnx, or a .npz/.safetensors/.h5 state dict with --teacher-arch.") var teacher: String?
    @Option(help: "Architecture of a weight-only teacher file: a preset or a JSON spec path.") var teacherArch: String?
    @Option(help: "Student model file, or an architecture (preset or JSON spec) for fresh weights.") var student: String?
    @Option(help: "Architecture of a weight-only student file: a preset or a JSON spec path.") var studentArch: String?
    @Option(name: .customLong("input-shape"), help: ArgumentHelp("Per-sample input shape of ONNX teacher/student files whose input dimensions are symbolic.", valueName: "C,H,W"))
    var inputShape: String?
    @Option(help: "Class count of a fresh preset student (default: the teacher's, 10 without one).") var classes: String?
    @Option(help: "Training data: .npz/.h5 with x and y, CIFAR-10/CIFAR-100 binaries, ImageNet .npz batches, image folders, IDX files.") var data: String?
    @Option(help: "Validation data, evaluated after every epoch.") var val: String?
    @Option(help: "Output: .npz/.safetensors/.h5 state dict, .h5/.keras for a Keras student, or .onnx (missing folders are created).") var out: String?
    @OptionGroup var input: InputOptions
    @Option(help: "YAML or JSON run config; flags override its keys.") var config: String?
    @Option(help: ArgumentHelp("Continue the run whose checkpoint is in DIR (or the checkpoint file itself).", valueName: "dir"))
    var resume: String?
    @Flag(help: "Replace the output and side files of an earlier run with the same OUT (default: refuse).")
    var overwrite = false
    @Option(help: ArgumentHelp("Write TensorBoard event files (scalars per batch and epoch) to DIR.", valueName: "dir")) var tensorboard: String?

    // Method, optimiser, loss.
    @Option(help: "original (CE), hinton (+ KD), bss (+ KD on BSS; the default), fitnet, at, fsp (CE + a feature term), bss+fsp.") var method: DistillMethod?
    @Option(help: "Epochs (default 80).") var epochs: String?
    @OptionGroup var batch: BatchSizeOption
    @Option(help: "Initial learning rate (default 0.1).") var lr: String?
    @Option(help: "Fractions of the epochs after which lr is multiplied by --lr-decay (default 0.5,0.75).") var lrMilestones: String?
    @Option(help: "Learning-rate factor at each milestone (default 0.1).") var lrDecay: String?
    @Option(help: "SGD momentum (default 0.9).") var momentum: String?
    @Option(help: "Weight decay (default 1e-4).") var weightDecay: String?
    @Flag(inversion: .prefixedNo, help: "Nesterov momentum (default off).") var nesterov: Bool?
    @Option(help: "Temperature T (default 3).") var temperature: String?
    @Option(help: "KD weight on clean samples: 'schedule' (4 -> 1) or a constant.") var alpha: String?
    @Option(help: "KD weight on BSS: 'schedule' (2 -> 0 by 75%) or a constant.") var beta: String?

    // Feature methods (docs/algorithm.md, "Feature methods").
    @Option(help: ArgumentHelp("Feature taps matched: TEACHER_NODE:STUDENT_NODE[,...] (names as `bss inspect` prints them; default: the presets' taps).", valueName: "pairs"))
    var featurePairs: String?
    @Option(help: "FitNets hint weight (default 100).") var fitnetWeight: String?
    @Option(help: "Attention-transfer weight (default 1000).") var atWeight: String?
    @Option(help: "FSP weight (default 50).") var fspWeight: String?
    @Option(help: ArgumentHelp("Feature terms added to the method's: KIND[=WEIGHT][@T:S;...][,...], KIND fitnet, at or fsp.", valueName: "terms"))
    var featureLosses: String?

    // BSS.
    @Option(help: "Base samples (BSS attempts) per batch (default 64).") var bssPerBatch: String?
    @OptionGroup var search: BSSOptions
    @OptionGroup var attackOptions: AttackOptions

    // Data handling, reproducibility.
    @OptionGroup var seedOption: SeedOption
    @Option(help: "Fraction of the training data to use, stratified and seeded (default 1).") var trainFraction: String?
    @Option(help: "Random-crop zero padding in pixels (default 0 = off; CIFAR recipe 4).") var augmentCrop: String?
    @Flag(inversion: .prefixedNo, help: "Random horizontal flips (default off).") var augmentFlip: Bool?
    @Option(help: "Samples per forward pass for teacher logits and validation (default 256).") var evalBatchSize: String?

    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var safety: InputSafetyOptions

    /// Flags given on the command line, as config overrides (`--batch-size` → `batch_size`);
    /// `--threads` is not among them (it may differ on `--resume`).
    var overrides: [(flag: String, key: String, value: ConfigValue)] {
        let strings: [(String, String?)] = [
            ("teacher", teacher), ("teacher_arch", teacherArch), ("student", student), ("student_arch", studentArch), ("input_shape", inputShape),
            ("data", data), ("val", val), ("out", out), ("method", method?.rawValue), ("epochs", epochs), ("lr", lr),
            ("lr_milestones", lrMilestones), ("lr_decay", lrDecay), ("momentum", momentum),
            ("weight_decay", weightDecay), ("temperature", temperature), ("alpha", alpha), ("beta", beta),
            ("feature_pairs", featurePairs), ("fitnet_weight", fitnetWeight), ("at_weight", atWeight), ("fsp_weight", fspWeight),
            ("feature_losses", featureLosses),
            ("bss_per_batch", bssPerBatch), ("train_fraction", trainFraction), ("augment_crop", augmentCrop),
            ("eval_batch_size", evalBatchSize), ("classes", classes), ("tensorboard", tensorboard),
        ]
        var out: [(flag: String, key: String, value: ConfigValue)] = strings.compactMap { k, v in
            v.map { (flag: "--" + k.replacingOccurrences(of: "_", with: "-"), key: k, value: ConfigValue.string($0)) }
        }
        out += input.overrides + search.overrides + attackOptions.overrides
        if let b = batch.batchSize { out.append(("--batch-size", "batch_size", .int(b))) }
        if let s = seedOption.seed { out.append(("--seed", "seed", .string(String(s)))) }
        if let nesterov { out.append(("--nesterov", "nesterov", .bool(nesterov))) }
        if let augmentFlip { out.append(("--augment-flip", "augment_flip", .bool(augmentFlip))) }
        return out
    }

    func run() throws {
        runtime.apply()
        safety.apply()
        // Under mpirun: data parallel over the ranks, rank 0 writes every file (docs/mpi.md).
        let world = try MPISupport.start(runtime)
        let root = world?.isRoot ?? true
        let run: DistillRun
        if let resume {
            if config != nil || !overrides.isEmpty {
                throw UserError("--resume continues a run with the configuration saved in its checkpoint; remove "
                                + ((config != nil ? ["--config"] : []) + overrides.map(\.flag)).joined(separator: ", "))
            }
            if overwrite { throw UserError("--resume continues a run in place; remove --overwrite") }
            let (r, checkpoint) = try DistillRun.resume(from: resume, threads: runtime.threads)
            run = r
            note("resuming \(r.artifacts.checkpoint.path) after epoch \(checkpoint.state.completedEpochs) of \(r.config.epochs)")
            if checkpoint.config.mpiWorldSize != r.config.mpiWorldSize {
                note("note: the checkpoint was written by \(checkpoint.config.mpiWorldSize) MPI processes, this run has \(r.config.mpiWorldSize); start it with mpirun -np \(checkpoint.config.mpiWorldSize) for a bit-identical continuation")
            }
            let recorded = checkpoint.config.threads ?? checkpoint.threads
            if recorded > 0 && recorded != Parallel.threads {
                note("note: the checkpoint was written with \(recorded) threads, this run uses \(Parallel.threads); omit --threads (or pass --threads \(recorded)) for a bit-identical continuation")
            }
        } else {
            var resolved = try RunConfig.resolve(file: config, overrides: overrides)
            // The count in force is recorded, so the config and --resume repeat the run bit for bit.
            if let t = runtime.threads { resolved.threads = t }
            if resolved.threads == nil { resolved.threads = Parallel.threads }
            if !overwrite { try DistillRun.checkNoExistingRun(resolved) }
            run = try DistillRun.prepare(resolved)
            if root { try run.writeConfig() }
        }
        _ = try run.tensorBoard()   // a bad --tensorboard directory fails before training
        Interrupt.hint = Self.resumeHint(run)
        try train(run)
        guard root else { return }
        let report = try run.export()
        for f in report.files { note("wrote \(f.path): \(f.what)") }
        let a = run.artifacts
        note("wrote \(a.config.path), \(a.metrics.path), \(a.curves.path), \(a.checkpoint.path)")
        if let last = run.distiller.history.last {
            say(String(format: "final epoch %d: train accuracy %.4f", last.epoch, last.trainAccuracy)
                + (last.valAccuracy.map { String(format: ", val accuracy %.4f", $0) } ?? ""))
        }
    }

    /// What to run after Ctrl-C: `--resume` once a checkpoint exists (its folder when it is the
    /// only checkpoint there), else the resolved config written at the start.
    static func resumeHint(_ run: DistillRun) -> String {
        let a = run.artifacts
        guard FileManager.default.fileExists(atPath: a.checkpoint.path) else {
            return "no epoch had finished, so there is no checkpoint; start again with: bss distill --config \(shellQuoted(a.config.path))"
        }
        let folder = a.checkpoint.deletingLastPathComponent().path
        let target = (try? Checkpoint.locate(folder))?.standardizedFileURL == a.checkpoint.standardizedFileURL ? folder : a.checkpoint.path
        return "continue from the last checkpoint (epoch \(run.distiller.completedEpochs)) with: bss distill --resume \(shellQuoted(target))"
    }

    /// The epochs, with a progress bar each (with the whole run's ETA) and a summary line after each.
    func train(_ run: DistillRun) throws {
        let d = run.distiller
        if d.teacher != nil && !run.config.augments && d.completedEpochs < run.config.epochs {
            let p = Progress(total: d.train.count, label: "teacher logits", unit: "samples")
            try d.prepareTeacherLogits { p.update($0) }
            p.finish()
        }
        var progress: Progress?
        // Whole-run ETA: this session's samples per second (epoch ends included) over what is left.
        let sessionStart = Date()
        var firstEpoch: Int?
        try d.run(onBatch: { b in
            if progress == nil {
                progress = Progress(total: b.samples, label: "epoch \(b.epoch)/\(b.epochs)", unit: "samples")
            }
            if firstEpoch == nil { firstEpoch = b.epoch }
            let showBSS = run.config.method.usesBSS
            progress!.extra = {
                String(format: "loss %.4f acc %.4f", b.loss, b.accuracy)
                    + (showBSS ? "  BSS \(b.bssAccepted)/\(b.bssAttempted)" : "")
            }
            let doneInSession = (b.epoch - firstEpoch!) * b.samples + b.samplesDone
            let left = (b.epochs - b.epoch) * b.samples + (b.samples - b.samplesDone)
            progress!.runRemaining = {
                let elapsed = Date().timeIntervalSince(sessionStart)
                guard doneInSession > 0, elapsed > 1 else { return nil }
                return Double(left) * elapsed / Double(doneInSession)
            }
            progress!.update(b.samplesDone)
            run.logBatch(b)
        }, onEpoch: { m in
            // Off a terminal the summary line below says what the bar's last line would.
            if progress?.isTTY == true { progress?.finish() }
            progress = nil
            guard MPIWorld.current?.isRoot ?? true else { return }
            try run.endEpoch(createdBy: "bss \(BSSCommand.version)")
            Interrupt.hint = Self.resumeHint(run)
            note(Self.summary(m, epochs: run.config.epochs, bss: run.config.method.usesBSS))
            if let p = run.distiller.parallel {
                note("mpi: \(p.size) ranks, rank 0 sent \(p.lastStepBytes) bytes in the epoch's last step")
            }
        })
    }

    static func summary(_ m: EpochMetrics, epochs: Int, bss: Bool) -> String {
        var s = String(format: "epoch %d/%d: loss %.4f (CE %.4f, KD %.4f", m.epoch, epochs, m.loss, m.ce, m.kd)
        if bss { s += String(format: ", KD_BSS %.4f", m.kdBSS) }
        for (k, v) in m.features.sorted(by: { $0.key < $1.key }) { s += String(format: ", %@ %.4f", k.uppercased(), v) }
        s += String(format: "), train acc %.4f", m.trainAccuracy)
        if let v = m.valAccuracy { s += String(format: ", val acc %.4f", v) }
        if bss { s += ", BSS accepted \(m.bssAccepted)/\(m.bssAttempted)" }
        s += String(format: ", lr %g, alpha %.3g, beta %.3g, %.1f s", m.lr, m.alpha, m.beta, m.seconds)
        return s
    }

    /// `s` as one shell word.
    static func shellQuoted(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "/._-+:=@".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Notes come from rank 0 only under mpirun.
    func note(_ s: String) {
        guard MPIWorld.current?.isRoot ?? true else { return }
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }
}

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
        abstract: "Distil a student from a teacher (original, hinton or bss) and export it in its own format.",
        discussion: """
            Loss (see docs/algorithm.md): CE(s(x), y) + alpha·KD_T(s(x), t(x)) + beta·KD_T(s(x~), t(x~)), \
            KD_T = -mean Σ softmax(t/T)·log_softmax(s/T) (no T² factor); x~ are boundary supporting \
            samples found from the batch's base samples (teacher and student both correct, at most \
            --bss-per-batch, ranked by off-label disagreement) towards target classes drawn from the \
            teacher's probabilities. Defaults are the authors' CIFAR-10 recipe: 80 epochs, batch 256, \
            SGD lr 0.1 (÷10 after 50% and 75% of the epochs), momentum 0.9, weight decay 1e-4, T 3, \
            alpha 4 -> 1, beta 2 -> 0 by 75%, 64 BSS per batch, paper-mode search.
            Every option is also a key of a YAML or JSON --config file (--batch-size ↔ batch_size); \
            flags override the file. Next to OUT the run writes OUT-stem.config.yaml (the resolved \
            config), .metrics.jsonl (one JSON line per epoch), .curves.svg and .checkpoint.npz (after \
            every epoch); --resume DIR continues an interrupted run and ends with the same student.
            --student is a model file (Keras .h5/.keras; .npz/.safetensors/.h5 state dict with --student-arch) or an \
            architecture (preset such as heo2019-resnet8 or mlp:64-48-10, or a JSON spec) for fresh \
            weights initialised from --seed. A Keras student is written back as .h5/.keras, any student \
            as a PyTorch state dict (.npz, .safetensors or .h5) with BatchNorm statistics and num_batches_tracked.
            """)

    // Files.
    @Option(help: "Teacher model: Keras .h5/.keras, or a .npz/.safetensors/.h5 state dict with --teacher-arch.") var teacher: String?
    @Option(help: "Architecture of a weight-only teacher: preset or JSON spec.") var teacherArch: String?
    @Option(help: "Student model file, or an architecture (preset or JSON spec) for fresh weights.") var student: String?
    @Option(help: "Architecture of a weight-only student file.") var studentArch: String?
    @Option(help: "Class count of a fresh preset student (default: the teacher's, 10 without one).") var classes: String?
    @Option(help: "Training data: .npz/.h5 with x and y, CIFAR-10/CIFAR-100 binaries, ImageNet .npz batches, image folders, IDX files.") var data: String?
    @Option(help: "Validation data, evaluated after every epoch.") var val: String?
    @Option(help: "Output: .npz/.safetensors/.h5 state dict, or .h5/.keras for a Keras student.") var out: String?
    @Option(help: "Layout of images in the data: nchw or nhwc (default: the teacher's).") var dataLayout: String?
    @Option(help: "Multiply inputs by this factor after reading, e.g. 1/255.") var scale: String?
    @Option(help: "Per-channel normalisation: cifar10, mnist, or MEAN1,...:STD1,...") var normalize: String?
    @Option(help: ArgumentHelp("CIFAR-100 label of data/val: fine (default) or coarse.", valueName: "fine|coarse")) var label: String?
    @Option(help: "YAML or JSON run config; flags override its keys.") var config: String?
    @Option(help: ArgumentHelp("Continue the run whose checkpoint is in DIR (or the checkpoint file itself).", valueName: "dir"))
    var resume: String?

    // Method, optimiser, loss.
    @Option(help: "original (CE), hinton (+ KD), bss (+ KD on BSS). Default bss.") var method: String?
    @Option(help: "Epochs (default 80).") var epochs: String?
    @Option(help: "Batch size (default 256).") var batchSize: String?
    @Option(help: "Initial learning rate (default 0.1).") var lr: String?
    @Option(help: "Fractions of the epochs after which lr is multiplied by --lr-decay (default 0.5,0.75).") var lrMilestones: String?
    @Option(help: "Learning-rate factor at each milestone (default 0.1).") var lrDecay: String?
    @Option(help: "SGD momentum (default 0.9).") var momentum: String?
    @Option(help: "Weight decay (default 1e-4).") var weightDecay: String?
    @Flag(inversion: .prefixedNo, help: "Nesterov momentum (default off).") var nesterov: Bool?
    @Option(help: "Temperature T (default 3).") var temperature: String?
    @Option(help: "KD weight on clean samples: 'schedule' (4 -> 1) or a constant.") var alpha: String?
    @Option(help: "KD weight on BSS: 'schedule' (2 -> 0 by 75%) or a constant.") var beta: String?

    // BSS.
    @Option(help: "Base samples (BSS attempts) per batch (default 64).") var bssPerBatch: String?
    @Option(help: "BSS search: paper (default) or official (the authors' code).") var bssMode: String?
    @Option(help: "BSS step size (default 1 paper, 0.3 official).") var bssEta: String?
    @Option(help: "BSS overshoot past the boundary (default 1e-4).") var bssEps: String?
    @Option(help: "BSS step limit (default 10).") var bssMaxSteps: String?
    @Option(help: "BSS step denominator: l2sq (paper) or l2 (official).") var bssStepNorm: String?
    @Option(help: "Clamp BSS inputs to LO,HI (write --bss-clip=-2.5,2.5), or '' for none (default: none paper, -2.5,2.5 official).")
    var bssClip: String?

    // Data handling, reproducibility.
    @Option(help: "Seed of every random choice (default 0).") var seed: String?
    @Option(help: "Fraction of the training data to use, stratified and seeded (default 1).") var trainFraction: String?
    @Option(help: "Random-crop zero padding in pixels (default 0 = off; CIFAR recipe 4).") var augmentCrop: String?
    @Flag(inversion: .prefixedNo, help: "Random horizontal flips (default off).") var augmentFlip: Bool?
    @Option(help: "Samples per forward pass for teacher logits and validation (default 256).") var evalBatchSize: String?

    @OptionGroup var runtime: RuntimeOptions

    /// Flags given on the command line, as config overrides (`--batch-size` → `batch_size`).
    var overrides: [(flag: String, key: String, value: ConfigValue)] {
        let strings: [(String, String?)] = [
            ("teacher", teacher), ("teacher_arch", teacherArch), ("student", student), ("student_arch", studentArch),
            ("classes", classes),
            ("data", data), ("val", val), ("out", out), ("data_layout", dataLayout), ("scale", scale), ("label", label),
            ("normalize", normalize), ("method", method), ("epochs", epochs), ("batch_size", batchSize), ("lr", lr),
            ("lr_milestones", lrMilestones), ("lr_decay", lrDecay), ("momentum", momentum),
            ("weight_decay", weightDecay), ("temperature", temperature), ("alpha", alpha), ("beta", beta),
            ("bss_per_batch", bssPerBatch), ("bss_mode", bssMode), ("bss_eta", bssEta), ("bss_eps", bssEps),
            ("bss_max_steps", bssMaxSteps), ("bss_step_norm", bssStepNorm), ("bss_clip", bssClip), ("seed", seed),
            ("train_fraction", trainFraction), ("augment_crop", augmentCrop), ("eval_batch_size", evalBatchSize),
        ]
        var out: [(flag: String, key: String, value: ConfigValue)] = strings.compactMap { k, v in
            v.map { (flag: "--" + k.replacingOccurrences(of: "_", with: "-"), key: k, value: ConfigValue.string($0)) }
        }
        if let nesterov { out.append(("--nesterov", "nesterov", .bool(nesterov))) }
        if let augmentFlip { out.append(("--augment-flip", "augment_flip", .bool(augmentFlip))) }
        return out
    }

    func run() throws {
        runtime.apply()
        // Under mpirun: data parallel over the ranks, rank 0 writes every file (docs/mpi.md).
        let world = try MPISupport.start(runtime)
        let root = world?.isRoot ?? true
        let run: DistillRun
        if let resume {
            if config != nil || !overrides.isEmpty {
                throw UserError("--resume continues a run with the configuration saved in its checkpoint; remove "
                                + ((config != nil ? ["--config"] : []) + overrides.map(\.flag)).joined(separator: ", "))
            }
            let (r, checkpoint) = try DistillRun.resume(from: resume)
            run = r
            note("resuming \(r.artifacts.checkpoint.path) after epoch \(checkpoint.state.completedEpochs) of \(r.config.epochs)")
            if checkpoint.config.mpiWorldSize != r.config.mpiWorldSize {
                note("note: the checkpoint was written by \(checkpoint.config.mpiWorldSize) MPI processes, this run has \(r.config.mpiWorldSize); start it with mpirun -np \(checkpoint.config.mpiWorldSize) for a bit-identical continuation")
            }
            if checkpoint.threads != Parallel.threads {
                note("note: the checkpoint was written with \(checkpoint.threads) threads, this run uses \(Parallel.threads); pass --threads \(checkpoint.threads) for a bit-identical continuation")
            }
        } else {
            let resolved = try RunConfig.resolve(file: config, overrides: overrides)
            run = try DistillRun.prepare(resolved)
            if root { try run.writeConfig() }
        }
        try train(run)
        guard root else { return }
        let report = try run.export()
        for f in report.files { say("wrote \(f.path): \(f.what)") }
        let a = run.artifacts
        say("wrote \(a.config.path), \(a.metrics.path), \(a.curves.path), \(a.checkpoint.path)")
        if let last = run.distiller.history.last {
            say(String(format: "final epoch %d: train accuracy %.4f", last.epoch, last.trainAccuracy)
                + (last.valAccuracy.map { String(format: ", val accuracy %.4f", $0) } ?? ""))
        }
    }

    /// The epochs, with a progress bar each and a summary line after each.
    func train(_ run: DistillRun) throws {
        let d = run.distiller
        if d.teacher != nil && !run.config.augments && d.completedEpochs < run.config.epochs {
            let p = Progress(total: d.train.count, label: "teacher logits", unit: "samples")
            d.prepareTeacherLogits { p.update($0) }
            p.finish()
        }
        var progress: Progress?
        try d.run(onBatch: { b in
            if progress == nil {
                progress = Progress(total: b.samples, label: "epoch \(b.epoch)/\(b.epochs)", unit: "samples")
            }
            let showBSS = run.config.method == .bss
            progress!.extra = {
                String(format: "loss %.4f acc %.4f", b.loss, b.accuracy)
                    + (showBSS ? "  BSS \(b.bssAccepted)/\(b.bssAttempted)" : "")
            }
            progress!.update(b.samplesDone)
        }, onEpoch: { m in
            // Off a terminal the summary line below says what the bar's last line would.
            if progress?.isTTY == true { progress?.finish() }
            progress = nil
            guard MPIWorld.current?.isRoot ?? true else { return }
            try run.endEpoch(createdBy: "bss \(BSSCommand.version)")
            note(Self.summary(m, epochs: run.config.epochs, bss: run.config.method == .bss))
            if let p = run.distiller.parallel {
                note("mpi: \(p.size) ranks, rank 0 sent \(p.lastStepBytes) bytes in the epoch's last step")
            }
        })
    }

    static func summary(_ m: EpochMetrics, epochs: Int, bss: Bool) -> String {
        var s = String(format: "epoch %d/%d: loss %.4f (CE %.4f, KD %.4f", m.epoch, epochs, m.loss, m.ce, m.kd)
        if bss { s += String(format: ", KD_BSS %.4f", m.kdBSS) }
        s += String(format: "), train acc %.4f", m.trainAccuracy)
        if let v = m.valAccuracy { s += String(format: ", val acc %.4f", v) }
        if bss { s += ", BSS accepted \(m.bssAccepted)/\(m.bssAttempted)" }
        s += String(format: ", lr %g, alpha %.3g, beta %.3g, %.1f s", m.lr, m.alpha, m.beta, m.seconds)
        return s
    }

    func note(_ s: String) {
        guard MPIWorld.current?.isRoot ?? true else { return }
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }
}

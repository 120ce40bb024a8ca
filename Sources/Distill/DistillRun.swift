import Boundary
import Cluster
import Foundation
import ModelIO
import NN
import Tensor

/// A whole `bss distill` run from its config: loads the teacher, the student and the data,
/// checks them (`Preflight`), trains with checkpoints and logs next to the output, and writes
/// the student back in its own format.
///
/// - Teacher: `ModelLoader.load(teacher, arch: teacher_arch)`; not loaded for `original`.
/// - Student: a model file (`ModelLoader.load`), or an architecture (a preset such as
///   `heo2019-resnet8` or `mlp:64-48-10`, or a JSON spec) built fresh with the teacher's class
///   count for presets and initialised as PyTorch does (`initialiseLikePyTorch`) from the
///   seed's initialisation stream.
/// - Data: read in `data_layout` (default: the teacher's native layout) with `scale` and
///   `normalize`, shaped for the teacher (`DataSet.conformed`), then the seeded stratified
///   `train_fraction` subset. Validation data is shaped for the student.
/// - Artifacts (`RunArtifacts`): the resolved config at the start, after every epoch an atomic
///   checkpoint, the metrics log and the SVG curves; at the end the student (`ModelWriter`).
public final class DistillRun {
    public let config: RunConfig
    public let distiller: Distiller
    public let artifacts: RunArtifacts
    /// Worker threads recorded in checkpoints (bit-exact resumes need the same count).
    public var threads: Int
    /// SHA-256 of the files the run read (`teacher`, `student` when a file, `data`, `val`),
    /// recorded in checkpoints and checked on resume.
    public let inputs: [String: String]

    init(config: RunConfig, distiller: Distiller, threads: Int) throws {
        self.config = config
        self.distiller = distiller
        artifacts = RunArtifacts(output: config.out!)
        self.threads = threads
        inputs = try Self.hashInputs(config, studentIsFile: distiller.student.file != nil)
    }

    static func hashInputs(_ c: RunConfig, studentIsFile: Bool) throws -> [String: String] {
        var out: [String: String] = [:]
        if c.method.usesTeacher, let t = c.teacher { out["teacher"] = try SHA256.path(t) }
        if studentIsFile, let s = c.student { out["student"] = try SHA256.path(s) }
        if let d = c.data { out["data"] = try SHA256.path(d) }
        if let v = c.val { out["val"] = try SHA256.path(v) }
        return out
    }

    /// The exported model and the files written next to it (`RunArtifacts`) against every input.
    static func checkOutputsAreNotInputs(_ config: RunConfig) throws {
        guard let out = config.out else { return }
        try OutputPath.checkDistinct(outputs: RunArtifacts(output: out).all.map(\.path),
                                     inputs: [config.student, config.teacher, config.data, config.val,
                                              config.teacherArch, config.studentArch])
    }

    /// Refuses to start a new run whose output or side files (`RunArtifacts`) exist: they
    /// belong to another run, continued with `--resume` or replaced with `--overwrite`. (An
    /// output that is one of the inputs gets that error first.)
    public static func checkNoExistingRun(_ config: RunConfig) throws {
        guard let out = config.out else { return }
        try checkOutputsAreNotInputs(config)
        let existing = RunArtifacts(output: out).all.filter { FileManager.default.fileExists(atPath: $0.path) }
        guard let first = existing.first else { return }
        throw ModelIOError(.mismatch, file: first.path,
                           "exists (\(existing.count) file\(existing.count == 1 ? "" : "s") of an earlier run for \(out)); continue it with --resume \(first.deletingLastPathComponent().path), or pass --overwrite to replace it")
    }

    /// Loads and checks everything `config` names; the student is initialised when fresh.
    /// The run uses `config.threads` worker threads when set (it sets `Parallel.threads`, since
    /// results are bit-identical only for one count), else `threads`.
    public static func prepare(_ config: RunConfig, threads: Int = Parallel.threads) throws -> DistillRun {
        var config = config
        config.mpiWorldSize = MPIWorld.current?.size ?? 1   // recorded: where this run runs (docs/mpi.md)
        try config.validateFiles()
        let threads = config.threads ?? threads
        Parallel.threads = threads
        try checkOutputsAreNotInputs(config)
        let teacher = try config.method.usesTeacher ? ModelLoader.load(config.teacher!, arch: config.teacherArch, archFlag: "--teacher-arch", inputShape: config.inputShape) : nil
        let student = try loadStudent(config, classes: config.classes ?? teacher?.classes)
        let (train, val) = try loadData(config, teacher: teacher, student: student)
        let distiller = try Distiller(config: config, teacher: teacher, student: student, train: train, val: val)
        if let world = MPIWorld.current, world.size > 1 {
            distiller.parallel = try DataParallel(world: world, student: student.graph)
        }
        return try DistillRun(config: config, distiller: distiller, threads: threads)
    }

    /// Rebuilds the run saved in the checkpoint at `path` (a file or the run's directory) and
    /// restores its state, ready to train the remaining epochs. It runs with the thread count
    /// the checkpoint recorded (a bit-identical continuation) unless `threads` says otherwise.
    public static func resume(from path: String, threads: Int? = nil) throws -> (run: DistillRun, checkpoint: Checkpoint) {
        let url = try Checkpoint.locate(path)
        var checkpoint = try Checkpoint.read(url)
        if let cwd = checkpoint.workingDirectory { checkpoint.config.rebase(onto: cwd) }
        var config = checkpoint.config
        // Paths inside the run folder follow the folder (a copied run resumes into the copy).
        Checkpoint.anchor(&config, runPaths: checkpoint.runPaths, runFolder: url.deletingLastPathComponent())
        // Checkpoints from before the `threads` key recorded the count only in their meta.
        config.threads = threads ?? config.threads ?? (checkpoint.threads > 0 ? checkpoint.threads : nil)
        let run = try prepare(config)
        // The same inputs, or the continuation would not be the run that was interrupted.
        for (role, hash) in checkpoint.inputs.sorted(by: { $0.key < $1.key }) where run.inputs[role] != hash {
            let file = [("teacher", checkpoint.config.teacher), ("student", checkpoint.config.student),
                        ("data", checkpoint.config.data), ("val", checkpoint.config.val)].first { $0.0 == role }?.1 ?? role
            throw ModelIOError(.mismatch, file: file, "the \(role) file changed since \(url.path) was written (SHA-256 \(hash.prefix(12))…, now \(run.inputs[role]?.prefix(12) ?? "none")…); resuming would not continue the same run")
        }
        try checkpoint.restore(into: run.distiller, file: url.path)
        return (run, checkpoint)
    }

    /// The student model `config.student` names.
    static func loadStudent(_ c: RunConfig, classes: Int?) throws -> Model {
        let s = c.student!
        var isDirectory: ObjCBool = false
        let isFile = FileManager.default.fileExists(atPath: s, isDirectory: &isDirectory) && !isDirectory.boolValue
        if isFile && URL(fileURLWithPath: s).pathExtension.lowercased() != "json" {
            return try ModelLoader.load(s, arch: c.studentArch, archFlag: "--student-arch", inputShape: c.inputShape)
        }
        // An architecture: fresh weights, initialised from the seed.
        let (spec, origin) = try ModelLoader.architecture(s, classes: classes ?? 10)
        let graph = try GraphBuilder.build(spec, origin: origin)
        let layout = spec.inputLayout.flatMap(DataLayout.init(rawValue:)) ?? .nchw
        let model = Model(graph: graph, format: .architectureOnly, architectureName: s, inputLayout: layout, spec: spec)
        var g = RunStreams.initialisation(c.seed)
        initialiseLikePyTorch(graph, generator: &g)
        model.conversions.append("fresh weights: PyTorch's default initialisation, seeded by --seed \(c.seed)")
        return model
    }

    /// The training subset (teacher-shaped) and the validation set (student-shaped). Image
    /// files and ImageNet batches are decoded on demand into a bounded cache (`SampleSource`,
    /// budget `SampleSource.defaultCacheBytes`), converted to each model's colour mode as
    /// Pillow's `convert` does (`ImageColour`); other formats are read whole.
    static func loadData(_ c: RunConfig, teacher: Model?, student: Model,
                         cacheBytes: Int = SampleSource.defaultCacheBytes) throws -> (SampleSource, SampleSource?) {
        let inputModel = teacher ?? student
        let layout = c.dataLayout.flatMap(DataLayout.init(rawValue:)) ?? inputModel.inputLayout
        var pre = try c.normalize.map { try DataLoader.Preprocessing.normalization($0) } ?? .init()
        if let s = c.scale { pre.scale = s }
        let reading = c.readOptions
        // Teacher and student read the same samples: a flat model takes the other's channel count.
        func channels(_ m: Model) -> Int? { m.graph.inputShape.count == 3 ? m.graph.inputShape[0] : nil }
        // Training and validation share the budget when both are decoded on demand.
        let train = try SampleSource.open(c.data!, stored: layout, preprocessing: pre, options: reading, channels: channels(inputModel) ?? channels(student),
                                          inputShape: inputModel.graph.inputShape, layout: inputModel.inputLayout,
                                          cacheBytes: c.val == nil ? cacheBytes : cacheBytes - cacheBytes / 4)
        noteData(train, file: c.data!)
        if let y = train.y, c.trainFraction < 1 {
            // Labels are checked against the models later; out-of-range ones still form a class here.
            var g = RunStreams.subset(c.seed)
            train.restrict(to: DataSelection.stratified(labels: y, fraction: c.trainFraction, generator: &g))
        }
        let val = try c.val.map {
            try SampleSource.open($0, stored: layout, preprocessing: pre, options: reading, channels: channels(student) ?? channels(inputModel),
                                  inputShape: student.graph.inputShape, layout: student.inputLayout, cacheBytes: cacheBytes / 4)
        }
        if let val, let v = c.val { noteData(val, file: v) }
        return (train, val)
    }

    /// What the data verbs say on stderr about a set read for training: colour conversion,
    /// skipped images, and the cache of sets decoded on demand.
    static func noteData(_ s: SampleSource, file: String) {
        var lines: [String] = []
        if s.grayConverted > 0 {
            lines.append("bss: note: converted \(s.grayConverted) colour image\(s.grayConverted == 1 ? "" : "s") of \(file) to gray for the model's 1-channel input, as Pillow's convert(\"L\") does (ITU-R 601-2 luma)")
        }
        if !s.skippedImages.isEmpty {
            let listed = s.skippedImages.prefix(5).joined(separator: ", ") + (s.skippedImages.count > 5 ? ", …" : "")
            lines.append("bss: note: skipped \(s.skippedImages.count) image\(s.skippedImages.count == 1 ? "" : "s") of \(file) that could not be decoded (--skip-bad-images): \(listed)")
        }
        if let c = s.cacheStatistics {
            lines.append("bss: note: \(file): \(s.count) samples decoded on demand, cache \(MemoryBudget.describe(UInt64(c.bytes))) of \(MemoryBudget.describe(UInt64(c.budget))) filled after the first pass"
                         + (c.bytes >= c.budget - c.budget / 64 ? " (full: later epochs decode again what it cannot keep; --max-memory raises it)" : ""))
        }
        guard !lines.isEmpty, MPIWorld.current?.isRoot ?? true else { return }
        FileHandle.standardError.write((lines.joined(separator: "\n") + "\n").data(using: .utf8)!)
    }

    /// Writes the resolved config next to the output.
    public func writeConfig() throws {
        try writeText(config.yaml, to: artifacts.config)
    }

    /// The TensorBoard log of the run (`tensorboard` key), opened on first use; nil without one.
    public func tensorBoard() throws -> TrainingBoard? {
        guard let dir = config.tensorboard else { return nil }
        if board == nil { board = try TrainingBoard(directory: dir) }
        return board
    }
    private var board: TrainingBoard?

    /// Logs a batch to TensorBoard when the run has a log (errors surface at `endEpoch`).
    public func logBatch(_ b: BatchProgress) {
        if boardFailure == nil {
            do { try tensorBoard()?.batch(b, bss: config.method == .bss) } catch { boardFailure = error }
        }
    }
    private var boardFailure: Error?

    /// After every epoch: the checkpoint, the metrics log and the curves (each atomically), and
    /// the epoch's scalars in the TensorBoard log.
    public func endEpoch(createdBy: String) throws {
        if let boardFailure { throw boardFailure }
        if let last = distiller.history.last { try tensorBoard()?.epoch(last, bss: config.method == .bss) }
        try Checkpoint(distiller, threads: threads, inputs: inputs, runFolder: artifacts.checkpoint.deletingLastPathComponent())
            .write(to: artifacts.checkpoint, createdBy: createdBy)
        try MetricsLog.write(distiller.history, to: artifacts.metrics)
        let title = "bss distill: \(config.method.rawValue)" + (config.method.usesBSS ? " (\(config.resolvedAttack.rawValue))" : "")
            + " — \(URL(fileURLWithPath: config.student ?? "").lastPathComponent)"
        try CurvesPlot.write(distiller.history, title: title, to: artifacts.curves)
    }

    /// Writes the trained student to `out` in its own format (`ModelWriter`).
    @discardableResult
    public func export() throws -> ModelWriter.Report {
        // Provenance for formats that keep it (ONNX metadata_props): the run's inputs and method.
        let student = distiller.student
        student.formatPayload["provenance.distill_method"] = config.method.rawValue
        for (k, v) in inputs { student.formatPayload["provenance.distill_\(k)_sha256"] = v }
        if let t = config.teacher, config.method.usesTeacher { student.formatPayload["provenance.distill_teacher"] = t }
        if let d = config.data { student.formatPayload["provenance.distill_data"] = d }
        return try ModelWriter.write(student, to: artifacts.output)
    }
}

extension RunConfig {
    /// Relative file paths made absolute under `directory` (the directory a checkpointed run was
    /// started in), so `--resume` works from anywhere. Names that are not files there (presets
    /// such as `heo2019-resnet8`) stay as they are; `out` follows its directory.
    mutating func rebase(onto directory: String) {
        let fm = FileManager.default
        func rebased(_ p: String?, parentOnly: Bool = false) -> String? {
            guard let p, !p.hasPrefix("/") else { return p }
            let full = URL(fileURLWithPath: directory).appendingPathComponent(p).standardizedFileURL
            let probe = parentOnly ? full.deletingLastPathComponent().path : full.path
            return fm.fileExists(atPath: probe) ? full.path : p
        }
        teacher = rebased(teacher); teacherArch = rebased(teacherArch)
        student = rebased(student); studentArch = rebased(studentArch)
        data = rebased(data); val = rebased(val)
        out = rebased(out, parentOnly: true)
        tensorboard = rebased(tensorboard, parentOnly: true)
    }
}

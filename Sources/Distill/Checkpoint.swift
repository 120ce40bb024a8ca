import Foundation
import ModelIO
import NN
import Tensor

/// An end-of-epoch checkpoint of a distillation run: one `.npz`, written atomically.
///
/// | member | content |
/// |---|---|
/// | `meta` | 0-d unicode JSON: `format` "bss-distill-checkpoint", `version` 1, `role` "student", `holds` (what the file is), `epoch` (completed), `epochs`, `student_file`, `student_format`, `teacher_file`, `inputs_sha256` (SHA-256 of the teacher, initial student and data files the run read), `working_directory` (what relative paths in the config are relative to), `run_paths` (config paths inside the run folder, relative to it), `config_yaml` (the resolved run config), `config_sha256`, `arrays_sha256` (per member; see Checkpoint+Integrity.swift), `rng` (training stream, 4 words as decimal strings), `dropout_rng` (per dropout node), `optimizer_steps`, `threads`, `metrics` (one object per completed epoch), `created_by` |
/// | `student.<key>` | the student's state dict (PyTorch keys; BatchNorm running statistics and `num_batches_tracked` included) |
/// | `optimizer.<key>` | the SGD momentum buffers (`momentum_buffer.<i>`, i over the trainable parameters, the student's then the feature regressors') |
/// | `features.<key>` | FitNets regressors' parameters and buffers (`fitnet.<pair>.{conv,bn}.<param>`), feature methods only |
///
/// `numpy.load` reads it without `allow_pickle`. Restoring the student's weights, the optimiser
/// state, the random streams and the epoch makes the resumed run continue exactly.
public struct Checkpoint {
    public static let format = "bss-distill-checkpoint"
    /// 2: integrity digests and run-folder paths (version 1 had neither and is not resumed).
    public static let version = 2

    public var config: RunConfig
    public var configYAML: String
    public var state: Distiller.TrainingState
    public var student: StateDict
    public var studentFile: String?
    public var studentFormat: String
    public var teacherFile: String?
    public var threads: Int
    /// SHA-256 of each input file by role (`teacher`, `student`, `data`, `val`).
    public var inputs: [String: String]
    /// The directory the run was started in: relative paths in `config` are relative to it.
    public var workingDirectory: String?
    /// Config paths inside the run folder, relative to it (`Checkpoint+Integrity.swift`).
    public var runPaths: [String: String] = [:]

    /// The checkpoint of `distiller` as it is now, to be written into `runFolder` (whose
    /// paths are then recorded relative to it).
    public init(_ distiller: Distiller, threads: Int, inputs: [String: String] = [:], runFolder: URL? = nil) {
        self.inputs = inputs
        let cwd = FileManager.default.currentDirectoryPath
        workingDirectory = cwd
        if let runFolder { runPaths = Self.runRelativePaths(distiller.config, runFolder: runFolder, workingDirectory: cwd) }
        config = distiller.config
        configYAML = distiller.config.yaml
        state = distiller.trainingState
        student = StateDict(model: distiller.student)
        studentFile = distiller.student.file
        studentFormat = distiller.student.format.rawValue
        teacherFile = distiller.teacher?.file
        self.threads = threads
    }

    public func write(to url: URL, createdBy: String) throws {
        var arrays: [(key: String, array: NumpyArray)] = student.entries.map { (key: "student." + $0.key, array: $0.array) }
        arrays += state.optimizer.sorted { $0.key < $1.key }.map { (key: "optimizer." + $0.key, array: NumpyArray($0.value)) }
        arrays += state.features.sorted { $0.key < $1.key }.map { (key: "features." + $0.key, array: NumpyArray($0.value)) }
        var digests: [String: String] = [:]
        for (k, a) in arrays { digests[k] = Self.arrayDigest(a) }
        let meta: [String: Any] = [
            "format": Self.format, "version": Self.version, "role": "student",
            "holds": "a student being distilled by bss: its weights (student.*, a PyTorch state dict), SGD momentum buffers (optimizer.*), random-stream states, the completed epoch and the resolved run config; resume with `bss distill --resume DIR`",
            "epoch": state.completedEpochs, "epochs": config.epochs,
            "student_file": studentFile as Any? ?? NSNull(), "student_format": studentFormat,
            "teacher_file": teacherFile as Any? ?? NSNull(), "config_yaml": configYAML, "inputs_sha256": inputs,
            "working_directory": workingDirectory as Any? ?? NSNull(), "run_paths": runPaths,
            "config_sha256": Self.configDigest(configYAML), "arrays_sha256": digests,
            "rng": state.generator.map { String($0) },
            "dropout_rng": state.dropout.mapValues { $0.map { String($0) } },
            "optimizer_steps": state.optimizerSteps, "threads": threads,
            "metrics": try state.history.map { m -> Any in
                try JSONSerialization.jsonObject(with: Data(m.jsonLine.utf8))
            },
            "created_by": createdBy,
        ]
        let json = try JSONSerialization.data(withJSONObject: meta, options: [.sortedKeys])
        var entries: [(key: String, array: NumpyArray)] = [("meta", NumpyArray(string: String(decoding: json, as: UTF8.self)))]
        entries += arrays
        try Npz.write(entries, to: url)
    }

    /// Reads a checkpoint; anything that is not one is a one-line error naming the file.
    public static func read(_ url: URL) throws -> Checkpoint {
        let file = url.path
        let entries = try Npz.read(url)
        guard let metaText = entries.first(where: { $0.key == "meta" })?.array.stringValue,
              let meta = try? JSONSerialization.jsonObject(with: Data(metaText.utf8)) as? [String: Any],
              meta["format"] as? String == format else {
            throw ModelIOError(.malformed, file: file, "not a bss distillation checkpoint (no meta with format \"\(format)\")")
        }
        guard let version = meta["version"] as? Int, version <= Self.version else {
            throw ModelIOError(.unsupported, file: file, location: "meta.version", "written by a newer bss; expected version \(Self.version)")
        }
        guard version == Self.version else {
            throw ModelIOError(.unsupported, file: file, location: "meta.version",
                               "version \(version) has no integrity digests and cannot be resumed by this bss; start the run again")
        }
        func field<T>(_ key: String, _ type: T.Type) throws -> T {
            guard let v = meta[key] as? T else {
                throw ModelIOError(.malformed, file: file, location: "meta.\(key)", "missing or of the wrong type")
            }
            return v
        }
        func words(_ v: Any?, _ key: String) throws -> [UInt64] {
            guard let s = v as? [String], let w = Optional(s.compactMap(UInt64.init)), w.count == s.count else {
                throw ModelIOError(.malformed, file: file, location: "meta.\(key)", "expected random-stream state words")
            }
            return w
        }
        let yaml = try field("config_yaml", String.self)
        try verify(arrays: entries, recorded: meta["arrays_sha256"], configYAML: yaml,
                   configDigest: meta["config_sha256"], file: file)
        let config = try RunConfig.parse(yaml: yaml, source: file + " (config_yaml)")
        let metricsObjects = try field("metrics", [Any].self)
        let history = try metricsObjects.enumerated().map { i, o -> EpochMetrics in
            do {
                return try JSONDecoder().decode(EpochMetrics.self, from: JSONSerialization.data(withJSONObject: o))
            } catch {
                throw ModelIOError(.malformed, file: file, location: "meta.metrics[\(i)]", "not an epoch record")
            }
        }
        var dropout: [String: [UInt64]] = [:]
        for (k, v) in (meta["dropout_rng"] as? [String: Any]) ?? [:] { dropout[k] = try words(v, "dropout_rng.\(k)") }
        var optimizer: [String: Tensor] = [:], features: [String: Tensor] = [:]
        var student: [(key: String, array: NumpyArray)] = []
        for (k, a) in entries where k != "meta" {
            if k.hasPrefix("student.") {
                student.append((String(k.dropFirst("student.".count)), a))
            } else if k.hasPrefix("features.") {
                features[String(k.dropFirst("features.".count))] = try a.tensor(file: file, key: k)
            } else if k.hasPrefix("optimizer.") {
                optimizer[String(k.dropFirst("optimizer.".count))] = try a.tensor(file: file, key: k)
            } else {
                throw ModelIOError(.malformed, file: file, location: k, "unexpected member in a checkpoint")
            }
        }
        let state = Distiller.TrainingState(completedEpochs: try field("epoch", Int.self), generator: try words(meta["rng"], "rng"),
                                            dropout: dropout, optimizer: optimizer,
                                            optimizerSteps: try field("optimizer_steps", Int.self), history: history,
                                            features: features)
        var c = Checkpoint(config: config, configYAML: yaml, state: state, student: StateDict(entries: student),
                           studentFile: meta["student_file"] as? String, studentFormat: (meta["student_format"] as? String) ?? "",
                           teacherFile: meta["teacher_file"] as? String, threads: (meta["threads"] as? Int) ?? 0,
                           inputs: (meta["inputs_sha256"] as? [String: String]) ?? [:])
        c.configYAML = yaml
        c.workingDirectory = meta["working_directory"] as? String
        c.runPaths = (meta["run_paths"] as? [String: String]) ?? [:]
        return c
    }

    init(config: RunConfig, configYAML: String, state: Distiller.TrainingState, student: StateDict,
         studentFile: String?, studentFormat: String, teacherFile: String?, threads: Int, inputs: [String: String]) {
        self.config = config; self.configYAML = configYAML; self.state = state; self.student = student
        self.studentFile = studentFile; self.studentFormat = studentFormat; self.teacherFile = teacherFile
        self.threads = threads; self.inputs = inputs
    }

    /// Puts the checkpoint's student weights and training state into `distiller` (built from
    /// the same config). `file` names the checkpoint in errors.
    public func restore(into distiller: Distiller, file: String) throws {
        try student.load(into: distiller.student, file: file)
        try distiller.restore(state, file: file)
    }

    /// The checkpoint file in `path`: the file itself, or the one `*.checkpoint.npz` in a folder.
    public static func locate(_ path: String) throws -> URL {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelIOError(.notFound, file: path, "no such checkpoint file or run directory")
        }
        guard isDirectory.boolValue else { return URL(fileURLWithPath: path) }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
            .filter { $0.hasSuffix(RunArtifacts.checkpointSuffix) && !$0.hasPrefix(".") }.sorted()
        guard names.count == 1 else {
            throw ModelIOError(.notFound, file: path, names.isEmpty
                ? "no *\(RunArtifacts.checkpointSuffix) in this directory: nothing to resume"
                : "several checkpoints (\(names.joined(separator: ", "))); give the file to --resume")
        }
        return URL(fileURLWithPath: path).appendingPathComponent(names[0])
    }
}

/// The files a run writes next to its output `OUT` (say `runs/student.h5`), named from OUT's
/// whole file name so that two outputs with one stem (`s.npz`, `s.h5`) never share them:
/// `student.h5.config.yaml` (resolved config), `student.h5.metrics.jsonl` (one line per epoch),
/// `student.h5.curves.svg` (the curves), `student.h5.checkpoint.npz` (the latest end-of-epoch
/// state). The folder holding them is the run folder.
public struct RunArtifacts: Sendable {
    public static let checkpointSuffix = ".checkpoint.npz"
    public var output: URL
    public var config: URL
    public var metrics: URL
    public var curves: URL
    public var checkpoint: URL

    public init(output: String) {
        self.output = URL(fileURLWithPath: output)
        let dir = self.output.deletingLastPathComponent(), name = self.output.lastPathComponent
        config = dir.appendingPathComponent(name + ".config.yaml")
        metrics = dir.appendingPathComponent(name + ".metrics.jsonl")
        curves = dir.appendingPathComponent(name + ".curves.svg")
        checkpoint = dir.appendingPathComponent(name + Self.checkpointSuffix)
    }

    /// Every file of the run: the output and its side files.
    public var all: [URL] { [output, config, metrics, curves, checkpoint] }
}

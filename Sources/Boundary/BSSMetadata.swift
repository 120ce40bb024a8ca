import Foundation
import ModelIO

/// The `meta` JSON of a BSS data set: what made it, from what, how, and what it holds
/// (Schemas/bss-dataset.schema.json). Stored as the root attribute `meta` in HDF5 and as a
/// 0-d unicode array `meta` in `.npz`, so `json.loads(f.attrs["meta"])` /
/// `json.loads(str(np.load(p)["meta"]))` read it without pickling.
///
/// Keys are snake_case; absent optional values are written as JSON `null`, so every parameter
/// is named in every file.
public struct BSSMetadata: Codable, Equatable, Sendable {
    /// Always `bss-dataset`.
    public var format = "bss-dataset"
    /// Bumped when the arrays or this object change incompatibly; this is version 1.
    public var formatVersion = 1
    /// `bss <version>`.
    public var tool: String
    /// The command that wrote the file (`bss generate`).
    public var createdBy: String
    public var teacher: Teacher
    public var data: DataSource
    /// Layout of `x_bss` in the file: `nchw` (PyTorch) or `nhwc` (Keras): the teacher's own.
    public var inputLayout: String
    /// Per-sample shape of `x_bss` in the file (in `inputLayout`).
    public var inputShape: [Int]
    public var algorithm: Algorithm
    /// The attack that made the samples when it is not the BSS search (`--attack fgsm|pgd|deepfool|noise`);
    /// absent for BSS. `algorithm` then holds the BSS parameters (used by `noise` for its norms).
    public var attack: Attack?
    public var selection: Selection
    /// Seed of the target sampling (`--seed`).
    public var seed: UInt64
    public var counts: Counts
    /// Processes that searched the pairs (`mpirun -np N`; 1 without MPI; nil in files written
    /// before it was recorded). The content does not depend on it (docs/mpi.md).
    public var mpiWorldSize: Int?
    /// What each `status` code means under `algorithm.mode` ("1", "2", "3").
    public var statusCodes: [String: String]
    /// Every array in the file: numpy dtype name and shape.
    public var arrays: [String: ArrayInfo]

    public struct Teacher: Codable, Equatable, Sendable {
        /// The file name as given (nil for an architecture with fresh weights).
        public var file: String?
        public var sha256: String?
        /// Preset name, spec path or Keras model name.
        public var architecture: String
        /// The model format (`ModelFormat.rawValue`).
        public var format: String
        /// Per-sample input shape in the engine layout (NCHW) and the number of classes.
        public var inputShape: [Int]
        public var classes: Int

        public init(file: String?, sha256: String?, architecture: String, format: String, inputShape: [Int], classes: Int) {
            self.file = file; self.sha256 = sha256; self.architecture = architecture; self.format = format
            self.inputShape = inputShape; self.classes = classes
        }
        enum CodingKeys: String, CodingKey { case file, sha256, architecture, format, inputShape = "input_shape", classes }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(file, forKey: .file); try c.encode(sha256, forKey: .sha256)
            try c.encode(architecture, forKey: .architecture); try c.encode(format, forKey: .format)
            try c.encode(inputShape, forKey: .inputShape); try c.encode(classes, forKey: .classes)
        }
    }

    public struct DataSource: Codable, Equatable, Sendable {
        public var file: String
        /// SHA-256 of the file (of a folder: `SHA256.path`'s manifest hash).
        public var sha256: String
        /// Samples in the file.
        public var samples: Int
        /// How the file stores images (`nchw`/`nhwc`).
        public var storedLayout: String
        /// `--scale` applied on reading (nil: none); `x_bss` is in the scaled space the teacher reads.
        public var scale: Float?
        /// `--normalize` applied after scaling (a preset name or `MEANS:STDS`), nil for none.
        public var normalize: String?

        public init(file: String, sha256: String, samples: Int, storedLayout: String, scale: Float?, normalize: String? = nil) {
            self.file = file; self.sha256 = sha256; self.samples = samples; self.storedLayout = storedLayout
            self.scale = scale; self.normalize = normalize
        }
        enum CodingKeys: String, CodingKey { case file, sha256, samples, storedLayout = "stored_layout", scale, normalize }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(file, forKey: .file); try c.encode(sha256, forKey: .sha256)
            try c.encode(samples, forKey: .samples); try c.encode(storedLayout, forKey: .storedLayout)
            try c.encode(scale, forKey: .scale); try c.encode(normalize, forKey: .normalize)
        }
    }

    public struct Algorithm: Codable, Equatable, Sendable {
        /// Always `bss` (Heo et al., AAAI 2019).
        public var name = "bss"
        public var mode: String
        public var eta: Float
        public var eps: Float
        public var maxSteps: Int
        public var stepNorm: String
        /// `[lo, hi]` or nil.
        public var clip: [Float]?

        public init(_ p: BSSParameters) {
            mode = p.mode.rawValue; eta = p.eta; eps = p.eps; maxSteps = p.maxSteps; stepNorm = p.stepNorm.rawValue
            clip = p.clip.map { [$0.lowerBound, $0.upperBound] }
        }

        /// The parameters back, or nil if a value is not one this version knows.
        public var parameters: BSSParameters? {
            guard let m = BSSMode(rawValue: mode), let n = StepNorm(rawValue: stepNorm) else { return nil }
            var range: ClosedRange<Float>?
            if let clip {
                guard clip.count == 2, clip[0] <= clip[1] else { return nil }
                range = clip[0]...clip[1]
            }
            return BSSParameters(mode: m, eta: eta, eps: eps, maxSteps: maxSteps, stepNorm: n, clip: range)
        }
        enum CodingKeys: String, CodingKey { case name, mode, eta, eps, maxSteps = "max_steps", stepNorm = "step_norm", clip }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name); try c.encode(mode, forKey: .mode)
            try c.encode(eta, forKey: .eta); try c.encode(eps, forKey: .eps)
            try c.encode(maxSteps, forKey: .maxSteps); try c.encode(stepNorm, forKey: .stepNorm)
            try c.encode(clip, forKey: .clip)
        }
    }

    /// An attack other than BSS and the values it used (docs/algorithm.md, "Other attacks").
    public struct Attack: Codable, Equatable, Sendable {
        /// `fgsm`, `pgd`, `deepfool` or `noise`.
        public var name: String
        public var eps: Float?
        public var step: Float?
        public var steps: Int?
        public var overshoot: Float?
        public var clip: [Float]?

        public init(kind: AttackKind, parameters p: AttackParameters) {
            name = kind.rawValue
            clip = p.clip.map { [$0.lowerBound, $0.upperBound] }
            switch kind {
            case .fgsm: eps = p.epsilon
            case .pgd: eps = p.epsilon; step = p.resolvedStepSize; steps = p.steps
            case .deepfool: steps = p.steps; overshoot = p.overshoot
            default: break
            }
        }
    }

    public struct Selection: Codable, Equatable, Sendable {
        /// `correct` (rows the teacher classifies correctly) or `all`.
        public var base: String
        /// `--limit` on base samples, or nil.
        public var limit: Int?
        /// `sampled`, `all` or `runner-up`.
        public var targets: String
        /// Targets per base sample for `sampled`.
        public var perSample: Int
        /// Whether only accepted pairs were written.
        public var acceptedOnly: Bool

        public init(base: String, limit: Int?, targets: String, perSample: Int, acceptedOnly: Bool) {
            self.base = base; self.limit = limit; self.targets = targets; self.perSample = perSample
            self.acceptedOnly = acceptedOnly
        }
        enum CodingKeys: String, CodingKey { case base, limit, targets, perSample = "per_sample", acceptedOnly = "accepted_only" }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(base, forKey: .base); try c.encode(limit, forKey: .limit)
            try c.encode(targets, forKey: .targets); try c.encode(perSample, forKey: .perSample)
            try c.encode(acceptedOnly, forKey: .acceptedOnly)
        }
    }

    public struct Counts: Codable, Equatable, Sendable {
        public var baseSamples: Int
        /// Pairs searched, and pairs in the file (fewer with `accepted_only`).
        public var pairsTried: Int
        public var pairsWritten: Int
        public var accepted: Int
        public var rejectedOtherClass: Int
        public var rejectedStepLimit: Int

        /// The counts of a finished search (`pairsWritten` = all pairs; `BSSDataset.rows` updates it).
        public init(baseSamples: Int, result: BSSBatchResult) {
            self.init(baseSamples: baseSamples, pairsTried: result.status.count, pairsWritten: result.status.count,
                      accepted: result.count(.accepted), rejectedOtherClass: result.count(.rejectedOtherClass),
                      rejectedStepLimit: result.count(.rejectedStepLimit))
        }

        public init(baseSamples: Int, pairsTried: Int, pairsWritten: Int, accepted: Int, rejectedOtherClass: Int, rejectedStepLimit: Int) {
            self.baseSamples = baseSamples; self.pairsTried = pairsTried; self.pairsWritten = pairsWritten
            self.accepted = accepted; self.rejectedOtherClass = rejectedOtherClass; self.rejectedStepLimit = rejectedStepLimit
        }
        enum CodingKeys: String, CodingKey {
            case baseSamples = "base_samples", pairsTried = "pairs_tried", pairsWritten = "pairs_written", accepted
            case rejectedOtherClass = "rejected_other_class", rejectedStepLimit = "rejected_step_limit"
        }
    }

    public struct ArrayInfo: Codable, Equatable, Sendable {
        /// numpy dtype name: `int64`, `int32`, `int8`, `float32`.
        public var dtype: String
        public var shape: [Int]
        public init(dtype: String, shape: [Int]) { self.dtype = dtype; self.shape = shape }
    }

    public init(tool: String, createdBy: String, teacher: Teacher, data: DataSource, inputLayout: String, inputShape: [Int],
                algorithm: Algorithm, selection: Selection, seed: UInt64, counts: Counts, mpiWorldSize: Int = 1) {
        self.tool = tool; self.createdBy = createdBy; self.teacher = teacher; self.data = data
        self.inputLayout = inputLayout; self.inputShape = inputShape; self.algorithm = algorithm
        self.selection = selection; self.seed = seed; self.counts = counts; self.mpiWorldSize = mpiWorldSize
        let mode = BSSMode(rawValue: algorithm.mode) ?? .paper
        statusCodes = Dictionary(uniqueKeysWithValues: BSSStatus.allCases.map { ("\($0.rawValue)", $0.meaning(in: mode)) })
        arrays = [:]
    }

    /// Records an attack other than BSS: `attack` and the status meanings of its samples.
    public mutating func setAttack(_ kind: AttackKind, _ parameters: AttackParameters) {
        guard !kind.isBSS else { return }
        attack = Attack(kind: kind, parameters: parameters)
        statusCodes = Dictionary(uniqueKeysWithValues: BSSStatus.allCases.map { ("\($0.rawValue)", BSSStatus.attackMeaning($0)) })
    }

    enum CodingKeys: String, CodingKey {
        case format, formatVersion = "format_version", tool, createdBy = "created_by", teacher, data
        case inputLayout = "input_layout", inputShape = "input_shape", algorithm, attack, selection, seed, counts
        case statusCodes = "status_codes", arrays, mpiWorldSize = "mpi_world_size"
    }

    /// Compact JSON with sorted keys (the same metadata always gives the same text).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Parses `meta` text; a `ModelIOError` naming `file` and the offending key otherwise.
    public static func parse(_ text: String, file: String) throws -> BSSMetadata {
        do {
            return try JSONDecoder().decode(BSSMetadata.self, from: Data(text.utf8))
        } catch let DecodingError.keyNotFound(key, context) {
            throw ModelIOError(.mismatch, file: file, location: "meta", "missing key '\(path(context.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw ModelIOError(.mismatch, file: file, location: "meta", "wrong type at '\(path(context.codingPath))'")
        } catch {
            throw ModelIOError(.malformed, file: file, location: "meta", "not valid JSON metadata")
        }
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

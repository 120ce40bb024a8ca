import Boundary
import Foundation
import ModelIO

/// What the student learns from (docs/algorithm.md, "Distillation loss").
///
/// - `original`: cross-entropy on the labels only (no teacher);
/// - `hinton`: `CE + α·KD_T` on the clean batch;
/// - `bss`: `CE + α·KD_T + β·KD_T` on boundary supporting samples.
/// - `fitnet`, `at`, `fsp`: `CE + w·term` on the teacher's and student's feature maps, as
///   RepDistiller's scripts run them (no KD: its `-a 0`; FeatureSettings.swift);
/// - `bss+fsp`: the `bss` loss plus `w·FSP`.
public enum DistillMethod: String, Sendable, CaseIterable, Codable {
    case original, hinton, bss, fitnet, at, fsp
    case bssFSP = "bss+fsp"

    /// Whether the loss uses the teacher at all.
    public var usesTeacher: Bool { self != .original }
    /// Whether the loss has the KD term on the clean batch (weight `alpha`).
    public var usesKD: Bool { self == .hinton || usesBSS }
    /// Whether the loss has the KD term on boundary supporting samples (weight `beta`).
    public var usesBSS: Bool { self == .bss || self == .bssFSP }
    /// The feature term the method adds, if any.
    public var featureTerm: FeatureLossKind? {
        switch self {
        case .fitnet: return .fitnet
        case .at: return .at
        case .fsp, .bssFSP: return .fsp
        default: return nil
        }
    }
}

/// A loss weight over epochs: the paper's schedule (`alpha` 4 → 1, `beta` 2 → 0 by 75 %) or a
/// constant. Written as `schedule` or a number in configs and flags.
public enum WeightSchedule: Equatable, Sendable {
    case schedule
    case constant(Float)

    /// The text form used in configs and flags.
    public var text: String {
        switch self {
        case .schedule: return "schedule"
        case let .constant(v): return RunConfig.format(v)
        }
    }
}

/// Every setting of one `bss distill` run: files, method, optimiser, schedules, BSS search,
/// augmentation, seed.
///
/// Defaults are the authors' CIFAR-10 recipe (docs/algorithm.md, "Training recipe"): method `bss`, 80 epochs,
/// batch 256, SGD lr 0.1 (divided by 10 after 50 % and 75 % of the epochs), momentum 0.9,
/// weight decay 1e-4, `T = 3`, `alpha` 4 → 1, `beta` 2 → 0 by 75 %, 64 BSS per batch, paper-mode
/// search. Every field is a key of a YAML/JSON run config and a flag (`batch_size` ↔
/// `--batch-size`); `RunConfig+Keys.swift` lists them. The resolved config (defaults ← file ←
/// flags) is written next to the output and stored in every checkpoint.
public struct RunConfig: Equatable, Sendable {
    // Files.
    /// The teacher model file (not needed for `original`).
    public var teacher: String?
    /// Architecture of a weight-only teacher file (preset name or JSON spec).
    public var teacherArch: String?
    /// Per-sample input shape for ONNX teacher/student files whose input is symbolic (`input_shape`).
    public var inputShape: [Int]?
    /// The student: a model file, or an architecture (preset name / JSON spec) for fresh weights.
    public var student: String?
    /// Architecture of a weight-only student file.
    public var studentArch: String?
    /// Class count of a fresh student built from a preset; nil = the teacher's (10 without one).
    /// A student file or JSON spec has its own.
    public var classes: Int?
    /// Training data.
    public var data: String?
    /// Validation data (accuracy reported each epoch), optional.
    public var val: String?
    /// Where the trained student goes (`.npz`/`.h5` state dict, `.h5`/`.keras` for Keras students).
    public var out: String?
    /// Directory for TensorBoard event files (`TrainingBoard`), nil for none.
    public var tensorboard: String?
    /// Layout of images in `data`/`val` (`nchw`/`nhwc`); nil = the teacher's native layout.
    public var dataLayout: String?
    /// Factor applied to inputs after reading (e.g. 1/255).
    public var scale: Float?
    /// Per-channel normalisation: a preset (`cifar10`, `mnist`) or `m1,m2,…:s1,s2,…`.
    public var normalize: String?
    /// CIFAR-100 label of `data`/`val` (`fine`/`coarse`); nil = fine, and not allowed for other formats.
    public var label: String?
    /// `H,W` images of `data`/`val` are resized to (bilinear, as Pillow); nil = as stored.
    public var imageSize: String?
    /// Tiny ImageNet label numbering (`wnids`/`sorted`); nil = not chosen.
    public var classOrder: String?
    /// Leave out undecodable images of `data`/`val` instead of stopping.
    public var skipBadImages = false

    /// What `label`, `imageSize`, `classOrder` and `skipBadImages` ask `DataLoader` to read
    /// (values were checked when the keys were set).
    public var readOptions: DataLoader.ReadOptions {
        DataLoader.ReadOptions(cifarLabel: label.flatMap(DataLoader.CIFARLabel.init(rawValue:)),
                               imageSize: imageSize.flatMap { try? DataLoader.ReadOptions.imageSize($0) },
                               classOrder: classOrder.flatMap(DataLoader.ClassOrder.init(rawValue:)),
                               skipBadImages: skipBadImages)
    }

    // Method and optimiser.
    public var method: DistillMethod = .bss
    public var epochs = 80
    public var batchSize = 256
    /// Initial learning rate.
    public var lr: Float = 0.1
    /// Fractions of `epochs` after which the learning rate is multiplied by `lrDecay`.
    public var lrMilestones: [Double] = [0.5, 0.75]
    public var lrDecay: Float = 0.1
    public var momentum: Float = 0.9
    public var weightDecay: Float = 1e-4
    public var nesterov = false

    // Loss.
    /// Distillation temperature `T` (no `T²` factor, as in the authors' code).
    public var temperature: Float = 3
    public var alpha: WeightSchedule = .schedule
    public var beta: WeightSchedule = .schedule
    /// Feature methods: pairs, weights, extra terms (RunConfig+FeatureKeys.swift).
    public var features = FeatureSettings()

    // BSS search.
    /// Base samples (hence BSS attempts) per training batch, `N`.
    public var bssPerBatch = 64
    public var bssMode: BSSMode = .paper
    /// Search parameters; nil = the defaults of `bssMode`.
    public var bssEta: Float?
    public var bssEps: Float?
    public var bssMaxSteps: Int?
    public var bssStepNorm: StepNorm?
    /// `[lo, hi]`, or `[]` for no clipping; nil = the mode's default.
    public var bssClip: [Float]?
    /// The attack in the BSS slot; nil = the BSS search of `bssMode` (RunConfig+AttackKeys.swift).
    public var attack: AttackKind?
    public var attackEps: Float = 0.03
    /// PGD step; nil = `attackEps / 4`.
    public var attackStep: Float?
    public var attackSteps = 10
    public var attackOvershoot: Float = 0.02

    // Data handling and reproducibility.
    public var seed: UInt64 = 0
    /// Fraction of the training split used, drawn per class (stratified) from `seed`.
    public var trainFraction: Double = 1
    /// Random-crop zero padding in pixels (0 = no crop).
    public var augmentCrop = 0
    /// Random horizontal flips (probability 1/2).
    public var augmentFlip = false
    /// Samples per forward pass when evaluating (teacher logits, validation).
    public var evalBatchSize = 256
    /// Worker threads (`Parallel.threads`). Results are bit-identical only for the same count,
    /// so the CLI records the count it used (nil: all cores) and a resumed run reuses it.
    public var threads: Int?

    // Recorded, not chosen: the ranks of the run (`mpirun -np N`; 1 without MPI). DistillRun sets it.
    public var mpiWorldSize = 1

    public init() {}

    /// The BSS search parameters this config asks for (mode defaults, then overrides).
    public var bssParameters: BSSParameters {
        var p = BSSParameters.defaults(for: bssMode)
        if let v = bssEta { p.eta = v }
        if let v = bssEps { p.eps = v }
        if let v = bssMaxSteps { p.maxSteps = v }
        if let v = bssStepNorm { p.stepNorm = v }
        if let c = bssClip { p.clip = c.count == 2 ? c[0]...c[1] : nil }
        return p
    }

    /// Whether images are augmented (so teacher logits cannot be cached).
    public var augments: Bool { augmentCrop > 0 || augmentFlip }

    /// A shortest round-tripping decimal form of `v` (`0.1`, `1e-04` → `0.0001`).
    static func format(_ v: Float) -> String {
        if v == v.rounded(), abs(v) < 1e7 { return String(Int(v)) }
        return "\(v)"
    }
}

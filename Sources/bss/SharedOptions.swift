import ArgumentParser
import Boundary
import Distill
import Foundation
import ModelIO
import Tensor

// One option group per concept, one spelling, used by every verb that needs it. Options with a
// fixed set of values are enums, so `--help` lists the values and the parser refuses others.

extension BSSMode: ExpressibleByArgument {}
extension StepNorm: ExpressibleByArgument {}
extension DataLayout: ExpressibleByArgument {}
extension BaseFilter: ExpressibleByArgument {}
extension DistillMethod: ExpressibleByArgument {}
extension ModelWriter.Target: ExpressibleByArgument {}

/// `--targets` of `bss generate` and `bss similarity`: which target classes each base sample gets.
enum TargetChoice: String, CaseIterable, ExpressibleByArgument {
    case all, sampled
    case runnerUp = "runner-up"

    func rule(perSample: Int) -> TargetRule {
        switch self {
        case .all: return .all
        case .sampled: return .sampled(perSample: perSample)
        case .runnerUp: return .runnerUp
        }
    }
}

/// `--bss-clip LO,HI` or `--bss-clip none`: the clamp of the BSS search (one value, so a
/// negative bound is not mistaken for an option).
struct ClipRange: ExpressibleByArgument, Equatable {
    /// nil: no clamping.
    var bounds: [Float]?

    init?(argument: String) {
        let t = argument.trimmingCharacters(in: .whitespaces)
        if t.lowercased() == "none" || t.isEmpty { bounds = nil; return }
        let parts = t.split(separator: ",", omittingEmptySubsequences: false)
            .map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let lo = parts[0], let hi = parts[1], lo.isFinite, hi.isFinite else { return nil }
        bounds = [lo, hi]
    }

    static var defaultCompletionKind: CompletionKind { .list(["none", "-2.5,2.5"]) }
}

/// `--targets`, `--per-sample`, `--limit`: which (base sample, target class) pairs are searched,
/// shared by `generate` and `similarity` (each has its own default for `--targets`).
struct PairOptions: ParsableArguments {
    @Option(help: "Target classes per base sample: all (every other class), sampled (drawn with p_t(k) / (1 - p_t(b)) from the teacher, or model A), runner-up (its second class). Default: sampled for generate, all for similarity.")
    var targets: TargetChoice?

    @Option(help: ArgumentHelp("With --targets sampled: N >= 1 distinct targets per base sample (default 1).", valueName: "n"))
    var perSample: Int?

    @Option(help: ArgumentHelp("Use at most N >= 1 base samples, the first that qualify (default: generate all, similarity 1000).", valueName: "n"))
    var limit: Int?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, found \(limit)") }
        if let perSample, perSample < 1 { throw ValidationError("--per-sample must be at least 1, found \(perSample)") }
    }

    /// The target choice with `defaultChoice` when none was given; `--per-sample` needs `sampled`.
    func choice(default defaultChoice: TargetChoice) throws -> TargetChoice {
        let c = targets ?? defaultChoice
        if perSample != nil && c != .sampled { throw ValidationError("--per-sample applies to --targets sampled only") }
        return c
    }
}

/// `--seed`: the seed of every random choice a verb makes.
struct SeedOption: ParsableArguments {
    @Option(help: ArgumentHelp("Seed of every random choice (target sampling; in distill also initialisation, subset, shuffling, augmentation) (default 0).",
                               valueName: "s"))
    var seed: UInt64?
}

/// `--batch-size`: samples (or search pairs) per pass; bounds memory, never changes results.
struct BatchSizeOption: ParsableArguments {
    @Option(help: ArgumentHelp("Samples or search pairs per pass, >= 1 (default 128; distill: the training batch, default 256, >= 2).",
                               valueName: "n"))
    var batchSize: Int?

    func validate() throws {
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1, found \(batchSize)") }
    }

    /// The value, or `fallback` when not given.
    func value(or fallback: Int = 128) -> Int { batchSize ?? fallback }
}

/// How samples are read and preprocessed: layout, scale, normalisation, CIFAR-100 label.
/// Shared by every verb that reads `--data` (and `--val` in `distill`).
struct InputOptions: ParsableArguments {
    @Option(help: "Layout of images in an .npz/.h5 data file (default: the model's native layout; CIFAR, ImageNet and IDX files have their own).")
    var dataLayout: DataLayout?

    @Option(help: ArgumentHelp("Multiply inputs by this factor after reading, e.g. 1/255 for uint8 pixels. Integer pixels are used as stored unless asked.",
                               valueName: "factor"),
            transform: { try DataLoader.Preprocessing.scaleFactor($0) })
    var scale: Float?

    @Option(help: ArgumentHelp("Per-channel normalisation (x - mean) / std after scaling: a preset, or MEAN1,MEAN2,...:STD1,STD2,... Presets: cifar10 = the paper's CIFAR-10 runs (integer pixels / 255, then mean 0.4914,0.4822,0.4465, std 0.2023,0.1994,0.2010); mnist = integer pixels / 255, then mean 0.1307, std 0.3081.",
                               valueName: "preset|means:stds"))
    var normalize: String?

    @OptionGroup var reading: DataReadOptions

    /// The preprocessing the flags ask for (`--normalize`, then `--scale` overriding its /255).
    func preprocessing() throws -> DataLoader.Preprocessing {
        var p = try normalize.map { try DataLoader.Preprocessing.normalization($0) } ?? .init()
        if let scale { p.scale = scale }
        return p
    }

    /// The values given, as `bss distill` config overrides.
    var overrides: [(flag: String, key: String, value: ConfigValue)] {
        var out: [(flag: String, key: String, value: ConfigValue)] = []
        if let v = dataLayout { out.append(("--data-layout", "data_layout", .string(v.rawValue))) }
        if let v = scale { out.append(("--scale", "scale", .double(Double(v)))) }
        if let v = normalize { out.append(("--normalize", "normalize", .string(v))) }
        if let v = reading.label { out.append(("--label", "label", .string(v.rawValue))) }
        if let v = reading.imageSize { out.append(("--image-size", "image_size", .string(v.description))) }
        if let v = reading.classOrder { out.append(("--class-order", "class_order", .string(v.rawValue))) }
        if reading.skipBadImages { out.append(("--skip-bad-images", "skip_bad_images", .bool(true))) }
        return out
    }
}

/// A one-line note on stderr that an old spelling was used.
func deprecationNote(old: String, new: String) {
    note("bss: note: \(old) is deprecated; use \(new)")
}

/// A line on stderr: notes, warnings, "wrote ..." (stdout carries results only).
func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

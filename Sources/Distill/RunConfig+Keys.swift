import Boundary
import Foundation
import ModelIO

/// A value as a config file or a flag gives it, before it is checked against its key.
public enum ConfigValue: Equatable, Sendable {
    case string(String), int(Int), double(Double), bool(Bool), list([ConfigValue]), null
}

/// One key of a run config: its name (`batch_size`; the flag is `--batch-size`), help text, how
/// to set it from a `ConfigValue` (with its range check) and how to write it back.
struct ConfigKey {
    let name: String
    let help: String
    let set: (inout RunConfig, ConfigValue) throws -> Void
    /// YAML text of the current value; nil writes `null`.
    let get: (RunConfig) -> String?
}

/// Why a value does not fit its key: what was expected.
struct ConfigValueProblem: Error {
    var expected: String
}

extension RunConfig {
    /// Every key, in the order the resolved config lists them.
    static let keys: [ConfigKey] = fileKeys + trainingKeys + featureKeys + bssKeys + attackKeys + dataKeys + runKeys

    /// Key names, for error messages and `--help`.
    public static var keyNames: [String] { keys.map(\.name) }

    /// Sets `key` from `value`; `source` (a file path or a flag) names where it came from in errors.
    public mutating func set(_ key: String, _ value: ConfigValue, source: String) throws {
        guard let k = Self.keys.first(where: { $0.name == key }) else {
            throw ModelIOError(.malformed, file: source, location: "key '\(key)'", Self.unknownKeyMessage(key))
        }
        do { try k.set(&self, value) } catch let p as ConfigValueProblem {
            throw ModelIOError(.malformed, file: source, location: "key '\(key)'",
                               "expected \(p.expected), found \(Self.describe(value))")
        }
    }

    static func unknownKeyMessage(_ key: String) -> String {
        let close = keyNames.filter { editDistance($0, key) <= 3 }.sorted { editDistance($0, key) < editDistance($1, key) }
        return "unknown key" + (close.isEmpty ? "" : " (did you mean '\(close[0])'?)")
            + "; known keys: " + keyNames.joined(separator: ", ")
    }

    static func describe(_ v: ConfigValue) -> String {
        switch v {
        case let .string(s): return "'\(s)'"
        case let .int(i): return String(i)
        case let .double(d): return String(d)
        case let .bool(b): return String(b)
        case let .list(l): return "[" + l.map(describe).joined(separator: ", ") + "]"
        case .null: return "null"
        }
    }

    /// Levenshtein distance, for "did you mean" hints.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in 1...max(b.count, 1) where !b.isEmpty {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}

// MARK: - Value readers (throw ConfigValueProblem with what was expected)

enum Read {
    static func string(_ v: ConfigValue) throws -> String? {
        switch v {
        case .null: return nil
        case let .string(s): return s
        case let .int(i): return String(i)
        case let .double(d): return String(d)
        default: throw ConfigValueProblem(expected: "a string")
        }
    }

    static func double(_ v: ConfigValue, _ expected: String, _ ok: (Double) -> Bool = { _ in true }) throws -> Double {
        var d: Double?
        switch v {
        case let .int(i): d = Double(i)
        case let .double(x): d = x
        case let .string(s): d = number(s)
        default: d = nil
        }
        guard let d, d.isFinite, ok(d) else { throw ConfigValueProblem(expected: expected) }
        return d
    }

    static func float(_ v: ConfigValue, _ expected: String, _ ok: (Double) -> Bool = { _ in true }) throws -> Float {
        Float(try double(v, expected, ok))
    }

    static func int(_ v: ConfigValue, _ expected: String, _ ok: (Int) -> Bool = { _ in true }) throws -> Int {
        var i: Int?
        switch v {
        case let .int(x): i = x
        case let .double(x) where x == x.rounded() && abs(x) < 1e15: i = Int(x)
        case let .string(s): i = Int(s.trimmingCharacters(in: .whitespaces))
        default: i = nil
        }
        guard let i, ok(i) else { throw ConfigValueProblem(expected: expected) }
        return i
    }

    static func bool(_ v: ConfigValue) throws -> Bool {
        switch v {
        case let .bool(b): return b
        case let .int(i) where i == 0 || i == 1: return i == 1
        case let .string(s):
            switch s.lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            default: break
            }
        default: break
        }
        throw ConfigValueProblem(expected: "true or false")
    }

    static func numbers(_ v: ConfigValue, _ expected: String) throws -> [Double] {
        switch v {
        case let .list(items): return try items.map { try double($0, expected) }
        case let .string(s):
            let t = s.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
            if t.isEmpty { return [] }
            return try t.split(separator: ",").map { try double(.string(String($0)), expected) }
        case .int, .double: return [try double(v, expected)]
        default: throw ConfigValueProblem(expected: expected)
        }
    }

    static func schedule(_ v: ConfigValue) throws -> WeightSchedule {
        if case let .string(s) = v, s.lowercased() == "schedule" { return .schedule }
        return .constant(try float(v, "'schedule' or a number >= 0", { $0 >= 0 }))
    }

    /// A decimal number or a fraction such as `1/255`.
    static func number(_ s: String) -> Double? {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
            .map { Double($0.trimmingCharacters(in: .whitespaces)) }
        if parts.count == 1 { return parts[0] }
        if parts.count == 2, let a = parts[0], let b = parts[1], b != 0 { return a / b }
        return nil
    }
}

// MARK: - Writers

enum Write {
    /// A JSON string literal, which is also a valid YAML double-quoted scalar.
    static func string(_ s: String?) -> String? {
        guard let s else { return nil }
        let data = (try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])) ?? Data()
        let text = String(decoding: data, as: UTF8.self)
        return String(text.dropFirst().dropLast())
    }

    static func float(_ v: Float?) -> String? { v.map(RunConfig.format) }

    static func numbers<T>(_ v: [T]?, _ f: (T) -> String) -> String? {
        v.map { "[" + $0.map(f).joined(separator: ", ") + "]" }
    }
}

// MARK: - The keys

extension RunConfig {
    static func fileKey(_ name: String, _ help: String, _ path: WritableKeyPath<RunConfig, String?>) -> ConfigKey {
        ConfigKey(name: name, help: help, set: { c, v in c[keyPath: path] = try Read.string(v) },
                  get: { Write.string($0[keyPath: path]) })
    }

    static let fileKeys: [ConfigKey] = [
        fileKey("teacher", "teacher model file (.h5/.keras, or .npz/.safetensors/.h5 state dict with teacher_arch)", \.teacher),
        fileKey("teacher_arch", "architecture of a weight-only teacher: preset or JSON spec", \.teacherArch),
        fileKey("student", "student model file, or an architecture (preset or JSON spec) for fresh weights", \.student),
        fileKey("student_arch", "architecture of a weight-only student file", \.studentArch),
        ConfigKey(name: "input_shape", help: "per-sample input shape C,H,W of ONNX teacher/student files whose input is symbolic",
                  set: { c, v in
                      guard let s = try Read.string(v) else { c.inputShape = nil; return }
                      let dims = s.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
                      guard !dims.isEmpty, dims.allSatisfy({ ($0 ?? 0) > 0 }) else { throw ConfigValueProblem(expected: "positive integers separated by commas (C,H,W)") }
                      c.inputShape = dims.map { $0! }
                  }, get: { Write.string($0.inputShape.map { $0.map(String.init).joined(separator: ",") }) }),
        ConfigKey(name: "classes", help: "class count of a fresh preset student (default: the teacher's)",
                  set: { c, v in c.classes = v == .null ? nil : try Read.int(v, "an integer >= 1", { $0 >= 1 }) },
                  get: { $0.classes.map(String.init) }),
        fileKey("data", "training data (.npz/.h5 with x, y; CIFAR-10 batches; IDX)", \.data),
        fileKey("val", "validation data, evaluated after every epoch", \.val),
        fileKey("out", "trained student: .npz/.safetensors/.h5 state dict, .h5/.keras for a Keras student, or .onnx", \.out),
        fileKey("tensorboard", "directory for TensorBoard event files: scalars per batch and epoch (default: none)", \.tensorboard),
        ConfigKey(name: "data_layout", help: "layout of images in data/val: nchw or nhwc (default: the teacher's)",
                  set: { c, v in
                      guard let s = try Read.string(v) else { c.dataLayout = nil; return }
                      guard DataLayout(rawValue: s.lowercased()) != nil else { throw ConfigValueProblem(expected: "nchw or nhwc") }
                      c.dataLayout = s.lowercased()
                  }, get: { Write.string($0.dataLayout) }),
        ConfigKey(name: "scale", help: "multiply inputs by this factor after reading (e.g. 1/255)",
                  set: { c, v in c.scale = v == .null ? nil : try Read.float(v, "a number or a fraction such as 1/255") },
                  get: { Write.float($0.scale) }),
        ConfigKey(name: "normalize", help: "per-channel (x - mean) / std: cifar10, mnist, or MEAN1,...:STD1,...",
                  set: { c, v in
                      guard let s = try Read.string(v) else { c.normalize = nil; return }
                      guard (try? DataLoader.Preprocessing.normalization(s)) != nil else {
                          throw ConfigValueProblem(expected: "a preset (cifar10, mnist) or MEAN1,MEAN2,...:STD1,STD2,...")
                      }
                      c.normalize = s
                  }, get: { Write.string($0.normalize) }),
        ConfigKey(name: "label", help: "CIFAR-100 label of data/val: fine (default) or coarse",
                  set: { c, v in
                      guard let s = try Read.string(v) else { c.label = nil; return }
                      guard DataLoader.CIFARLabel(rawValue: s.lowercased()) != nil else { throw ConfigValueProblem(expected: "fine or coarse") }
                      c.label = s.lowercased()
                  }, get: { Write.string($0.label) }),
        ConfigKey(name: "image_size", help: "resize images of data/val to H,W pixels (bilinear, as Pillow's resize)",
                  set: { c, v in
                      guard let s = try Read.string(v) else { c.imageSize = nil; return }
                      guard let size = try? DataLoader.ReadOptions.imageSize(s) else { throw ConfigValueProblem(expected: "HEIGHT,WIDTH in pixels, e.g. 32,32") }
                      c.imageSize = size.description
                  }, get: { Write.string($0.imageSize) }),
        ConfigKey(name: "class_order", help: "Tiny ImageNet label numbering: wnids (line of wnids.txt) or sorted (torchvision's ImageFolder)",
                  set: { c, v in
                      guard let s = try Read.string(v) else { c.classOrder = nil; return }
                      guard DataLoader.ClassOrder(rawValue: s.lowercased()) != nil else { throw ConfigValueProblem(expected: "wnids or sorted") }
                      c.classOrder = s.lowercased()
                  }, get: { Write.string($0.classOrder) }),
        ConfigKey(name: "skip_bad_images", help: "leave out images of data/val that cannot be decoded instead of stopping",
                  set: { c, v in c.skipBadImages = try Read.bool(v) }, get: { String($0.skipBadImages) }),
    ]

    static let trainingKeys: [ConfigKey] = [
        ConfigKey(name: "method", help: "original (CE), hinton (+ KD), bss (+ KD on BSS), fitnet, at, fsp (CE + feature term), bss+fsp",
                  set: { c, v in
                      guard let s = try Read.string(v), let m = DistillMethod(rawValue: s.lowercased()) else {
                          throw ConfigValueProblem(expected: "original, hinton, bss, fitnet, at, fsp or bss+fsp")
                      }
                      c.method = m
                  }, get: { Write.string($0.method.rawValue) }),
        ConfigKey(name: "epochs", help: "training epochs E",
                  set: { c, v in c.epochs = try Read.int(v, "an integer >= 1", { $0 >= 1 }) }, get: { String($0.epochs) }),
        ConfigKey(name: "batch_size", help: "training batch size (a final batch of 1 is dropped)",
                  set: { c, v in c.batchSize = try Read.int(v, "an integer >= 2", { $0 >= 2 }) }, get: { String($0.batchSize) }),
        ConfigKey(name: "lr", help: "initial SGD learning rate",
                  set: { c, v in c.lr = try Read.float(v, "a number >= 0", { $0 >= 0 }) }, get: { Write.float($0.lr) }),
        ConfigKey(name: "lr_milestones", help: "fractions of the epochs after which lr is multiplied by lr_decay",
                  set: { c, v in
                      let m = try Read.numbers(v, "a list of fractions in (0, 1]")
                      guard m.allSatisfy({ $0 > 0 && $0 <= 1 }) else { throw ConfigValueProblem(expected: "a list of fractions in (0, 1]") }
                      c.lrMilestones = m
                  }, get: { Write.numbers($0.lrMilestones) { "\($0)" } }),
        ConfigKey(name: "lr_decay", help: "learning-rate factor at each milestone",
                  set: { c, v in c.lrDecay = try Read.float(v, "a number >= 0", { $0 >= 0 }) }, get: { Write.float($0.lrDecay) }),
        ConfigKey(name: "momentum", help: "SGD momentum",
                  set: { c, v in c.momentum = try Read.float(v, "a number in [0, 1)", { $0 >= 0 && $0 < 1 }) },
                  get: { Write.float($0.momentum) }),
        ConfigKey(name: "weight_decay", help: "SGD weight decay (L2, on every trainable parameter)",
                  set: { c, v in c.weightDecay = try Read.float(v, "a number >= 0", { $0 >= 0 }) }, get: { Write.float($0.weightDecay) }),
        ConfigKey(name: "nesterov", help: "Nesterov momentum",
                  set: { c, v in c.nesterov = try Read.bool(v) }, get: { String($0.nesterov) }),
        ConfigKey(name: "temperature", help: "distillation temperature T (no T^2 factor)",
                  set: { c, v in c.temperature = try Read.float(v, "a number > 0", { $0 > 0 }) }, get: { Write.float($0.temperature) }),
        ConfigKey(name: "alpha", help: "weight of KD on the clean batch: 'schedule' (4 -> 1) or a constant",
                  set: { c, v in c.alpha = try Read.schedule(v) }, get: { $0.alpha.text }),
        ConfigKey(name: "beta", help: "weight of KD on BSS: 'schedule' (2 -> 0 by 75% of the epochs) or a constant",
                  set: { c, v in c.beta = try Read.schedule(v) }, get: { $0.beta.text }),
    ]

    static let bssKeys: [ConfigKey] = [
        ConfigKey(name: "bss_per_batch", help: "base samples (BSS attempts) per batch, N",
                  set: { c, v in c.bssPerBatch = try Read.int(v, "an integer >= 1", { $0 >= 1 }) }, get: { String($0.bssPerBatch) }),
        ConfigKey(name: "bss_mode", help: "BSS search: paper or official (the authors' code)",
                  set: { c, v in
                      guard let s = try Read.string(v), let m = BSSMode(rawValue: s.lowercased()) else {
                          throw ConfigValueProblem(expected: "paper or official")
                      }
                      c.bssMode = m
                  }, get: { Write.string($0.bssMode.rawValue) }),
        ConfigKey(name: "bss_eta", help: "BSS step size eta (default: 1 paper, 0.3 official)",
                  set: { c, v in c.bssEta = v == .null ? nil : try Read.float(v, "a number > 0", { $0 > 0 }) },
                  get: { Write.float($0.bssParameters.eta) }),
        ConfigKey(name: "bss_eps", help: "BSS overshoot eps past the boundary (default 1e-4)",
                  set: { c, v in c.bssEps = v == .null ? nil : try Read.float(v, "a number >= 0", { $0 >= 0 }) },
                  get: { Write.float($0.bssParameters.eps) }),
        ConfigKey(name: "bss_max_steps", help: "BSS step limit (default 10)",
                  set: { c, v in c.bssMaxSteps = v == .null ? nil : try Read.int(v, "an integer >= 0", { $0 >= 0 }) },
                  get: { String($0.bssParameters.maxSteps) }),
        ConfigKey(name: "bss_step_norm", help: "BSS step denominator: l2sq (paper) or l2 (official)",
                  set: { c, v in
                      guard let s = try Read.string(v) else { c.bssStepNorm = nil; return }
                      guard let n = StepNorm(rawValue: s.lowercased()) else { throw ConfigValueProblem(expected: "l2sq or l2") }
                      c.bssStepNorm = n
                  }, get: { Write.string($0.bssParameters.stepNorm.rawValue) }),
        ConfigKey(name: "bss_clip", help: "clamp BSS inputs to [lo, hi] after every step; [] for none (default: none paper, [-2.5, 2.5] official)",
                  set: { c, v in
                      if v == .null { c.bssClip = nil; return }
                      let b = try Read.numbers(v, "[lo, hi] with lo < hi, or []")
                      guard b.isEmpty || (b.count == 2 && b[0] < b[1]) else { throw ConfigValueProblem(expected: "[lo, hi] with lo < hi, or []") }
                      c.bssClip = b.map { Float($0) }
                  }, get: { c in
                      guard let r = c.bssParameters.clip else { return "[]" }
                      return Write.numbers([r.lowerBound, r.upperBound]) { RunConfig.format($0) }
                  }),
    ]

    static let dataKeys: [ConfigKey] = [
        ConfigKey(name: "seed", help: "seed of every random choice (init, subset, shuffling, augmentation, targets, dropout)",
                  set: { c, v in
                      switch v {
                      case let .int(i) where i >= 0: c.seed = UInt64(i)
                      case let .string(s) where UInt64(s) != nil: c.seed = UInt64(s)!
                      default: throw ConfigValueProblem(expected: "an integer >= 0")
                      }
                  }, get: { c in c.seed <= UInt64(Int.max) ? String(c.seed) : "\"\(c.seed)\"" }),
        ConfigKey(name: "train_fraction", help: "fraction of the training data used, drawn per class from the seed",
                  set: { c, v in c.trainFraction = try Read.double(v, "a number in (0, 1]", { $0 > 0 && $0 <= 1 }) },
                  get: { "\($0.trainFraction)" }),
        ConfigKey(name: "augment_crop", help: "random crop with this much zero padding (pixels; 0 = off)",
                  set: { c, v in c.augmentCrop = try Read.int(v, "an integer >= 0", { $0 >= 0 }) }, get: { String($0.augmentCrop) }),
        ConfigKey(name: "augment_flip", help: "random horizontal flips",
                  set: { c, v in c.augmentFlip = try Read.bool(v) }, get: { String($0.augmentFlip) }),
        ConfigKey(name: "eval_batch_size", help: "samples per forward pass for teacher logits and validation",
                  set: { c, v in c.evalBatchSize = try Read.int(v, "an integer >= 1", { $0 >= 1 }) }, get: { String($0.evalBatchSize) }),
        ConfigKey(name: "threads", help: "worker threads; the same count gives the same student bit for bit (default: all cores, recorded here)",
                  set: { c, v in c.threads = v == .null ? nil : try Read.int(v, "an integer >= 1", { $0 >= 1 }) },
                  get: { $0.threads.map(String.init) }),
    ]
}

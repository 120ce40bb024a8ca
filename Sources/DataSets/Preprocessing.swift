import Foundation
import ModelCore

extension DataLoader {
    /// Value preprocessing applied once after reading, in this order:
    ///
    ///     x ← x · scale                      (scale, or integerScale for integer-typed x)
    ///     x ← (x − mean[c]) / std[c]         per channel c (NCHW axis 1), if mean/std are set
    ///
    /// Defaults: nothing (values are used as stored). Integer pixels (uint8 images from CIFAR
    /// binaries, IDX files or a uint8 `x`) are scaled only when asked: `scale` always applies;
    /// `integerScale` (set by the named presets) applies only when `x` is stored as integers,
    /// so `--normalize cifar10` does the paper's `/255` on raw uint8 CIFAR batches and leaves
    /// data already in [0, 1] alone.
    public struct Preprocessing: Sendable, Equatable {
        /// Factor applied to every value, whatever the stored type (`--scale`).
        public var scale: Float?
        public var mean: [Float]?
        public var std: [Float]?
        /// Factor applied when `x` is stored as integers and `scale` is nil (presets: 1/255).
        public var integerScale: Float?

        public init(scale: Float? = nil, mean: [Float]? = nil, std: [Float]? = nil, integerScale: Float? = nil) {
            self.scale = scale; self.mean = mean; self.std = std; self.integerScale = integerScale
        }

        /// Named normalisations for `--normalize NAME`: integer pixels / 255, then mean/std.
        ///
        /// - `cifar10`: the paper's CIFAR-10 runs (docs/algorithm.md, "Training recipe"): mean (0.4914, 0.4822,
        ///   0.4465), std (0.2023, 0.1994, 0.2010).
        /// - `mnist`: the usual PyTorch MNIST normalisation: mean 0.1307, std 0.3081.
        public static let presets: [String: (mean: [Float], std: [Float])] = [
            "cifar10": ([0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010]),
            "mnist": ([0.1307], [0.3081]),
        ]

        /// Parses `--normalize`: a preset name, or `m1,m2,...:s1,s2,...` (one mean and one std
        /// per channel; explicit values do not scale, combine with `--scale` for that).
        public static func normalization(_ text: String) throws -> Preprocessing {
            let name = text.lowercased().replacingOccurrences(of: "-", with: "")
            if let preset = presets[name] {
                return Preprocessing(mean: preset.mean, std: preset.std, integerScale: 1.0 / 255)
            }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            let usage = "expected a preset (\(presets.keys.sorted().joined(separator: ", "))) or MEAN1,MEAN2,...:STD1,STD2,..."
            guard parts.count == 2 else {
                throw ModelIOError(.malformed, file: "--normalize", "'\(text)': \(usage)")
            }
            func numbers(_ s: Substring) throws -> [Float] {
                let values = s.split(separator: ",", omittingEmptySubsequences: false).map {
                    Float($0.trimmingCharacters(in: .whitespaces))
                }
                guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0!.isFinite }) else {
                    throw ModelIOError(.malformed, file: "--normalize", "'\(text)': '\(s)' is not a list of numbers; \(usage)")
                }
                return values.map { $0! }
            }
            let mean = try numbers(parts[0]), std = try numbers(parts[1])
            guard mean.count == std.count else {
                throw ModelIOError(.mismatch, file: "--normalize", "'\(text)': \(mean.count) means but \(std.count) stds")
            }
            guard std.allSatisfy({ $0 > 0 }) else {
                throw ModelIOError(.mismatch, file: "--normalize", "'\(text)': every std must be positive")
            }
            return Preprocessing(mean: mean, std: std)
        }

        /// Parses `--scale`: a number (`0.00392156862745098`) or a fraction (`1/255`).
        public static func scaleFactor(_ text: String) throws -> Float {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
                .map { Double($0.trimmingCharacters(in: .whitespaces)) }
            let value: Double?
            switch parts.count {
            case 1: value = parts[0]
            case 2: value = parts[0].flatMap { a in parts[1].flatMap { b in b == 0 ? nil : a / b } }
            default: value = nil
            }
            guard let value, value.isFinite else {
                throw ModelIOError(.malformed, file: "--scale", "'\(text)' is not a number or a fraction such as 1/255")
            }
            return Float(value)
        }

        /// The factor for data whose `x` is (or is not) stored as integers.
        func factor(integerValued: Bool) -> Float? { scale ?? (integerValued ? integerScale : nil) }
    }
}

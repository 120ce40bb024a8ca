import Foundation
import ModelCore

extension DataLoader {
    /// Which label of a CIFAR-100 record to use: each record carries a coarse label (one of 20
    /// superclasses) and a fine label (one of 100 classes).
    public enum CIFARLabel: String, Sendable, CaseIterable {
        case fine, coarse
    }

    /// How Tiny ImageNet's labels number its wnids (`--class-order`): `wnids` = position in
    /// `wnids.txt` (the archive's own order), `sorted` = sorted wnids (what torchvision's
    /// `ImageFolder` on `train/` gives). Only asked for when the two differ.
    public enum ClassOrder: String, Sendable, CaseIterable {
        case wnids, sorted
    }

    /// `--image-size H,W`: every image is resized to H × W pixels (`ImageResize`).
    public struct ImageSize: Sendable, Equatable, CustomStringConvertible {
        public var height: Int
        public var width: Int
        public init(height: Int, width: Int) { self.height = height; self.width = width }
        public var description: String { "\(height),\(width)" }
    }

    /// Choices about *what* to read from a data file (as opposed to `Preprocessing`, which
    /// changes values after reading). Each one given for a format it does not apply to is an
    /// error, since nothing would use it.
    public struct ReadOptions: Sendable, Equatable {
        /// `--label fine|coarse`; nil means not given (CIFAR-100 then uses fine labels). Given
        /// for a `.bin` whose name and size fit both CIFAR-10 and CIFAR-100, it says the file is CIFAR-100.
        public var cifarLabel: CIFARLabel?
        /// `--image-size H,W` for image files (folders, single images, Tiny ImageNet).
        public var imageSize: ImageSize?
        /// `--class-order` for Tiny ImageNet.
        public var classOrder: ClassOrder?
        /// `--skip-bad-images`: images that cannot be decoded are left out (and counted)
        /// instead of being an error.
        public var skipBadImages: Bool
        /// The model's input channels (1 or 3), set by the verbs that read data for a model
        /// (not a flag): image files are converted to it as Pillow's `convert("L")` /
        /// `convert("RGB")` do (`ImageColour`). nil: no model, colour modes as stored.
        public var channels: Int?

        public init(cifarLabel: CIFARLabel? = nil, imageSize: ImageSize? = nil, classOrder: ClassOrder? = nil,
                    skipBadImages: Bool = false, channels: Int? = nil) {
            self.cifarLabel = cifarLabel; self.imageSize = imageSize
            self.classOrder = classOrder; self.skipBadImages = skipBadImages
            self.channels = channels
        }

        /// Parses `--label`.
        public static func label(_ text: String) throws -> CIFARLabel {
            guard let l = CIFARLabel(rawValue: text.lowercased()) else {
                throw ModelIOError(.malformed, file: "--label", "'\(text)': expected fine or coarse (CIFAR-100 labels)")
            }
            return l
        }

        /// Parses `--class-order`.
        public static func classOrder(_ text: String) throws -> ClassOrder {
            guard let o = ClassOrder(rawValue: text.lowercased()) else {
                throw ModelIOError(.malformed, file: "--class-order", "'\(text)': expected wnids (order of wnids.txt) or sorted (torchvision's ImageFolder order)")
            }
            return o
        }

        /// Parses `--image-size H,W` (or one number for a square).
        public static func imageSize(_ text: String) throws -> ImageSize {
            let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard (1...2).contains(parts.count), parts.allSatisfy({ ($0 ?? 0) > 0 && ($0 ?? 0) <= 65_535 }) else {
                throw ModelIOError(.malformed, file: "--image-size", "'\(text)': expected HEIGHT,WIDTH in pixels (1-65535), e.g. 32,32")
            }
            return ImageSize(height: parts[0]!, width: parts.last!!)
        }

        /// The image-only options given, as flag names (for "applies to images only" errors).
        var imageOptionsGiven: [String] {
            (imageSize != nil ? ["--image-size"] : []) + (skipBadImages ? ["--skip-bad-images"] : [])
        }
    }
}

extension DataLoader.RawData {
    /// Smallest and largest input value as stored, nil for no values (`bss data inspect`;
    /// here so that it runs optimised over millions of pixels).
    public var valueRange: (min: Float, max: Float)? {
        x.data.withUnsafeBufferPointer { d -> (Float, Float)? in
            guard var lo = d.first else { return nil }
            var hi = lo
            for v in d { lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
            return (lo, hi)
        }
    }
}

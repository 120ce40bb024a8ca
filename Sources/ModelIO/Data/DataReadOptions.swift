import Foundation

extension DataLoader {
    /// Which label of a CIFAR-100 record to use: each record carries a coarse label (one of 20
    /// superclasses) and a fine label (one of 100 classes).
    public enum CIFARLabel: String, Sendable, CaseIterable {
        case fine, coarse
    }

    /// Choices about *what* to read from a data file (as opposed to `Preprocessing`, which
    /// changes values after reading).
    public struct ReadOptions: Sendable, Equatable {
        /// `--label fine|coarse`; nil means not given (CIFAR-100 then uses fine labels). Given
        /// for any other format it is an error, since nothing would use it. Given for a `.bin`
        /// whose name and size fit both CIFAR-10 and CIFAR-100, it says the file is CIFAR-100.
        public var cifarLabel: CIFARLabel?

        public init(cifarLabel: CIFARLabel? = nil) { self.cifarLabel = cifarLabel }

        /// Parses `--label`.
        public static func label(_ text: String) throws -> CIFARLabel {
            guard let l = CIFARLabel(rawValue: text.lowercased()) else {
                throw ModelIOError(.malformed, file: "--label", "'\(text)': expected fine or coarse (CIFAR-100 labels)")
            }
            return l
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

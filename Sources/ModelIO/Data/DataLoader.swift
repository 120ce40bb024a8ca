import Foundation
import Tensor

/// Reads `DATA` arguments: an `.npz` with `x` (float32/float64/uint8/...) and optional `y`.
/// (HDF5 data sets, CIFAR-10 binaries and IDX files are handled by further readers.)
///
/// Images are converted once from the stored layout (`stored`, defaulting to the model's
/// native layout) to the engine's NCHW.
public enum DataLoader {
    /// Extra readers registered by later ModelIO files: return nil when the file is not theirs.
    nonisolated(unsafe) public static var readers: [(URL) throws -> (x: NumpyArray, y: NumpyArray?)?] = []

    /// Optional value scaling applied after reading: `x * scale`, then per-channel `(x − mean) / std`.
    public struct Preprocessing: Sendable {
        public var scale: Float?
        public var mean: [Float]?
        public var std: [Float]?
        public init(scale: Float? = nil, mean: [Float]? = nil, std: [Float]? = nil) {
            self.scale = scale; self.mean = mean; self.std = std
        }
    }

    public static func load(_ path: String, stored: DataLayout, preprocessing: Preprocessing = .init()) throws -> DataSet {
        let url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ModelIOError(.notFound, file: path, "no such data file")
        }
        var xa: NumpyArray?, ya: NumpyArray?
        for reader in readers {
            if let r = try reader(url) { xa = r.x; ya = r.y; break }
        }
        if xa == nil {
            guard url.pathExtension.lowercased() == "npz" else {
                throw ModelIOError(.unsupported, file: path, "unknown data file type '.\(url.pathExtension)'; expected .npz with arrays x and y")
            }
            let entries = try Npz.read(url)
            guard let x = entries.first(where: { $0.key == "x" })?.array else {
                throw ModelIOError(.notFound, file: path, location: "x",
                                   "no array 'x' (found: \(entries.map(\.key).joined(separator: ", ")))")
            }
            xa = x
            ya = entries.first(where: { $0.key == "y" })?.array
        }
        return try make(x: xa!, y: ya, file: path, stored: stored, preprocessing: preprocessing)
    }

    /// Builds a data set from arrays already read.
    public static func make(x xa: NumpyArray, y ya: NumpyArray?, file: String, stored: DataLayout,
                            preprocessing: Preprocessing) throws -> DataSet {
        guard xa.shape.count >= 2 else {
            throw ModelIOError(.mismatch, file: file, location: "x", "expected at least 2 axes (samples first), found shape \(xa.shape)")
        }
        guard xa.shape[0] > 0 else { throw ModelIOError(.mismatch, file: file, location: "x", "the data set is empty") }
        var x = Tensor(shape: xa.shape, data: try xa.floats(file: file, key: "x"))
        if let s = preprocessing.scale { for i in 0..<x.count { x.data[i] *= s } }
        x = DataSet.convert(x, from: stored, to: .nchw)
        if let mean = preprocessing.mean, let std = preprocessing.std {
            let c = x.rank == 4 ? x.shape[1] : 1
            guard mean.count == c, std.count == c else {
                throw ModelIOError(.mismatch, file: file, location: "x", "normalisation has \(mean.count) channels, the data has \(c)")
            }
            let plane = x.rank == 4 ? x.shape[2] * x.shape[3] : x.sampleCount
            for n in 0..<x.batch { for ch in 0..<c {
                let base = (n * c + ch) * plane
                for i in 0..<plane { x.data[base + i] = (x.data[base + i] - mean[ch]) / std[ch] }
            } }
        }
        var labels: [Int]?
        if let ya {
            guard ya.shape.count == 1 || (ya.shape.count == 2 && ya.shape[1] == 1) else {
                throw ModelIOError(.mismatch, file: file, location: "y", "expected integer labels of shape (N,), found \(ya.shape)")
            }
            labels = try ya.int64s(file: file, key: "y").map { Int($0) }
            guard labels!.count == x.batch else {
                throw ModelIOError(.mismatch, file: file, location: "y",
                                   "\(labels!.count) labels for \(x.batch) samples in x")
            }
        }
        return DataSet(x: x, y: labels, file: file, storedLayout: stored)
    }
}

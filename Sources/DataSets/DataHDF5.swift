import Foundation
import Tensor
import ModelCore
import HDF5

/// Data sets stored as HDF5: a dataset `x` (inputs, samples first, any numeric type) and an
/// optional dataset `y` (integer class labels of shape `(N,)` or `(N, 1)`; whole-number floats
/// are accepted), at the root — what `h5py.File(p, "w").create_dataset("x", data=x)` makes —
/// and an optional root attribute `class_names` (strings, index = label).
enum DataHDF5 {
    static func read(_ url: URL) throws -> DataLoader.RawData {
        let file = try HDF5File(reading: url)
        defer { try? file.close() }
        guard file.kind(of: "x") == .dataset else {
            let found = try file.children().map(\.name)   // an unopenable object says why (HDF5Group)
            throw ModelIOError(.notFound, file: file.name, location: "x",
                               "no dataset 'x' at the root (found: \(found.isEmpty ? "nothing" : found.joined(separator: ", ")))")
        }
        let info = try file.datasetInfo("x")
        guard info.dtype.isFloatingPoint || info.dtype.isInteger else {
            throw ModelIOError(.unsupported, file: file.name, location: "x", "expected numbers, found \(info.dtype)")
        }
        let (shape, values) = try file.readFloats("x")
        var labels: [Int64]?
        var labelShape: [Int]?
        if let kind = file.kind(of: "y") {
            guard kind == .dataset else {
                throw ModelIOError(.mismatch, file: file.name, location: "y", "expected a dataset of labels, found a \(kind.rawValue)")
            }
            labels = try readLabels(file)
            labelShape = try file.datasetInfo("y").shape
        }
        let names = file.hasAttribute("class_names") ? try file.stringArrayAttribute("class_names") : nil
        return DataLoader.RawData(x: Tensor(shape: shape, data: values), xIsInteger: info.dtype.isInteger,
                                  y: labels, yShape: labelShape, layout: nil,
                                  description: "HDF5 datasets x, y", classNames: names)
    }

    private static func readLabels(_ file: HDF5File) throws -> [Int64] {
        let info = try file.datasetInfo("y")
        if info.dtype.isInteger { return try file.readInts("y").values }
        guard info.dtype.isFloatingPoint else {
            throw ModelIOError(.unsupported, file: file.name, location: "y", "expected integer labels, found \(info.dtype)")
        }
        let values = try file.readDoubles("y").values
        return try values.enumerated().map { i, v in
            guard let n = Int64(exactly: v) else {
                throw ModelIOError(.mismatch, file: file.name, location: "y", "expected whole-number labels, found \(v) at row \(i)")
            }
            return n
        }
    }
}

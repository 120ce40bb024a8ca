import Foundation
import Tensor
import ModelCore
import NumPy
import HDF5

/// Writes a data set as the standard arrays every `DATA` reader accepts (what `bss data
/// convert` makes):
///
/// - `.npz`: `x` (samples first), `y` (int64 labels, when the source has them) and
///   `class_names` (numpy `<U` strings, index = label, when known);
/// - `.h5` / `.hdf5`: datasets `x`, `y` at the root and a root attribute `class_names`.
///
/// `x` keeps uint8 when the source stores integer pixels 0–255, else float32. Images are
/// written in `layout` when the source's format fixes its own layout (CIFAR, ImageNet, IDX are
/// NCHW), else as stored. The file appears atomically (temporary file + rename).
public enum DataWriter {
    /// Writes `raw` to `url`; returns the layout `x` was written in (nil: as the source stored it).
    @discardableResult
    public static func write(_ raw: DataLoader.RawData, to url: URL, layout: DataLayout? = nil) throws -> DataLayout? {
        let file = url.path
        var x = raw.x
        var written = raw.layout
        if let layout {
            guard let from = raw.layout else {
                throw ModelIOError(.mismatch, file: file,
                                   "the source does not say how its images are laid out (\(raw.description)); it is written as stored, without a layout option")
            }
            if x.rank == 4 { x = DataSet.convert(x, from: from, to: layout); written = layout }
        }
        var arrays: [(key: String, array: NumpyArray)] = [("x", xArray(x, integer: raw.xIsInteger))]
        if let y = raw.y { arrays.append(("y", NumpyArray(int64s: y, shape: [y.count]))) }
        switch url.pathExtension.lowercased() {
        case "npz":
            if let names = raw.classNames { arrays.append(("class_names", NumpyArray(strings: names, shape: [names.count]))) }
            try Npz.write(arrays, to: url)
        case "h5", "hdf5":
            try AtomicFile.write(to: url) { temporary in
                let h5 = try HDF5File(creating: temporary)
                do {
                    for (key, array) in arrays { try h5.write(array: array, to: key) }
                    if let names = raw.classNames { try h5.setAttribute("class_names", strings: names, form: .variableUTF8) }
                    try h5.close()
                } catch {
                    try? h5.close()
                    throw error
                }
            }
        default:
            throw ModelIOError(.unsupported, file: file, "expected an output ending in .npz, .h5 or .hdf5")
        }
        return written
    }

    /// uint8 when every value is a whole number 0–255 of integer-stored data, else float32.
    static func xArray(_ x: Tensor, integer: Bool) -> NumpyArray {
        if integer, x.data.allSatisfy({ $0 >= 0 && $0 <= 255 && $0 == $0.rounded() }) {
            return NumpyArray(uint8s: x.data.map { UInt8($0) }, shape: x.shape)
        }
        return NumpyArray(x)
    }
}

import CHDF5
import Foundation

// float64 datasets at full precision. `readFloats`/`write(floats:)` go through Float, which
// would round a float64 state-dict entry (or a float64 data set) on its way through; state
// dicts are transcoded bit for bit, so they read and write Double directly.
extension HDF5File {
    /// The dataset at `path` as Double, converted from any float, integer or bool type.
    /// Values are row-major in `shape` order.
    public func readDoubles(_ path: String) throws -> (shape: [Int], values: [Double]) {
        try withDataset(path) { reader, _ in (reader.shape, try reader.doubles()) }
    }

    /// Writes a new contiguous float64 (`H5T_IEEE_F64LE`) dataset at `path`, creating missing
    /// parent groups; `shape: []` writes a scalar.
    public func write(doubles values: [Double], shape: [Int], to path: String) throws {
        try HDF5Lock.run {
            guard shape.allSatisfy({ $0 >= 0 }), let count = Self.product(shape), count == values.count else {
                throw error(.mismatch, at: path, "shape \(shape) does not hold \(values.count) values")
            }
            let dataset = try createDataset(at: path, type: sh5_ieee_f64le(), shape: shape, layout: .contiguous,
                                            elementSize: MemoryLayout<Double>.size)
            defer { H5Dclose(dataset) }
            guard !values.isEmpty else { return }
            let status = values.withUnsafeBytes {
                H5Dwrite(dataset, sh5_native_double(), sh5_s_all(), sh5_s_all(), sh5_p_default(), $0.baseAddress)
            }
            if status < 0 { throw failure(.io, at: path, "cannot write dataset") }
        }
    }
}

import Foundation
import ModelCore

// HDF5 datasets as `NumpyArray`s with their element type kept, so a state dict goes
// .npz → .h5 → .npz without a single bit changing (float32 stays float32, the 0-d int64
// `num_batches_tracked` stays int64, float64 stays float64).
extension HDF5File {
    /// The dataset at `path` with its dtype: float16/32/64, every integer width and bool map
    /// to the numpy type of the same name; bfloat16 (no numpy type) widens exactly to float32.
    /// Strings and other non-numeric types are `.unsupported`.
    public func readArray(_ path: String) throws -> NumpyArray {
        let info = try datasetInfo(path)
        switch info.dtype {
        case .float32, .bfloat16:
            let (shape, values) = try readFloats(path)
            return NumpyArray(float32s: values, shape: shape)
        case .float16:
            // Exact: every value came from a float16.
            let (shape, values) = try readFloats(path)
            return NumpyArray(dtype: .float16, shape: shape, bytes: Self.littleEndianBytes(values.map { Float16($0).bitPattern }))
        case .float64:
            let (shape, values) = try readDoubles(path)
            return NumpyArray(float64s: values, shape: shape)
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .bool:
            let (shape, values) = try readInts(path)
            let dtype = Self.numpyType(info.dtype)!
            return NumpyArray(dtype: dtype, shape: shape, bytes: Self.integerBytes(values, as: dtype))
        case .uint64:
            // HDF5 converts to Int64 only values that fit; read as Double would round. uint64
            // weights do not occur in practice, so refuse rather than risk a silent change.
            throw error(.unsupported, at: path, "uint64 datasets are not supported (use int64)")
        case .string, .unsupported:
            throw error(.unsupported, at: path, "expected a numeric dataset, found \(info.dtype)")
        }
    }

    /// Writes `array` as a new dataset at `path` with the same element type (creating missing
    /// parent groups). Unicode (string) arrays are `.unsupported`.
    public func write(array: NumpyArray, to path: String, layout: HDF5Layout = .contiguous) throws {
        switch array.dtype {
        case .float32:
            try write(floats: try array.floats(file: name, key: path), shape: array.shape, to: path, as: .float32, layout: layout)
        case .float16:
            try write(floats: try array.floats(file: name, key: path), shape: array.shape, to: path, as: .float16, layout: layout)
        case .float64:
            let doubles = array.bytes.withUnsafeBytes { raw in
                (0..<array.count).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
            }
            try write(doubles: doubles, shape: array.shape, to: path)
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .bool:
            let dtype = Self.hdf5Type(array.dtype)!
            try write(ints: try array.int64s(file: name, key: path), shape: array.shape, to: path, as: dtype, layout: layout)
        case .unicode:
            throw error(.unsupported, at: path, "cannot store a string array (\(array.dtype.descr)) as a numeric dataset")
        }
    }

    // MARK: - Type mapping

    static func numpyType(_ dtype: HDF5DType) -> NumpyArray.DType? {
        switch dtype {
        case .float16: .float16
        case .float32: .float32
        case .float64: .float64
        case .int8: .int8
        case .int16: .int16
        case .int32: .int32
        case .int64: .int64
        case .uint8: .uint8
        case .uint16: .uint16
        case .uint32: .uint32
        case .uint64: .uint64
        case .bool: .bool
        default: nil
        }
    }

    static func hdf5Type(_ dtype: NumpyArray.DType) -> HDF5DType? {
        switch dtype {
        case .float16: .float16
        case .float32: .float32
        case .float64: .float64
        case .int8: .int8
        case .int16: .int16
        case .int32: .int32
        case .int64: .int64
        case .uint8: .uint8
        case .uint16: .uint16
        case .uint32: .uint32
        case .uint64: .uint64
        case .bool: .bool
        case .unicode: nil
        }
    }

    /// `values` (already range-checked by HDF5's conversion) as little-endian `dtype` bytes.
    static func integerBytes(_ values: [Int64], as dtype: NumpyArray.DType) -> [UInt8] {
        switch dtype {
        case .int8: return values.map { UInt8(bitPattern: Int8(truncatingIfNeeded: $0)) }
        case .uint8: return values.map { UInt8(truncatingIfNeeded: $0) }
        case .bool: return values.map { $0 != 0 ? 1 : 0 }
        case .int16: return littleEndianBytes(values.map { Int16(truncatingIfNeeded: $0) })
        case .uint16: return littleEndianBytes(values.map { UInt16(truncatingIfNeeded: $0) })
        case .int32: return littleEndianBytes(values.map { Int32(truncatingIfNeeded: $0) })
        case .uint32: return littleEndianBytes(values.map { UInt32(truncatingIfNeeded: $0) })
        case .uint64: return littleEndianBytes(values.map { UInt64(truncatingIfNeeded: $0) })
        default: return littleEndianBytes(values)
        }
    }

    static func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(values.count * MemoryLayout<T>.size)
        for v in values { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }
}

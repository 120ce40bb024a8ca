import Foundation
import Tensor

/// Conversions from the stored bytes to Swift values.
///
/// Numeric conversions throw (rather than trap) for string arrays and for values that do not
/// fit, because what an array holds is decided by the file, not by the caller. `file` and `key`
/// only label the error: callers pass the file and member the array came from.
extension NumpyArray {
    /// The elements as float32 in C order. Every numeric dtype converts (float64 and int64
    /// round to nearest, bool gives 0/1); a unicode array throws `.unsupported`.
    public func floats(file: String = "array", key: String? = nil) throws -> [Float] {
        switch dtype {
        case .float32:
            if ByteOrder.hostIsLittleEndian {
                // The stored bytes already are a [Float] in memory: one copy, no per-element work
                // (data sets run to hundreds of MB).
                return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                    bytes.withUnsafeBytes { raw in
                        UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
                    }
                    initialized = count
                }
            }
            return integers(UInt32.self).map { Float(bitPattern: $0) }
        case .float16: return integers(UInt16.self).map { Float(Float16(bitPattern: $0)) }
        case .float64: return integers(UInt64.self).map { Float(Double(bitPattern: $0)) }
        case .int8: return integers(Int8.self).map { Float($0) }
        case .int16: return integers(Int16.self).map { Float($0) }
        case .int32: return integers(Int32.self).map { Float($0) }
        case .int64: return integers(Int64.self).map { Float($0) }
        case .uint8: return bytes.map { Float($0) }
        case .uint16: return integers(UInt16.self).map { Float($0) }
        case .uint32: return integers(UInt32.self).map { Float($0) }
        case .uint64: return integers(UInt64.self).map { Float($0) }
        case .bool: return bytes.map { $0 != 0 ? 1 : 0 }
        case .unicode:
            throw ModelIOError(.unsupported, file: file, location: key,
                               "expected a numeric array, found strings (\(dtype.descr))")
        }
    }

    /// The elements as Int64 in C order. Integer and bool dtypes always convert; float dtypes
    /// convert only when every value is a whole number in Int64's range (labels are sometimes
    /// saved as floats); anything else throws naming the first offending element.
    public func int64s(file: String = "array", key: String? = nil) throws -> [Int64] {
        switch dtype {
        case .int8: return integers(Int8.self).map { Int64($0) }
        case .int16: return integers(Int16.self).map { Int64($0) }
        case .int32: return integers(Int32.self).map { Int64($0) }
        case .int64: return integers(Int64.self)
        case .uint8: return bytes.map { Int64($0) }
        case .uint16: return integers(UInt16.self).map { Int64($0) }
        case .uint32: return integers(UInt32.self).map { Int64($0) }
        case .bool: return bytes.map { $0 != 0 ? 1 : 0 }
        case .uint64:
            let values = integers(UInt64.self)
            if let i = values.firstIndex(where: { $0 > UInt64(Int64.max) }) {
                throw ModelIOError(.mismatch, file: file, location: key,
                                   "expected integers that fit Int64, found \(values[i]) at element \(i)")
            }
            return values.map { Int64($0) }
        case .float16, .float32, .float64:
            let values: [Double] = dtype == .float64
                ? integers(UInt64.self).map { Double(bitPattern: $0) }
                : try floats(file: file, key: key).map { Double($0) }
            var out = [Int64]()
            out.reserveCapacity(values.count)
            for (i, v) in values.enumerated() {
                guard let n = Int64(exactly: v) else {
                    throw ModelIOError(.mismatch, file: file, location: key,
                                       "expected whole numbers, found \(v) at element \(i) of a \(dtype.descr) array")
                }
                out.append(n)
            }
            return out
        case .unicode:
            throw ModelIOError(.unsupported, file: file, location: key,
                               "expected an integer array, found strings (\(dtype.descr))")
        }
    }

    /// The array as a float32 `Tensor` of the same shape (see `floats(file:key:)`).
    public func tensor(file: String = "array", key: String? = nil) throws -> Tensor {
        Tensor(shape: shape, data: try floats(file: file, key: key))
    }

    /// The array as a float32 `Tensor`; throws for string arrays.
    public var tensor: Tensor {
        get throws { try tensor() }
    }

    /// The string of a one-element unicode array (0-d, as `init(string:)` writes), else nil.
    public var stringValue: String? {
        guard count == 1, let all = strings() else { return nil }
        return all[0]
    }

    /// The elements of a unicode array in C order with numpy's trailing-NUL stripping, else nil.
    /// Code units that are not Unicode scalars (a damaged file) read as U+FFFD.
    public func strings() -> [String]? {
        guard case .unicode(let length) = dtype else { return nil }
        let units = integers(UInt32.self)
        return (0..<count).map { e in
            var scalars = units[(e * length)..<((e + 1) * length)]
            while let last = scalars.last, last == 0 { scalars = scalars.dropLast() }
            var s = String.UnicodeScalarView()
            for u in scalars { s.append(Unicode.Scalar(u) ?? "\u{FFFD}") }
            return String(s)
        }
    }

    /// The stored bytes read as little-endian `T`s (for unicode: UTF-32 code units).
    private func integers<T: FixedWidthInteger>(_: T.Type) -> [T] {
        let n = bytes.count / MemoryLayout<T>.size
        return bytes.withUnsafeBytes { raw in
            (0..<n).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
        }
    }
}

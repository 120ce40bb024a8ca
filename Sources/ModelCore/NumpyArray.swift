import Foundation
import Tensor

/// An n-dimensional array as NumPy stores it in `.npy` files and `.npz` members.
///
/// Holds the shape, the element type and the raw element bytes. Whatever the file's byte order
/// and memory order were, the bytes here are always **little-endian and C order** (row-major,
/// last axis fastest): readers convert once on load, so every conversion and writer works on one
/// layout. A 0-d array (`shape == []`) holds exactly one element; an array with a zero extent
/// holds none.
///
/// Numbers are converted with `floats(file:key:)`, `int64s(file:key:)` and `tensor`; a 0-d
/// unicode array (numpy dtype `<U{n}`) carries a string, read with `stringValue`.
public struct NumpyArray: Equatable, Sendable {
    /// Extent of each axis, outermost first; `[]` for a 0-d array.
    public let shape: [Int]
    /// The element type (byte order is always little-endian here, see the type's comment).
    public let dtype: DType
    /// `count * dtype.itemSize` bytes: elements in C order, each little-endian.
    public let bytes: [UInt8]

    /// Number of elements: the product of `shape` (1 for a 0-d array).
    public var count: Int { shape.reduce(1, *) }

    /// An array over `bytes`, which must hold `count * dtype.itemSize` little-endian C-order bytes.
    ///
    /// A wrong byte count here is a programmer error (readers validate files before calling this).
    public init(dtype: DType, shape: [Int], bytes: [UInt8]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        precondition(bytes.count == shape.reduce(1, *) * dtype.itemSize,
                     "\(bytes.count) bytes do not hold shape \(shape) of \(dtype.descr)")
        self.shape = shape
        self.dtype = dtype
        self.bytes = bytes
    }

    /// The numpy element types this project reads and writes.
    ///
    /// Structured, complex, object, datetime and byte-string dtypes are deliberately absent:
    /// weight files and data sets never need them, and readers refuse them by name.
    public enum DType: Hashable, Sendable {
        case float16, float32, float64
        case int8, int16, int32, int64
        case uint8, uint16, uint32, uint64
        case bool
        /// Fixed-width UTF-32 string of `length` code points per element (numpy `<U{length}`),
        /// padded with NULs that numpy strips on read.
        case unicode(length: Int)

        /// Bytes per element.
        public var itemSize: Int {
            switch self {
            case .int8, .uint8, .bool: return 1
            case .float16, .int16, .uint16: return 2
            case .float32, .int32, .uint32: return 4
            case .float64, .int64, .uint64: return 8
            case .unicode(let length): return 4 * length
            }
        }

        /// The `descr` numpy writes for this type in little-endian order: `<f4`, `|u1`, `<U5`, ...
        /// (numpy spells every 1-byte type with `|`, "byte order not applicable").
        public var descr: String {
            switch self {
            case .float16: return "<f2"
            case .float32: return "<f4"
            case .float64: return "<f8"
            case .int8: return "|i1"
            case .int16: return "<i2"
            case .int32: return "<i4"
            case .int64: return "<i8"
            case .uint8: return "|u1"
            case .uint16: return "<u2"
            case .uint32: return "<u4"
            case .uint64: return "<u8"
            case .bool: return "|b1"
            case .unicode(let length): return "<U\(length)"
            }
        }

        /// Bytes reversed together when changing byte order: the item, or one UTF-32 code unit.
        package var swapUnit: Int {
            if case .unicode = self { return 4 }
            return itemSize
        }

        /// True for the types `floats` and `int64s` convert (everything but strings).
        public var isNumeric: Bool {
            if case .unicode = self { return false }
            return true
        }
    }
}

// MARK: - Constructors from Swift values

extension NumpyArray {
    /// A float32 array with the tensor's shape and elements (numpy `<f4`).
    public init(_ tensor: Tensor) {
        self.init(float32s: tensor.data, shape: tensor.shape)
    }

    /// A float32 array (numpy `<f4`); `values.count` must equal the product of `shape`.
    public init(float32s values: [Float], shape: [Int]) {
        self.init(littleEndian: values, dtype: .float32, shape: shape)
    }

    /// A float64 array (numpy `<f8`).
    public init(float64s values: [Double], shape: [Int]) {
        self.init(littleEndian: values, dtype: .float64, shape: shape)
    }

    /// An int64 array (numpy `<i8`), e.g. `num_batches_tracked` with `shape: []`.
    public init(int64s values: [Int64], shape: [Int]) {
        self.init(littleEndian: values, dtype: .int64, shape: shape)
    }

    /// An int32 array (numpy `<i4`).
    public init(int32s values: [Int32], shape: [Int]) {
        self.init(littleEndian: values, dtype: .int32, shape: shape)
    }

    /// An int8 array (numpy `|i1`).
    public init(int8s values: [Int8], shape: [Int]) {
        self.init(littleEndian: values, dtype: .int8, shape: shape)
    }

    /// A uint8 array (numpy `|u1`), e.g. image pixels.
    public init(uint8s values: [UInt8], shape: [Int]) {
        self.init(dtype: .uint8, shape: shape, bytes: values)
    }

    /// A bool array (numpy `|b1`, one byte 0 or 1 per element).
    public init(bools values: [Bool], shape: [Int]) {
        self.init(dtype: .bool, shape: shape, bytes: values.map { $0 ? 1 : 0 })
    }

    /// A 0-d unicode array holding `string` (numpy `<U{n}`), which `numpy.load` reads without
    /// `allow_pickle` — unlike a Python `str` saved as an object array.
    public init(string: String) {
        self.init(strings: [string], shape: [])
    }

    /// A unicode array (numpy `<U{n}`, n = the longest string's code points, at least 1 as numpy
    /// uses for `''`). Shorter strings are NUL-padded; trailing NULs in a string do not survive,
    /// exactly as in numpy.
    public init(strings: [String], shape: [Int]) {
        let scalars = strings.map { Array($0.unicodeScalars) }
        let length = max(1, scalars.map(\.count).max() ?? 1)
        var units = [UInt32]()
        units.reserveCapacity(length * strings.count)
        for s in scalars {
            units.append(contentsOf: s.map(\.value))
            units.append(contentsOf: repeatElement(0, count: length - s.count))
        }
        self.init(littleEndian: units, dtype: .unicode(length: length), shape: shape)
    }

    /// Copies trivially-representable values (numbers, UInt32 code units) as little-endian bytes.
    private init<T>(littleEndian values: [T], dtype: DType, shape: [Int]) {
        precondition(MemoryLayout<T>.stride == dtype.swapUnit, "\(T.self) does not match \(dtype.descr)")
        precondition(values.count * MemoryLayout<T>.stride == shape.reduce(1, *) * dtype.itemSize,
                     "\(values.count) values do not fill shape \(shape) of \(dtype.descr)")
        var out = values.withUnsafeBytes { Array($0) }
        if !ByteOrder.hostIsLittleEndian { ByteOrder.reverseEachUnit(&out, unit: dtype.swapUnit) }
        self.init(dtype: dtype, shape: shape, bytes: out)
    }
}

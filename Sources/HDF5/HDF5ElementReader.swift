import CHDF5
import Foundation
import ModelCore

/// Reads the elements of one open dataset or attribute as Float, Double or Int64.
///
/// Shared by datasets and attributes, which differ only in the read call. HDF5 converts
/// wherever it can (float16, big-endian, any integer width); the two cases it cannot convert
/// are decoded here: h5py bool enums (read in their native enum type, then widened) and
/// Keras's opaque bfloat16 (raw 16-bit patterns, widened by a 16-bit shift).
struct HDF5ElementReader {
    enum Source {
        case dataset(hid_t)
        case attribute(hid_t, name: String)
    }

    let file: HDF5File
    let source: Source
    /// The object's path inside the file, for errors.
    let path: String
    /// The file datatype (owned by the caller).
    let fileType: hid_t
    let dtype: HDF5DType
    /// Extent of each axis; `[]` for a scalar.
    let shape: [Int]
    let count: Int

    /// Opens the type and dataspace description of `source`; the caller closes `fileType`
    /// via `close()`. Throws for null dataspaces and for element counts that cannot fit in
    /// memory (a corrupt header must not make us allocate terabytes and trap).
    init(file: HDF5File, source: Source, path: String, bfloat16Marked: Bool) throws {
        self.file = file
        self.source = source
        self.path = path
        let type: hid_t, space: hid_t
        switch source {
        case .dataset(let d): type = H5Dget_type(d); space = type < 0 ? -1 : H5Dget_space(d)
        case .attribute(let a, _): type = H5Aget_type(a); space = type < 0 ? -1 : H5Aget_space(a)
        }
        guard type >= 0, space >= 0 else {
            let e = file.failure(.malformed, at: path, "\(Self.prefix(source))cannot read the type and shape")
            if type >= 0 { H5Tclose(type) }
            throw e
        }
        defer { H5Sclose(space) }
        fileType = type
        dtype = HDF5DType.of(type, bfloat16Marked: bfloat16Marked)
        do {
            shape = try Self.shape(of: space, file: file, path: path, source: source)
            count = try Self.elementCount(shape, elementSize: max(H5Tget_size(type), 8), file: file, path: path)
        } catch {
            H5Tclose(type)
            throw error
        }
    }

    func close() { H5Tclose(fileType) }

    // MARK: - Reading

    /// All elements as Float: any float, integer or bool type.
    func floats() throws -> [Float] {
        switch dtype {
        case .bool: return try enumValues().map { Float($0) }
        case .bfloat16 where H5Tget_class(fileType) == H5T_OPAQUE: return try opaqueBFloat16()
        case _ where dtype.isFloatingPoint || dtype.isInteger: return try converted(Float(0), sh5_native_float())
        default: throw notNumeric()
        }
    }

    /// All elements as Double: any float, integer or bool type.
    func doubles() throws -> [Double] {
        switch dtype {
        case .bool: return try enumValues().map { Double($0) }
        case .bfloat16 where H5Tget_class(fileType) == H5T_OPAQUE: return try opaqueBFloat16().map { Double($0) }
        case _ where dtype.isFloatingPoint || dtype.isInteger: return try converted(Double(0), sh5_native_double())
        default: throw notNumeric()
        }
    }

    /// All elements as Int64: integer and bool types only (floats are not silently truncated).
    func integers() throws -> [Int64] {
        switch dtype {
        case .bool: return try enumValues()
        case .uint64:
            let values = try converted(UInt64(0), sh5_native_uint64())
            if let big = values.first(where: { $0 > UInt64(Int64.max) }) {
                throw file.error(.unsupported, at: path, "\(Self.prefix(source))uint64 value \(big) does not fit in int64")
            }
            return values.map { Int64($0) }
        case _ where dtype.isInteger: return try converted(Int64(0), sh5_native_int64())
        default:
            throw file.error(.mismatch, at: path, "\(Self.prefix(source))expected integers, found \(dtype)")
        }
    }

    // MARK: - Private

    /// Reads with HDF5 converting each element to `memoryType` (the native layout of T).
    private func converted<T>(_ zero: T, _ memoryType: hid_t) throws -> [T] {
        var values = [T](repeating: zero, count: count)
        if count == 0 { return values }
        let status = values.withUnsafeMutableBytes { read(memoryType, $0.baseAddress!) }
        if status < 0 { throw readFailure() }
        return values
    }

    /// Enum elements (h5py bool) as the integer values of their members. HDF5 will not
    /// convert an enum to a number, so read in the native enum type and widen here.
    private func enumValues() throws -> [Int64] {
        let memoryType = H5Tget_native_type(fileType, H5T_DIR_ASCEND)
        if memoryType < 0 { throw file.failure(.malformed, at: path, "\(Self.prefix(source))cannot read the enum type") }
        defer { H5Tclose(memoryType) }
        let size = H5Tget_size(memoryType)
        let base = H5Tget_super(memoryType)
        let signed = base >= 0 && H5Tget_sign(base) != H5T_SGN_NONE
        if base >= 0 { H5Tclose(base) }
        guard [1, 2, 4, 8].contains(size) else {
            throw file.error(.unsupported, at: path, "\(Self.prefix(source))enum of \(size)-byte integers")
        }
        var raw = [UInt8](repeating: 0, count: count * size)
        if count == 0 { return [] }
        if raw.withUnsafeMutableBytes({ read(memoryType, $0.baseAddress!) }) < 0 { throw readFailure() }
        return raw.withUnsafeBytes { bytes in
            (0..<count).map { i in
                let at = i * size
                switch (size, signed) {
                case (1, true): return Int64(bytes.load(fromByteOffset: at, as: Int8.self))
                case (1, false): return Int64(bytes.load(fromByteOffset: at, as: UInt8.self))
                case (2, true): return Int64(bytes.loadUnaligned(fromByteOffset: at, as: Int16.self))
                case (2, false): return Int64(bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self))
                case (4, true): return Int64(bytes.loadUnaligned(fromByteOffset: at, as: Int32.self))
                case (4, false): return Int64(bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self))
                case (_, true): return bytes.loadUnaligned(fromByteOffset: at, as: Int64.self)
                default: return Int64(bitPattern: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                }
            }
        }
    }

    /// Keras's opaque bfloat16: the upper 16 bits of a float32, stored little-endian.
    private func opaqueBFloat16() throws -> [Float] {
        var raw = [UInt16](repeating: 0, count: count)
        if count == 0 { return [] }
        // An opaque memory type equal to the file type: HDF5 copies the bytes unchanged.
        if raw.withUnsafeMutableBytes({ read(fileType, $0.baseAddress!) }) < 0 { throw readFailure() }
        return raw.map { Float(bitPattern: UInt32(UInt16(littleEndian: $0)) << 16) }
    }

    private func read(_ memoryType: hid_t, _ buffer: UnsafeMutableRawPointer) -> herr_t {
        switch source {
        case .dataset(let d): H5Dread(d, memoryType, sh5_s_all(), sh5_s_all(), sh5_p_default(), buffer)
        case .attribute(let a, _): H5Aread(a, memoryType, buffer)
        }
    }

    private func readFailure() -> ModelIOError {
        file.failure(.malformed, at: path, "\(Self.prefix(source))cannot read \(dtype) data (truncated or corrupt file?)")
    }

    private func notNumeric() -> ModelIOError {
        file.error(dtype == .string ? .mismatch : .unsupported, at: path,
                   "\(Self.prefix(source))expected numbers, found \(dtype)")
    }

    /// "attribute 'x': " for attributes, so errors name the attribute as well as the object.
    static func prefix(_ source: Source) -> String {
        switch source {
        case .dataset: ""
        case .attribute(_, let name): "attribute '\(name)': "
        }
    }

    /// The extent of `space`: `[]` for SCALAR, the dims for SIMPLE; NULL spaces are refused.
    static func shape(of space: hid_t, file: HDF5File, path: String, source: Source) throws -> [Int] {
        switch H5Sget_simple_extent_type(space) {
        case H5S_SCALAR: return []
        case H5S_SIMPLE:
            let rank = Int(H5Sget_simple_extent_ndims(space))
            guard rank >= 0 else { throw file.failure(.malformed, at: path, "\(prefix(source))cannot read the dataspace") }
            var dims = [hsize_t](repeating: 0, count: rank)
            if rank > 0, H5Sget_simple_extent_dims(space, &dims, nil) < 0 {
                throw file.failure(.malformed, at: path, "\(prefix(source))cannot read the dataspace")
            }
            guard dims.allSatisfy({ $0 <= hsize_t(Int.max) }) else {
                throw file.error(.malformed, at: path, "\(prefix(source))impossible extent \(dims)")
            }
            return dims.map { Int($0) }
        case H5S_NULL: return [0]   // h5py.Empty: no elements at all
        default: throw file.failure(.malformed, at: path, "\(prefix(source))cannot read the dataspace")
        }
    }

    /// The element count, refusing sizes beyond the memory budget (a few-kB file can declare a
    /// chunked dataset of terabytes that reads as its fill value).
    static func elementCount(_ shape: [Int], elementSize: Int, file: HDF5File, path: String) throws -> Int {
        var count = 1
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw file.error(.malformed, at: path, "impossible shape \(shape)") }
            count = product
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: elementSize)
        if overflow { throw file.error(.unsupported, at: path, "shape \(shape) is too large to read into memory") }
        try MemoryBudget.check(UInt64(bytes), file: file.name, location: path, what: "shape \(shape) needs")
        return count
    }
}

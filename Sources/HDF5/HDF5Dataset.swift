import CHDF5
import Foundation
import ModelCore

/// What a dataset holds and how it is stored.
public struct HDF5DatasetInfo: Equatable, Sendable {
    /// Extent of each axis (numpy order); `[]` for a scalar (0-d) dataset.
    public var shape: [Int]
    public var dtype: HDF5DType
    /// Chunk extents, or nil for contiguous/compact storage.
    public var chunks: [Int]?
    /// Filters in pipeline order: "shuffle", "gzip", "fletcher32", "szip" or "filter <id>".
    public var filters: [String]
}

/// How a new dataset is stored.
///
/// Keras itself writes `.contiguous`; chunked + shuffle + gzip files are smaller and are read
/// transparently by h5py and Keras. 0-d (scalar) datasets are always contiguous, because
/// HDF5 cannot chunk a scalar.
public enum HDF5Layout: Equatable, Sendable {
    case contiguous
    /// `chunks` nil picks chunks of at most 1 MiB by halving the largest axis; `gzipLevel`
    /// is 0...9 or nil for no compression. Filters run shuffle first, then gzip.
    case chunked(chunks: [Int]? = nil, shuffle: Bool = true, gzipLevel: Int? = 4)
}

extension HDF5File {
    /// Shape, dtype and storage of the dataset at `path`.
    public func datasetInfo(_ path: String) throws -> HDF5DatasetInfo {
        try withDataset(path) { reader, dataset in
            let (chunks, filters) = try storage(of: dataset, path: path)
            return HDF5DatasetInfo(shape: reader.shape, dtype: reader.dtype, chunks: chunks, filters: filters)
        }
    }

    /// The dataset at `path` as Float, converted from any float (16/32/64, either byte
    /// order, bfloat16), integer or bool type. Values are row-major in `shape` order.
    public func readFloats(_ path: String) throws -> (shape: [Int], values: [Float]) {
        try withDataset(path) { reader, _ in (reader.shape, try reader.floats()) }
    }

    /// The dataset at `path` as Int64, from any integer or bool type. Float datasets are
    /// refused (`.mismatch`) rather than truncated.
    public func readInts(_ path: String) throws -> (shape: [Int], values: [Int64]) {
        try withDataset(path) { reader, _ in (reader.shape, try reader.integers()) }
    }

    /// Writes a new dataset at `path` (missing parent groups are created), stored as
    /// `dtype` ∈ {float16, float32, float64}. `shape: []` writes a scalar.
    public func write(floats values: [Float], shape: [Int], to path: String,
                      as dtype: HDF5DType = .float32, layout: HDF5Layout = .contiguous) throws {
        try HDF5Lock.run {
            let fileType: hid_t
            switch dtype {
            case .float32: fileType = sh5_ieee_f32le()
            case .float64: fileType = sh5_ieee_f64le()
            case .float16:
                fileType = sh5_make_f16le()
                if fileType < 0 { throw failure(.io, at: path, "cannot make the float16 type") }
            default: throw error(.unsupported, at: path, "cannot store floats as \(dtype)")
            }
            defer { if dtype == .float16 { H5Tclose(fileType) } }
            try checkCount(values.count, shape: shape, path: path)
            let dataset = try createDataset(at: path, type: fileType, shape: shape, layout: layout,
                                            elementSize: H5Tget_size(fileType))
            defer { H5Dclose(dataset) }
            try writeAll(values, memoryType: sh5_native_float(), to: dataset, path: path)
        }
    }

    /// Writes a new dataset at `path` stored as `dtype` ∈ {int8 … int64, uint8 … uint64,
    /// bool (h5py's enum)}. Values out of the type's range are refused, not clipped.
    public func write(ints values: [Int64], shape: [Int], to path: String,
                      as dtype: HDF5DType = .int64, layout: HDF5Layout = .contiguous) throws {
        try HDF5Lock.run {
            guard let (fileType, range) = Self.integerFileType(dtype) else {
                throw error(.unsupported, at: path, "cannot store integers as \(dtype)")
            }
            try checkCount(values.count, shape: shape, path: path)
            if let bad = values.first(where: { !range.contains($0) }) {
                throw error(.mismatch, at: path, "value \(bad) does not fit in \(dtype)")
            }
            if dtype == .bool {
                let boolType = try makeBoolType(path: path)
                defer { H5Tclose(boolType) }
                let dataset = try createDataset(at: path, type: boolType, shape: shape, layout: layout, elementSize: 1)
                defer { H5Dclose(dataset) }
                // HDF5 does not convert numbers to enums: write the enum's own bytes.
                try writeAll(values.map { Int8($0) }, memoryType: boolType, to: dataset, path: path)
                return
            }
            let dataset = try createDataset(at: path, type: fileType, shape: shape, layout: layout,
                                            elementSize: H5Tget_size(fileType))
            defer { H5Dclose(dataset) }
            try writeAll(values, memoryType: sh5_native_int64(), to: dataset, path: path)
        }
    }

    // MARK: - Internal

    /// Opens the dataset at `path` (which must exist and be a dataset) for `body`.
    func withDataset<T>(_ path: String, _ body: (HDF5ElementReader, hid_t) throws -> T) throws -> T {
        try HDF5Lock.run {
            let file = try id()
            try requireKind(.dataset, at: path)
            let dataset = H5Dopen2(file, path, sh5_p_default())
            if dataset < 0 { throw failure(.malformed, at: path, "cannot open dataset") }
            defer { H5Dclose(dataset) }
            let reader = try HDF5ElementReader(file: self, source: .dataset(dataset), path: path,
                                               bfloat16Marked: isMarkedBFloat16(dataset, path: path))
            defer { reader.close() }
            return try body(reader, dataset)
        }
    }

    /// Keras 3 names an opaque 2-byte dataset bfloat16 only through its `dtype` attribute.
    private func isMarkedBFloat16(_ dataset: hid_t, path: String) -> Bool {
        let type = H5Dget_type(dataset)
        guard type >= 0 else { return false }
        let opaque = H5Tget_class(type) == H5T_OPAQUE
        H5Tclose(type)
        guard opaque, hasAttribute("dtype", at: path) else { return false }
        return (try? stringAttribute("dtype", at: path))?.lowercased().contains("bfloat16") ?? false
    }

    private func storage(of dataset: hid_t, path: String) throws -> ([Int]?, [String]) {
        let dcpl = H5Dget_create_plist(dataset)
        if dcpl < 0 { throw failure(.malformed, at: path, "cannot read the dataset's storage properties") }
        defer { H5Pclose(dcpl) }
        guard H5Pget_layout(dcpl) == H5D_CHUNKED else { return (nil, []) }
        let rank = H5Pget_chunk(dcpl, 0, nil)
        guard rank >= 0 else { throw failure(.malformed, at: path, "cannot read the chunk shape") }
        var chunks = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 { _ = H5Pget_chunk(dcpl, rank, &chunks) }
        var filters: [String] = []
        for index in 0..<max(0, Int(H5Pget_nfilters(dcpl))) {
            var flags: UInt32 = 0, cdCount = 0, config: UInt32 = 0
            let filter = H5Pget_filter2(dcpl, UInt32(index), &flags, &cdCount, nil, 0, nil, &config)
            switch filter {
            case H5Z_filter_t(H5Z_FILTER_DEFLATE): filters.append("gzip")
            case H5Z_filter_t(H5Z_FILTER_SHUFFLE): filters.append("shuffle")
            case H5Z_filter_t(H5Z_FILTER_FLETCHER32): filters.append("fletcher32")
            case H5Z_filter_t(H5Z_FILTER_SZIP): filters.append("szip")
            default: filters.append("filter \(filter)")
            }
        }
        return (chunks.map { Int($0) }, filters)
    }

    private func checkCount(_ count: Int, shape: [Int], path: String) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else { throw error(.mismatch, at: path, "negative extent in shape \(shape)") }
        guard let expected = Self.product(shape), count == expected else {
            throw error(.mismatch, at: path, "shape \(shape) does not hold \(count) values")
        }
    }

    /// Creates the dataset (and missing parent groups) for a write; the caller closes it.
    func createDataset(at path: String, type: hid_t, shape: [Int], layout: HDF5Layout,
                               elementSize: Int) throws -> hid_t {
        let file = try id()
        try requireWritable(path)
        if exists(path) { throw error(.mismatch, at: path, "already exists") }
        try requireGroupParents(of: path)
        try createUntimedParents(of: path, file: file)
        var dims = shape.map { hsize_t($0) }
        let space = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(shape.count), &dims, nil)
        if space < 0 { throw failure(.io, at: path, "cannot create dataspace for shape \(shape)") }
        defer { H5Sclose(space) }
        let dcpl = try creationList(shape: shape, layout: layout, elementSize: elementSize, path: path)
        defer { H5Pclose(dcpl) }
        let dataset = H5Dcreate2(file, path, type, space, sh5_p_default(), dcpl, sh5_p_default())
        if dataset < 0 { throw failure(.io, at: path, "cannot create dataset") }
        return dataset
    }

    /// The dataset-creation list for `layout` (contiguous for scalars), without timestamps
    /// (`HDF5Untimed`); the caller closes it.
    private func creationList(shape: [Int], layout: HDF5Layout, elementSize: Int, path: String) throws -> hid_t {
        guard case let .chunked(requested, shuffle, gzipLevel) = layout, !shape.isEmpty else {
            guard let dcpl = HDF5Untimed.creationList(sh5_p_dataset_create()) else {
                throw failure(.io, at: path, "cannot create dataset-creation list")
            }
            return dcpl
        }
        let chunks = requested ?? Self.defaultChunks(shape: shape, elementSize: elementSize)
        guard chunks.count == shape.count,
              zip(chunks, shape).allSatisfy({ $0 >= 1 && $0 <= max($1, 1) }) else {
            throw error(.mismatch, at: path, "chunks \(chunks) do not fit shape \(shape) (each must be 1...extent)")
        }
        guard let chunkBytes = Self.product(chunks + [elementSize]), chunkBytes < 1 << 32 else {
            throw error(.mismatch, at: path, "chunks \(chunks) exceed HDF5's 4 GiB chunk limit")
        }
        if let level = gzipLevel, !(0...9).contains(level) {
            throw error(.mismatch, at: path, "gzip level \(level) is not in 0...9")
        }
        guard let dcpl = HDF5Untimed.creationList(sh5_p_dataset_create()) else {
            throw failure(.io, at: path, "cannot create dataset-creation list")
        }
        var chunkDims = chunks.map { hsize_t($0) }
        var ok = H5Pset_chunk(dcpl, Int32(chunks.count), &chunkDims) >= 0
        if ok, shuffle { ok = H5Pset_shuffle(dcpl) >= 0 }
        if ok, let level = gzipLevel { ok = H5Pset_deflate(dcpl, UInt32(level)) >= 0 }
        guard ok else {
            let e = failure(.io, at: path, "cannot set chunking/compression")
            H5Pclose(dcpl)
            throw e
        }
        return dcpl
    }

    /// The product of `factors`, or nil on overflow (absurd shapes must not trap).
    static func product(_ factors: [Int]) -> Int? {
        var result = 1
        for factor in factors {
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            result = next
        }
        return result
    }

    /// Chunks of at most 1 MiB (h5py's order of magnitude): start from the whole array and
    /// halve the largest axis. Zero extents get chunk 1, which HDF5 accepts.
    static func defaultChunks(shape: [Int], elementSize: Int) -> [Int] {
        var chunks = shape.map { max($0, 1) }
        while chunks.reduce(elementSize, *) > 1 << 20,
              let axis = chunks.indices.max(by: { chunks[$0] < chunks[$1] }), chunks[axis] > 1 {
            chunks[axis] = (chunks[axis] + 1) / 2
        }
        return chunks
    }

    private func writeAll<T>(_ values: [T], memoryType: hid_t, to dataset: hid_t, path: String) throws {
        guard !values.isEmpty else { return }
        let status = values.withUnsafeBytes {
            H5Dwrite(dataset, memoryType, sh5_s_all(), sh5_s_all(), sh5_p_default(), $0.baseAddress)
        }
        if status < 0 { throw failure(.io, at: path, "cannot write dataset") }
    }

    /// The little-endian file type and the accepted value range for an integer dtype.
    private static func integerFileType(_ dtype: HDF5DType) -> (hid_t, ClosedRange<Int64>)? {
        switch dtype {
        case .int8: (sh5_std_i8le(), Int64(Int8.min)...Int64(Int8.max))
        case .int16: (sh5_std_i16le(), Int64(Int16.min)...Int64(Int16.max))
        case .int32: (sh5_std_i32le(), Int64(Int32.min)...Int64(Int32.max))
        case .int64: (sh5_std_i64le(), Int64.min...Int64.max)
        case .uint8: (sh5_std_u8le(), 0...Int64(UInt8.max))
        case .uint16: (sh5_std_u16le(), 0...Int64(UInt16.max))
        case .uint32: (sh5_std_u32le(), 0...Int64(UInt32.max))
        case .uint64: (sh5_std_u64le(), 0...Int64.max)
        case .bool: (sh5_std_i8le(), 0...1)
        default: nil
        }
    }

    /// h5py's bool type: enum {FALSE = 0, TRUE = 1} over a 1-byte signed integer.
    private func makeBoolType(path: String) throws -> hid_t {
        let type = H5Tenum_create(sh5_native_int8())
        if type < 0 { throw failure(.io, at: path, "cannot make the bool type") }
        var no: Int8 = 0, yes: Int8 = 1
        if H5Tenum_insert(type, "FALSE", &no) < 0 || H5Tenum_insert(type, "TRUE", &yes) < 0 {
            let e = failure(.io, at: path, "cannot make the bool type")
            H5Tclose(type)
            throw e
        }
        return type
    }
}

import CHDF5
import Foundation

/// How a string attribute is stored.
///
/// h5py 3 writes Python `str` as `.variableUTF8` and `bytes` as `.variableASCII`; numpy `'S'`
/// arrays (h5py 2 `layer_names`, Keras's chunked `layer_names0..N`) are `.fixedASCII`
/// (NULLPAD, padded to the longest string). Keras reads all three.
public enum HDF5StringForm: Sendable {
    case variableUTF8
    case variableASCII
    case fixedASCII
}

// String attributes in every form Keras and h5py write (docs/formats.md, "HDF5"). HDF5 1.10 cannot
// convert ASCII <-> UTF-8 nor fixed <-> variable length, so every read builds its memory type
// from the file type's own cset and length kind; bytes are decoded as UTF-8 in all cases.
extension HDF5File {
    /// Keras splits attributes larger than this into `name0`, `name1`, ... (it is HDF5's
    /// object-header message limit with the default file format).
    static let attributeSizeLimit = 64512

    /// A string attribute holding exactly one string (scalar or one-element array).
    public func stringAttribute(_ name: String, at path: String = "/") throws -> String {
        let strings = try withAttribute(name, at: path) { try readStrings($0, name: name, path: path) }
        guard strings.count == 1 else {
            throw error(.mismatch, at: path, "attribute '\(name)': expected one string, found \(strings.count)")
        }
        return strings[0]
    }

    /// A list of strings, accepting every form Keras writes: fixed or variable length, any
    /// cset and padding, scalar or 1-D; a non-string attribute with no elements (Keras stores
    /// `[]` as float64 of shape (0,)) is the empty list; and when `name` is absent, the
    /// concatenation of the chunks `name0`, `name1`, ... that Keras writes for long lists.
    public func stringArrayAttribute(_ name: String, at path: String = "/") throws -> [String] {
        try HDF5Lock.run {
            if hasAttribute(name, at: path) || !hasAttribute(name + "0", at: path) {
                return try withAttribute(name, at: path) { try readStrings($0, name: name, path: path) }
            }
            var strings: [String] = []
            var chunk = 0
            while hasAttribute("\(name)\(chunk)", at: path) {
                let chunkName = "\(name)\(chunk)"
                strings += try withAttribute(chunkName, at: path) { try readStrings($0, name: chunkName, path: path) }
                chunk += 1
            }
            return strings
        }
    }

    /// Sets a scalar string attribute, replacing any attribute of that name.
    public func setAttribute(_ name: String, string value: String, at path: String = "/",
                             form: HDF5StringForm = .variableUTF8) throws {
        try HDF5Lock.run {
            try removeChunks(of: name, at: path)
            try writeStrings([value], name: name, at: path, form: form, scalar: true, fixedSize: nil)
        }
    }

    /// Sets a 1-D string-array attribute, replacing any attribute (or chunk set) of that name.
    ///
    /// Written as Keras does: an empty list becomes float64 of shape (0,) (an empty string
    /// type is impossible in HDF5), and a list too large for one attribute is split into
    /// `name0`, `name1`, ... of near-equal length (numpy `array_split`), fixed-length chunks
    /// all padded to the longest string.
    public func setAttribute(_ name: String, strings values: [String], at path: String = "/",
                             form: HDF5StringForm = .fixedASCII) throws {
        try HDF5Lock.run {
            try removeChunks(of: name, at: path)
            if values.isEmpty {
                let space = try attributeSpace(scalar: false, count: 0, path: path)
                defer { H5Sclose(space) }
                H5Aclose(try createAttribute(name, at: path, type: sh5_ieee_f64le(), space: space))
                return
            }
            let longest = max(1, values.map { $0.utf8.count }.max() ?? 1)
            // Bytes the attribute takes in the object header: the strings themselves when
            // fixed, a 16-byte global-heap reference each when variable length.
            let itemBytes = form == .fixedASCII ? longest : 16
            guard itemBytes <= Self.attributeSizeLimit else {
                throw error(.mismatch, at: path, "attribute '\(name)': a string of \(longest) bytes exceeds "
                                               + "HDF5's \(Self.attributeSizeLimit)-byte attribute limit")
            }
            let chunks = Self.splitForHeaderLimit(values, itemBytes: itemBytes)
            let fixedSize = form == .fixedASCII ? longest : nil
            if chunks.count == 1 {
                try writeStrings(values, name: name, at: path, form: form, scalar: false, fixedSize: fixedSize)
            } else {
                for (index, chunk) in chunks.enumerated() {
                    try writeStrings(chunk, name: "\(name)\(index)", at: path, form: form, scalar: false,
                                     fixedSize: fixedSize)
                }
            }
        }
    }

    // MARK: - Private

    /// The fewest near-equal parts (numpy `array_split`) that each fit the header limit.
    static func splitForHeaderLimit(_ values: [String], itemBytes: Int) -> [[String]] {
        var parts = 1
        while true {
            let base = values.count / parts, extra = values.count % parts
            let largest = base + (extra > 0 ? 1 : 0)
            if largest * itemBytes <= attributeSizeLimit || largest <= 1 {
                var result: [[String]] = []
                var start = 0
                for part in 0..<parts {
                    let size = base + (part < extra ? 1 : 0)
                    result.append(Array(values[start..<(start + size)]))
                    start += size
                }
                return result
            }
            parts += 1
        }
    }

    /// Deletes `name` and any Keras chunks `name0`, `name1`, ... so a rewrite leaves no stale parts.
    private func removeChunks(of name: String, at path: String) throws {
        try removeAttribute(name, at: path)
        var chunk = 0
        while hasAttribute("\(name)\(chunk)", at: path) {
            try removeAttribute("\(name)\(chunk)", at: path)
            chunk += 1
        }
    }

    func readStrings(_ attribute: hid_t, name: String, path: String) throws -> [String] {
        let fileType = H5Aget_type(attribute)
        if fileType < 0 { throw failure(.malformed, at: path, "cannot read the type of attribute '\(name)'") }
        defer { H5Tclose(fileType) }
        let space = H5Aget_space(attribute)
        if space < 0 { throw failure(.malformed, at: path, "cannot read the shape of attribute '\(name)'") }
        defer { H5Sclose(space) }
        let points = H5Sget_simple_extent_npoints(space)
        if points < 0 { throw failure(.malformed, at: path, "cannot read the shape of attribute '\(name)'") }
        let count = Int(points)
        guard H5Tget_class(fileType) == H5T_STRING else {
            if count == 0 { return [] }   // Keras's empty list: float64 of shape (0,)
            throw error(.mismatch, at: path, "attribute '\(name)': expected strings, found \(HDF5DType.of(fileType))")
        }
        if count == 0 { return [] }
        let memoryType = H5Tcopy(sh5_c_s1())
        if memoryType < 0 { throw failure(.io, at: path, "cannot make a string type") }
        defer { H5Tclose(memoryType) }
        _ = H5Tset_cset(memoryType, H5Tget_cset(fileType))
        if H5Tis_variable_str(fileType) > 0 {
            return try readVariableStrings(attribute, memoryType: memoryType, space: space, count: count,
                                           name: name, path: path)
        }
        // Fixed length: one extra byte and NULLTERM padding turn every item into a C string
        // (HDF5 converts NULLPAD/SPACEPAD to NULLTERM on read).
        let (stride, overflow) = H5Tget_size(fileType).addingReportingOverflow(1)
        if overflow { throw error(.malformed, at: path, "attribute '\(name)': impossible string size") }
        _ = try HDF5ElementReader.elementCount([count], elementSize: stride, file: self, path: path)
        _ = H5Tset_size(memoryType, stride)
        _ = H5Tset_strpad(memoryType, H5T_STR_NULLTERM)
        var buffer = [UInt8](repeating: 0, count: count * stride)
        if buffer.withUnsafeMutableBytes({ H5Aread(attribute, memoryType, $0.baseAddress) }) < 0 {
            throw failure(.malformed, at: path, "cannot read attribute '\(name)'")
        }
        return (0..<count).map { i in
            let item = buffer[(i * stride)..<((i + 1) * stride)]
            return String(decoding: item.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    private func readVariableStrings(_ attribute: hid_t, memoryType: hid_t, space: hid_t, count: Int,
                                     name: String, path: String) throws -> [String] {
        _ = try HDF5ElementReader.elementCount([count], elementSize: 8, file: self, path: path)
        _ = H5Tset_size(memoryType, sh5_variable())
        var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        return try pointers.withUnsafeMutableBufferPointer { buffer in
            if H5Aread(attribute, memoryType, buffer.baseAddress) < 0 {
                throw failure(.malformed, at: path, "cannot read attribute '\(name)'")
            }
            // HDF5 malloc'd each string; hand them back whatever happens below.
            defer { _ = sh5_reclaim(memoryType, space, buffer.baseAddress) }
            return buffer.map { pointer in
                guard let pointer else { return "" }   // HDF5 may store "" as a null pointer
                return String(decoding: UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)), as: UTF8.self)
            }
        }
    }

    /// Writes `values` as one attribute in `form`; `fixedSize` is the fixed item length
    /// (defaults to the longest string, at least 1 because HDF5 forbids empty string types).
    func writeStrings(_ values: [String], name: String, at path: String, form: HDF5StringForm,
                              scalar: Bool, fixedSize: Int?) throws {
        let type = H5Tcopy(sh5_c_s1())
        if type < 0 { throw failure(.io, at: path, "cannot make a string type") }
        defer { H5Tclose(type) }
        let size = fixedSize ?? max(1, values.map { $0.utf8.count }.max() ?? 1)
        var ok = H5Tset_cset(type, form == .variableUTF8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII) >= 0
        if form == .fixedASCII {
            ok = ok && H5Tset_size(type, size) >= 0 && H5Tset_strpad(type, H5T_STR_NULLPAD) >= 0
        } else {
            ok = ok && H5Tset_size(type, sh5_variable()) >= 0
        }
        if !ok { throw failure(.io, at: path, "cannot make a string type for attribute '\(name)'") }
        let space = try attributeSpace(scalar: scalar, count: values.count, path: path)
        defer { H5Sclose(space) }
        let attribute = try createAttribute(name, at: path, type: type, space: space)
        defer { H5Aclose(attribute) }
        let status: herr_t
        if form == .fixedASCII {
            // numpy 'S' layout: each string padded with NULs to `size` bytes.
            var buffer = [UInt8](repeating: 0, count: values.count * size)
            for (i, value) in values.enumerated() {
                for (j, byte) in value.utf8.prefix(size).enumerated() { buffer[i * size + j] = byte }
            }
            status = buffer.withUnsafeBytes { H5Awrite(attribute, type, $0.baseAddress) }
        } else {
            let pointers = values.map { strdup($0) }
            defer { pointers.forEach { free($0) } }
            guard pointers.allSatisfy({ $0 != nil }) else { throw error(.io, at: path, "out of memory") }
            status = pointers.withUnsafeBytes { H5Awrite(attribute, type, $0.baseAddress) }
        }
        if status < 0 { throw failure(.io, at: path, "cannot write attribute '\(name)'") }
    }
}

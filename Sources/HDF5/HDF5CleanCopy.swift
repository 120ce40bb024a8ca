import CHDF5
import Foundation
import ModelCore

/// A fresh in-memory HDF5 file holding what an untrusted file holds, rebuilt value by value:
/// what the reader child of `HDF5Isolation` returns.
///
/// Every group is created anew; every dataset is read whole (`readArray`, so every refusal of
/// the in-process reader applies: external storage, unverifiable filters, unsupported types,
/// the memory budget) and written contiguous with the same dtype (bfloat16 widened to float32,
/// as every reader sees it anyway; uint64 as int64); datasets of other types (strings,
/// compound, ...) become opaque stand-ins that readers refuse as they refuse the original; every attribute is read and written again: strings as
/// strings (fixed or variable length kept, scalar or 1-D), floats as float64, integers and
/// bools as int64, empty attributes as float64 of shape (0,) (Keras's empty list). Attributes
/// of other types (compound, reference, ...) are left out: no reader reads them, and one that
/// asked would get "no attribute". Nothing of the untrusted file's metadata is copied as bytes.
enum HDF5CleanCopy {
    static func image(of source: HDF5File) throws -> Data {
        let copy = try HDF5File(creatingInMemory: source.name)
        try copyAttributes(from: source, to: copy, at: "/")
        for child in try source.descendants() {
            switch child.kind {
            case .group: try copy.createGroup(child.name)
            case .dataset: try copyDataset(child.name, from: source, to: copy)
            case .other: continue   // named datatypes; dangling links
            }
            try copyAttributes(from: source, to: copy, at: child.name)
        }
        return try copy.imageData()
    }

    /// float32, float64 and int64 (nearly every weight and data set) go straight through;
    /// other types through `NumpyArray`, which keeps their dtype.
    private static func copyDataset(_ path: String, from source: HDF5File, to copy: HDF5File) throws {
        let dtype = try source.datasetInfo(path).dtype
        if dtype == .uint64, let (shape, values) = try? source.readInts(path) {
            // uint64 that fits becomes int64; values past Int64.max get the stand-in below.
            try copy.write(ints: values, shape: shape, to: path, as: .int64)
            return
        }
        switch dtype {
        case .float32:
            let (shape, values) = try source.readFloats(path)
            try copy.write(floats: values, shape: shape, to: path, as: .float32)
        case .float64:
            let (shape, values) = try source.readDoubles(path)
            try copy.write(doubles: values, shape: shape, to: path)
        case .int64:
            let (shape, values) = try source.readInts(path)
            try copy.write(ints: values, shape: shape, to: path, as: .int64)
        case .string, .unsupported, .uint64:
            // Not copied, but not dropped either (a state dict would silently lose a key): a
            // stand-in whose type names what was found, so a reader that reads this dataset
            // refuses it as it would in-process, and one that does not is not stopped by it.
            let found = "\(try source.datasetInfo(path).dtype)"
            try HDF5Lock.run {
                let type = H5Tcreate(H5T_OPAQUE, 1)
                if type < 0 { throw copy.failure(.io, at: path, "cannot make a stand-in type") }
                defer { H5Tclose(type) }
                _ = H5Tset_tag(type, unreadableTag + found)
                H5Dclose(try copy.createDataset(at: path, type: type, shape: [], layout: .contiguous, elementSize: 1))
            }
        default:
            try copy.write(array: try source.readArray(path), to: path)
        }
    }

    /// The opaque tag prefix of a stand-in dataset (see `copyDataset`).
    static let unreadableTag = "bss-unreadable "

    private enum AttributeForm {
        case strings(HDF5StringForm, scalar: Bool)
        case floats(scalar: Bool)
        case integers(scalar: Bool)
        case empty
        case skipped
    }

    private static func copyAttributes(from source: HDF5File, to copy: HDF5File, at path: String) throws {
        for name in try source.attributeNames(at: path) {
            switch try form(of: name, in: source, at: path) {
            case .strings(let form, let scalar):
                let values = try source.withAttribute(name, at: path) { try source.readStrings($0, name: name, path: path) }
                try HDF5Lock.run {
                    try copy.writeStrings(values, name: name, at: path, form: form, scalar: scalar && values.count == 1, fixedSize: nil)
                }
            case .floats(let scalar):
                let values = try source.doubleArrayAttribute(name, at: path)
                if scalar && values.count == 1 {
                    try copy.setAttribute(name, double: values[0], at: path)
                } else {
                    try copy.setAttribute(name, doubles: values, at: path)
                }
            case .integers(let scalar):
                let values = try source.intArrayAttribute(name, at: path)
                if scalar && values.count == 1 {
                    try copy.setAttribute(name, int: values[0], at: path)
                } else {
                    try copy.setAttribute(name, ints: values, at: path)
                }
            case .empty:
                try copy.setAttribute(name, doubles: [], at: path)
            case .skipped:
                continue
            }
        }
    }

    private static func form(of name: String, in source: HDF5File, at path: String) throws -> AttributeForm {
        try source.withAttribute(name, at: path) { attribute in
            let type = H5Aget_type(attribute)
            if type < 0 { throw source.failure(.malformed, at: path, "cannot read the type of attribute '\(name)'") }
            defer { H5Tclose(type) }
            let space = H5Aget_space(attribute)
            if space < 0 { throw source.failure(.malformed, at: path, "cannot read the shape of attribute '\(name)'") }
            defer { H5Sclose(space) }
            let points = H5Sget_simple_extent_npoints(space)
            let rank = H5Sget_simple_extent_ndims(space)
            if points < 0 || rank < 0 { throw source.failure(.malformed, at: path, "cannot read the shape of attribute '\(name)'") }
            if points == 0 { return .empty }
            let scalar = rank == 0
            switch HDF5DType.of(type) {
            case .string:
                if H5Tis_variable_str(type) > 0 {
                    return .strings(H5Tget_cset(type) == H5T_CSET_UTF8 ? .variableUTF8 : .variableASCII, scalar: scalar)
                }
                return .strings(.fixedASCII, scalar: scalar)
            case .float16, .bfloat16, .float32, .float64: return .floats(scalar: scalar)
            case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .bool: return .integers(scalar: scalar)
            case .unsupported: return .skipped
            }
        }
    }
}

import CHDF5
import Foundation
import ModelCore

// Numeric attributes and the machinery shared with string attributes
// (HDF5StringAttributes.swift). Attributes live on any object: the root ("/"), a group or a
// dataset. Errors name the object path as the location and the attribute in the message.
extension HDF5File {
    /// The attribute names of the object at `path`, in name order.
    public func attributeNames(at path: String = "/") throws -> [String] {
        try HDF5Lock.run {
            let file = try id()
            try requireObject(at: path)
            var names = sh5_names()
            defer { sh5_names_free(&names) }
            if sh5_list_attributes(file, Self.hdf5Path(path), &names) < 0 {
                throw failure(.malformed, at: path, "cannot list attributes")
            }
            return Self.unpack(names).map { $0.0 }
        }
    }

    /// Whether the object at `path` exists and has attribute `name`.
    public func hasAttribute(_ name: String, at path: String = "/") -> Bool {
        HDF5Lock.run {
            guard let file = try? id(), exists(path) else { return false }
            return H5Aexists_by_name(file, Self.hdf5Path(path), name, sh5_p_default()) > 0
        }
    }

    /// A numeric attribute holding exactly one value (scalar or one-element array), as Double.
    public func doubleAttribute(_ name: String, at path: String = "/") throws -> Double {
        try single(doubleArrayAttribute(name, at: path), name: name, path: path)
    }

    /// A numeric attribute (any float, integer or bool type and shape), flattened, as Double.
    public func doubleArrayAttribute(_ name: String, at path: String = "/") throws -> [Double] {
        try withNumericAttribute(name, at: path) { try $0.doubles() }
    }

    /// An integer attribute holding exactly one value, as Int64.
    public func intAttribute(_ name: String, at path: String = "/") throws -> Int64 {
        try single(intArrayAttribute(name, at: path), name: name, path: path)
    }

    /// An integer or bool attribute (any shape), flattened, as Int64. Floats are refused.
    public func intArrayAttribute(_ name: String, at path: String = "/") throws -> [Int64] {
        try withNumericAttribute(name, at: path) { try $0.integers() }
    }

    /// Sets a float64 scalar attribute, replacing any attribute of that name.
    public func setAttribute(_ name: String, double value: Double, at path: String = "/") throws {
        try writeNumericAttribute(name, at: path, values: [value], scalar: true,
                                  fileType: sh5_ieee_f64le(), memoryType: sh5_native_double())
    }

    /// Sets a 1-D float64 attribute, replacing any attribute of that name.
    public func setAttribute(_ name: String, doubles values: [Double], at path: String = "/") throws {
        try writeNumericAttribute(name, at: path, values: values, scalar: false,
                                  fileType: sh5_ieee_f64le(), memoryType: sh5_native_double())
    }

    /// Sets an int64 scalar attribute, replacing any attribute of that name.
    public func setAttribute(_ name: String, int value: Int64, at path: String = "/") throws {
        try writeNumericAttribute(name, at: path, values: [value], scalar: true,
                                  fileType: sh5_std_i64le(), memoryType: sh5_native_int64())
    }

    /// Sets a 1-D int64 attribute, replacing any attribute of that name.
    public func setAttribute(_ name: String, ints values: [Int64], at path: String = "/") throws {
        try writeNumericAttribute(name, at: path, values: values, scalar: false,
                                  fileType: sh5_std_i64le(), memoryType: sh5_native_int64())
    }

    // MARK: - Internal

    /// Throws `.notFound` unless something exists at `path`.
    func requireObject(at path: String) throws {
        guard exists(path) else { throw error(.notFound, at: path, "no such group or dataset") }
    }

    /// Opens attribute `name` of the object at `path` for `body`.
    func withAttribute<T>(_ name: String, at path: String, _ body: (hid_t) throws -> T) throws -> T {
        try HDF5Lock.run {
            let file = try id()
            try requireObject(at: path)
            guard hasAttribute(name, at: path) else { throw error(.notFound, at: path, "no attribute '\(name)'") }
            let attribute = H5Aopen_by_name(file, Self.hdf5Path(path), name, sh5_p_default(), sh5_p_default())
            if attribute < 0 { throw failure(.malformed, at: path, "cannot open attribute '\(name)'") }
            defer { H5Aclose(attribute) }
            return try body(attribute)
        }
    }

    private func withNumericAttribute<T>(_ name: String, at path: String,
                                         _ body: (HDF5ElementReader) throws -> T) throws -> T {
        try withAttribute(name, at: path) { attribute in
            let reader = try HDF5ElementReader(file: self, source: .attribute(attribute, name: name),
                                               path: path, bfloat16Marked: false)
            defer { reader.close() }
            return try body(reader)
        }
    }

    private func single<T>(_ values: [T], name: String, path: String) throws -> T {
        guard values.count == 1 else {
            throw error(.mismatch, at: path, "attribute '\(name)': expected one value, found \(values.count)")
        }
        return values[0]
    }

    /// Creates attribute `name` on the object at `path`, deleting any existing one first
    /// (HDF5 cannot change an attribute's type or shape in place). Caller closes the result.
    func createAttribute(_ name: String, at path: String, type: hid_t, space: hid_t) throws -> hid_t {
        let file = try id()
        try requireWritable(path)
        try requireObject(at: path)
        try removeAttribute(name, at: path)
        let attribute = H5Acreate_by_name(file, Self.hdf5Path(path), name, type, space,
                                          sh5_p_default(), sh5_p_default(), sh5_p_default())
        if attribute < 0 { throw failure(.io, at: path, "cannot create attribute '\(name)'") }
        return attribute
    }

    /// Deletes attribute `name` at `path` if present.
    func removeAttribute(_ name: String, at path: String) throws {
        guard hasAttribute(name, at: path) else { return }
        if H5Adelete_by_name(try id(), Self.hdf5Path(path), name, sh5_p_default()) < 0 {
            throw failure(.io, at: path, "cannot delete attribute '\(name)'")
        }
    }

    /// A SCALAR dataspace, or a 1-D one of `count` elements. Caller closes it.
    func attributeSpace(scalar: Bool, count: Int, path: String) throws -> hid_t {
        var dims = [hsize_t(count)]
        let space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil)
        if space < 0 { throw failure(.io, at: path, "cannot create dataspace") }
        return space
    }

    private func writeNumericAttribute<T>(_ name: String, at path: String, values: [T], scalar: Bool,
                                          fileType: hid_t, memoryType: hid_t) throws {
        try HDF5Lock.run {
            let space = try attributeSpace(scalar: scalar, count: values.count, path: path)
            defer { H5Sclose(space) }
            let attribute = try createAttribute(name, at: path, type: fileType, space: space)
            defer { H5Aclose(attribute) }
            guard !values.isEmpty else { return }
            if values.withUnsafeBytes({ H5Awrite(attribute, memoryType, $0.baseAddress) }) < 0 {
                throw failure(.io, at: path, "cannot write attribute '\(name)'")
            }
        }
    }
}

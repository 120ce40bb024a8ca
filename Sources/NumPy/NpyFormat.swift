import Foundation
import ModelCore

/// The `.npy` file format (NEP 1; `numpy/lib/_format_impl.py`), read and written.
///
/// Layout: `\x93NUMPY`, major and minor version, a little-endian header length (2 bytes in
/// v1.0, 4 in v2.0/v3.0), a Python dict literal `{'descr': ..., 'fortran_order': ..., 'shape': ...}`
/// (latin-1, or UTF-8 in v3.0), then `count * itemsize` raw bytes.
///
/// Reading accepts versions 1.0-3.0, any key order and quoting, big-endian and Fortran-order
/// data (converted to little-endian C order), 0-d and empty arrays. Writing produces version
/// 1.0 byte for byte as numpy 2.x does: keys sorted, 21-digit growth padding, data aligned to 64.
/// Trailing bytes after the data are refused (numpy ignores them): they mean the header's shape
/// does not describe the data.
public enum NpyFormat {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] // "\x93NUMPY"
    private static let expectedKeys: Set<String> = ["descr", "fortran_order", "shape"]

    /// Parses `.npy` bytes. `file` and `key` name the source in errors.
    public static func decode(_ data: Data, file: String, key: String? = nil) throws -> NumpyArray {
        try data.withUnsafeBytes { try decode(raw: $0, file: file, key: key) }
    }

    /// The `.npy` bytes of `array` (version 1.0, C order, little-endian).
    public static func encode(_ array: NumpyArray) -> Data {
        var out = Data(header(for: array))
        out.append(contentsOf: array.bytes)
        return out
    }

    // MARK: Reading

    static func decode(raw: UnsafeRawBufferPointer, file: String, key: String?) throws -> NumpyArray {
        func fail(_ kind: ModelIOError.Kind, _ message: String) -> ModelIOError {
            ModelIOError(kind, file: file, location: key, message)
        }
        let (header, dataOffset, nbytes) = try parseHeader(raw: raw, complete: true, file: file, key: key)!
        let elementCount = header.shape.reduce(1, *)   // checked for overflow by parseHeader
        let found = raw.count - dataOffset
        if found != nbytes {
            throw fail(found < nbytes ? .malformed : .mismatch,
                       "expected \(nbytes) bytes of data for shape \(pyTuple(header.shape)) \(header.descrText), found \(found)")
        }

        try MemoryBudget.check(UInt64(nbytes), file: file, location: key, what: "the array needs")
        let data = UnsafeRawBufferPointer(rebasing: raw[dataOffset...])
        var bytes: [UInt8]
        if header.fortranOrder && header.shape.count >= 2 && elementCount > 0 {
            bytes = fortranToC(data, shape: header.shape, itemSize: header.descr.dtype.itemSize)
        } else {
            bytes = Array(data)
        }
        if header.descr.needsSwap { ByteOrder.reverseEachUnit(&bytes, unit: header.descr.dtype.swapUnit) }
        return NumpyArray(dtype: header.descr.dtype, shape: header.shape, bytes: bytes)
    }

    /// Throws the error `decode` would give for a file of `size` bytes starting with `prefix`,
    /// if its header declares another size; does nothing when `prefix` ends inside the header.
    /// Lets a reader check a declared size before it inflates or allocates the rest.
    package static func checkDeclaredSize(prefix: UnsafeRawBufferPointer, size: UInt64, file: String, key: String?) throws {
        guard let (header, dataOffset, nbytes) = try parseHeader(raw: prefix, complete: false, file: file, key: key) else {
            return
        }
        let found = size >= UInt64(dataOffset) ? size - UInt64(dataOffset) : 0
        if found != UInt64(nbytes) {
            throw ModelIOError(found < UInt64(nbytes) ? .malformed : .mismatch, file: file, location: key,
                               "expected \(nbytes) bytes of data for shape \(pyTuple(header.shape)) \(header.descrText), found \(found)")
        }
    }

    /// Magic, version and header dict of `raw`: the header, where the data start and how many
    /// bytes they take. With `complete == false`, nil when `raw` ends inside the header.
    private static func parseHeader(raw: UnsafeRawBufferPointer, complete: Bool, file: String,
                                    key: String?) throws -> (Header, Int, Int)? {
        func fail(_ kind: ModelIOError.Kind, _ message: String) -> ModelIOError {
            ModelIOError(kind, file: file, location: key, message)
        }
        if !complete && raw.count < 12 { return nil }
        guard raw.count >= 8, raw.prefix(6).elementsEqual(magic) else {
            throw fail(.malformed, "not a .npy file: expected the magic \\x93NUMPY at the start, found "
                       + (raw.count < 6 ? "only \(raw.count) bytes" : hex(raw.prefix(6))))
        }
        let (major, minor) = (raw[6], raw[7])
        guard (1...3).contains(major), minor == 0 else {
            throw fail(.unsupported, "expected .npy format version 1.0, 2.0 or 3.0, found \(major).\(minor)")
        }
        let lengthSize = major == 1 ? 2 : 4
        guard raw.count >= 8 + lengthSize else {
            throw fail(.malformed, "truncated: the file ends inside the header length field")
        }
        var headerLength = 0
        for i in 0..<lengthSize { headerLength |= Int(raw[8 + i]) << (8 * i) }
        let dataOffset = 8 + lengthSize + headerLength
        if !complete && dataOffset > raw.count { return nil }
        guard dataOffset <= raw.count else {
            throw fail(.malformed, "truncated: expected a \(headerLength)-byte header, found \(raw.count - 8 - lengthSize) bytes after the length field")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: raw[(8 + lengthSize)..<dataOffset])
        let text: String
        if major == 3 {
            guard let utf8 = String(validating: headerBytes, as: UTF8.self) else {
                throw fail(.malformed, "version 3.0 header is not valid UTF-8")
            }
            text = utf8
        } else {
            // latin-1: each byte is the code point of the same value.
            text = String(String.UnicodeScalarView(headerBytes.map { Unicode.Scalar($0) }))
        }
        let header = try parseHeader(text, fail: fail)
        let elementCount = try checkedProduct(header.shape, fail: fail)
        let (nbytes, overflow) = elementCount.multipliedReportingOverflow(by: header.descr.dtype.itemSize)
        guard !overflow else { throw fail(.malformed, "shape \(pyTuple(header.shape)) is too large") }
        return (header, dataOffset, nbytes)
    }

    private struct Header {
        var descr: NpyDescr
        var descrText: String
        var fortranOrder: Bool
        var shape: [Int]
    }

    private static func parseHeader(_ text: String,
                                    fail: (ModelIOError.Kind, String) -> ModelIOError) throws -> Header {
        let literal: PythonLiteral
        do {
            literal = try PythonLiteral.parse(text)
        } catch let error as PythonLiteral.SyntaxError {
            throw fail(.malformed, "header is not a Python dict literal (\(error.message)): \(abbreviated(text))")
        }
        guard case .dict(let pairs) = literal else {
            throw fail(.malformed, "expected the header to be a dict, found \(abbreviated(literal.repr))")
        }
        var values: [String: PythonLiteral] = [:]
        for (k, v) in pairs {
            guard case .string(let name) = k else {
                throw fail(.malformed, "expected string keys in the header, found \(k.repr)")
            }
            values[name] = v
        }
        guard Set(values.keys) == expectedKeys else {
            throw fail(.malformed, "expected header keys descr, fortran_order, shape, found "
                       + values.keys.sorted().joined(separator: ", "))
        }
        let descrText: String
        switch values["descr"]! {
        case .string(let s): descrText = s
        case .list(let fields):
            throw fail(.unsupported, "structured dtype \(abbreviated(PythonLiteral.list(fields).repr)) is not supported")
        case let other:
            throw fail(.malformed, "expected 'descr' to be a dtype string, found \(other.repr)")
        }
        let descr: NpyDescr
        do {
            descr = try NpyDescr(descrText)
        } catch NpyDescr.Failure.unsupported(let why) {
            throw fail(.unsupported, why)
        }
        guard case .boolean(let fortranOrder) = values["fortran_order"]! else {
            throw fail(.malformed, "expected 'fortran_order' to be True or False, found \(values["fortran_order"]!.repr)")
        }
        let shapeItems: [PythonLiteral]
        switch values["shape"]! {
        case .tuple(let items), .list(let items): shapeItems = items
        case let other: throw fail(.malformed, "expected 'shape' to be a tuple of integers, found \(other.repr)")
        }
        var shape: [Int] = []
        for item in shapeItems {
            guard case .integer(let n) = item, n >= 0 else {
                throw fail(.malformed, "expected 'shape' to hold non-negative integers, found \(values["shape"]!.repr)")
            }
            shape.append(n)
        }
        return Header(descr: descr, descrText: descrText, fortranOrder: fortranOrder, shape: shape)
    }

    private static func checkedProduct(_ shape: [Int],
                                       fail: (ModelIOError.Kind, String) -> ModelIOError) throws -> Int {
        var product = 1
        for n in shape {
            let (p, overflow) = product.multipliedReportingOverflow(by: n)
            guard !overflow else { throw fail(.malformed, "shape \(pyTuple(shape)) is too large") }
            product = p
        }
        return product
    }

    /// Reorders Fortran-order elements (first axis fastest) into C order (last axis fastest):
    /// element (i0, ..., i_{n-1}) sits at `i0 + d0 * (i1 + d1 * (...))` in the source.
    private static func fortranToC(_ source: UnsafeRawBufferPointer, shape: [Int], itemSize: Int) -> [UInt8] {
        let rank = shape.count
        var fortranStride = [Int](repeating: 1, count: rank)
        for k in 1..<rank { fortranStride[k] = fortranStride[k - 1] * shape[k - 1] }
        let count = shape.reduce(1, *)
        var out = [UInt8](repeating: 0, count: count * itemSize)
        var index = [Int](repeating: 0, count: rank)
        var sourceElement = 0
        out.withUnsafeMutableBytes { destination in
            for element in 0..<count {
                destination.baseAddress!.advanced(by: element * itemSize)
                    .copyMemory(from: source.baseAddress!.advanced(by: sourceElement * itemSize), byteCount: itemSize)
                // Advance the C-order odometer (last axis fastest), tracking the Fortran offset.
                var axis = rank - 1
                while axis >= 0 {
                    index[axis] += 1
                    sourceElement += fortranStride[axis]
                    if index[axis] < shape[axis] { break }
                    sourceElement -= fortranStride[axis] * shape[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
        return out
    }

    // MARK: Writing

    /// Magic, version, length and header exactly as numpy's `_write_array_header` produces them
    /// for a C-order array; the data that follows starts at a multiple of 64.
    static func header(for array: NumpyArray) -> [UInt8] { header(descr: array.dtype.descr, shape: array.shape) }

    /// The header for an array of `descr` and `shape` (the same length for any shape[0], so a
    /// streaming writer can rewrite it in place: `DataStreamWriter`).
    package static func header(descr: String, shape: [Int]) -> [UInt8] {
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(pyTuple(shape)), }"
        // numpy's GROWTH_AXIS_MAX_DIGITS padding, so appending tools can rewrite shape[0] in place.
        if let first = shape.first {
            dict += String(repeating: " ", count: max(0, 21 - String(first).count))
        }
        let headerLength = dict.utf8.count + 1 // the final "\n"
        // Version 2.0 only when the header outgrows v1.0's 16-bit length (never for real arrays).
        for (version, lengthSize) in [(UInt8(1), 2), (UInt8(2), 4)] {
            // numpy pads a full 64 when already aligned; keep that so the bytes match exactly.
            let padding = 64 - ((8 + lengthSize + headerLength) % 64)
            let total = headerLength + padding
            if lengthSize == 2 && total > 0xFFFF { continue }
            var out = magic + [version, 0]
            for i in 0..<lengthSize { out.append(UInt8(truncatingIfNeeded: total >> (8 * i))) }
            out += Array(dict.utf8)
            out += [UInt8](repeating: 0x20, count: padding)
            out.append(0x0A)
            return out
        }
        preconditionFailure("unreachable: a version 2.0 header always fits")
    }

    // MARK: Helpers

    /// Python's repr of a shape tuple: `()`, `(3,)`, `(40, 30)`.
    static func pyTuple(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    private static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
    }

    /// Keeps error messages to one readable line.
    private static func abbreviated(_ s: String) -> String {
        let line = s.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: "\\n")
        return line.count > 120 ? String(line.prefix(117)) + "..." : line
    }
}

extension NumpyArray {
    /// Reads a `.npy` file.
    public static func read(_ url: URL) throws -> NumpyArray {
        let data = try FileBytes.read(url)
        return try NpyFormat.decode(data, file: url.path)
    }

    /// Writes a `.npy` file (version 1.0, as `numpy.save`), atomically.
    public func write(to url: URL) throws {
        let data = NpyFormat.encode(self)
        try AtomicFile.write(to: url) { temporary in
            try data.write(to: temporary)
        }
    }
}

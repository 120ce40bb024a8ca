import Foundation
import ModelIO

/// A constant tensor of an ONNX graph (an initializer, a `Constant` node or a folded shape
/// computation), held as `Double` so float16/float32/float64 and the integer types convert
/// exactly (int64 beyond 2^53 only in `Slice` ends, which are clamped anyway).
///
/// `Double.nan` stands for the batch size, which is symbolic: `Shape` of an activation gives
/// `[nan, C, H, W]`, and a `Reshape` whose target starts with it keeps the batch axis.
struct ONNXTensor {
    var shape: [Int]
    var values: [Double]
    /// An integer element type (int64 shape arithmetic): `Div` truncates, as ONNX does for integers.
    var integer = false
    var count: Int { values.count }

    init(shape: [Int], values: [Double]) {
        precondition(shape.reduce(1, *) == values.count, "ONNXTensor shape \(shape) does not hold \(values.count) values")
        self.shape = shape; self.values = values
    }

    var floats: [Float] { values.map(Float.init) }

    /// The values as integers (shape tensors, axes); nil when one is not a finite integer.
    var ints: [Int]? {
        var out: [Int] = []
        out.reserveCapacity(values.count)
        for v in values {
            guard v.isFinite, v == v.rounded() else { return nil }
            // INT64_MAX/MIN ("to the end" in Slice) are clamped: no shape comes near 2^62.
            out.append(Int(min(max(v, -4e18), 4e18)))
        }
        return out
    }
}

/// Reads `TensorProto`s: raw little-endian bytes or the typed fields, and external data inside
/// the model's folder only. Every size is checked against the bytes present before anything
/// is allocated.
struct ONNXTensorReader {
    /// The model file (for errors) and its folder (external data must stay inside it).
    let file: String
    let folder: URL

    static let typeNames: [Int32: String] = [1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32",
                                             7: "int64", 8: "string", 9: "bool", 10: "float16", 11: "float64",
                                             12: "uint32", 13: "uint64", 16: "bfloat16"]
    static let elementSizes: [Int32: Int] = [1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2]

    func read(_ t: Onnx_TensorProto, what: String) throws -> ONNXTensor {
        var r = try readValues(t, what: what)
        r.integer = [2, 3, 4, 5, 6, 7, 12, 13].contains(t.dataType)
        return r
    }

    private func readValues(_ t: Onnx_TensorProto, what: String) throws -> ONNXTensor {
        let loc = "\(what) '\(t.name)'"
        var count = 1
        for d in t.dims {
            guard d >= 0, d < Int64(Int32.max) else {
                throw ModelIOError(.malformed, file: file, location: loc, "dimension \(d) in shape \(t.dims) is out of range")
            }
            let (c, overflow) = count.multipliedReportingOverflow(by: Int(d))
            guard !overflow, c <= 1 << 34 else {
                throw ModelIOError(.malformed, file: file, location: loc, "shape \(t.dims) is too large")
            }
            count = c
        }
        let shape = t.dims.map(Int.init)
        guard let size = Self.elementSizes[t.dataType] else {
            throw ModelIOError(.unsupported, file: file, location: loc,
                               "element type \(Self.typeNames[t.dataType] ?? "#\(t.dataType)") is not supported (float16/32/64 and integers are)")
        }
        if t.dataLocation == .external {
            return ONNXTensor(shape: shape, values: try decode(raw: try external(t, loc: loc, bytes: count * size), type: t.dataType, count: count, loc: loc))
        }
        if !t.rawData.isEmpty || count == 0 {
            guard t.rawData.count == count * size else {
                throw ModelIOError(.malformed, file: file, location: loc,
                                   "shape \(shape) of \(Self.typeNames[t.dataType]!) needs \(count * size) bytes, raw_data has \(t.rawData.count)")
            }
            return ONNXTensor(shape: shape, values: try decode(raw: t.rawData, type: t.dataType, count: count, loc: loc))
        }
        // Typed fields: float_data (float32), double_data, int64_data, int32_data (also int8/16,
        // uint8/16, bool and float16/bfloat16 bit patterns), uint64_data (uint32/64).
        let present: Int, values: [Double]
        switch t.dataType {
        case 1: present = t.floatData.count; values = present == count ? t.floatData.map(Double.init) : []
        case 11: present = t.doubleData.count; values = present == count ? t.doubleData : []
        case 7: present = t.int64Data.count; values = present == count ? t.int64Data.map(Double.init) : []
        case 12, 13: present = t.uint64Data.count; values = present == count ? t.uint64Data.map(Double.init) : []
        case 10: present = t.int32Data.count; values = present == count ? t.int32Data.map { Double(Float(Float16(bitPattern: UInt16(truncatingIfNeeded: $0)))) } : []
        case 16: present = t.int32Data.count; values = present == count ? t.int32Data.map { Double(Float(bitPattern: UInt32(UInt16(truncatingIfNeeded: $0)) << 16)) } : []
        default: present = t.int32Data.count; values = present == count ? t.int32Data.map(Double.init) : []
        }
        guard present == count else {
            throw ModelIOError(.malformed, file: file, location: loc, "shape \(shape) needs \(count) values, the tensor holds \(present)")
        }
        return ONNXTensor(shape: shape, values: values)
    }

    private func decode(raw: Data, type: Int32, count: Int, loc: String) throws -> [Double] {
        var out = [Double](repeating: 0, count: count)
        raw.withUnsafeBytes { (p: UnsafeRawBufferPointer) in
            func le<T: FixedWidthInteger>(_ i: Int, _: T.Type) -> T { T(littleEndian: p.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) }
            for i in 0..<count {
                switch type {
                case 1: out[i] = Double(Float(bitPattern: le(i, UInt32.self)))
                case 11: out[i] = Double(bitPattern: le(i, UInt64.self))
                case 10: out[i] = Double(Float(Float16(bitPattern: le(i, UInt16.self))))
                case 16: out[i] = Double(Float(bitPattern: UInt32(le(i, UInt16.self)) << 16))
                case 7: out[i] = Double(le(i, Int64.self))
                case 13: out[i] = Double(le(i, UInt64.self))
                case 6: out[i] = Double(le(i, Int32.self))
                case 12: out[i] = Double(le(i, UInt32.self))
                case 5: out[i] = Double(le(i, Int16.self))
                case 4: out[i] = Double(le(i, UInt16.self))
                case 3: out[i] = Double(le(i, Int8.self))
                default: out[i] = Double(le(i, UInt8.self))
                }
            }
        }
        return out
    }

    /// The bytes of an external tensor: `location` must be a relative path that stays inside the
    /// model's folder (no `..`, not absolute, no symlink leading out).
    private func external(_ t: Onnx_TensorProto, loc: String, bytes: Int) throws -> Data {
        var fields: [String: String] = [:]
        for e in t.externalData { fields[e.key] = e.value }
        guard let location = fields["location"], !location.isEmpty else {
            throw ModelIOError(.malformed, file: file, location: loc, "external data without a 'location'")
        }
        let parts = location.split(separator: "/", omittingEmptySubsequences: false)
        guard !location.hasPrefix("/"), !location.contains("\\"), !parts.contains(".."), !parts.contains("") else {
            throw ModelIOError(.unsupported, file: file, location: loc,
                               "external data '\(location)' is outside the model's folder; only relative paths inside it are read")
        }
        let base = folder.resolvingSymlinksInPath().standardizedFileURL
        let target = base.appendingPathComponent(location).resolvingSymlinksInPath().standardizedFileURL
        guard target.path.hasPrefix(base.path.hasSuffix("/") ? base.path : base.path + "/") else {
            throw ModelIOError(.unsupported, file: file, location: loc,
                               "external data '\(location)' leads outside the model's folder (a symbolic link); only files inside it are read")
        }
        guard let offset = Int(fields["offset"] ?? "0"), offset >= 0, let length = Int(fields["length"] ?? "\(bytes)"), length == bytes else {
            throw ModelIOError(.malformed, file: file, location: loc,
                               "external data offset '\(fields["offset"] ?? "0")' or length '\(fields["length"] ?? "")' is invalid (the shape needs \(bytes) bytes)")
        }
        guard let h = try? FileHandle(forReadingFrom: target) else {
            throw ModelIOError(.notFound, file: file, location: loc, "external data file '\(location)' cannot be opened")
        }
        defer { try? h.close() }
        let size = (try? h.seekToEnd()).map(Int.init) ?? 0
        guard offset <= size, bytes <= size - offset else {
            throw ModelIOError(.malformed, file: file, location: loc,
                               "external data '\(location)' has \(size) bytes; \(bytes) are needed at offset \(offset)")
        }
        try h.seek(toOffset: UInt64(offset))
        let data = try h.read(upToCount: bytes) ?? Data()
        guard data.count == bytes else {
            throw ModelIOError(.io, file: file, location: loc, "external data '\(location)': read \(data.count) of \(bytes) bytes")
        }
        return data
    }
}

import CHDF5
import Foundation

/// The element type of an HDF5 dataset or attribute, named as numpy names it.
///
/// `float16` is IEEE half precision (h5py's numpy float16); `bfloat16` is what Keras 3 writes
/// for bfloat16 variables (an `H5T_OPAQUE` of size 2 plus a `dtype="bfloat16"` attribute),
/// or a custom HDF5 float with an 8-bit exponent and 7-bit mantissa; `bool` is h5py's enum
/// `{FALSE = 0, TRUE = 1}` over int8. Anything else readable but not numeric or string is
/// `.unsupported` with HDF5's description.
public enum HDF5DType: Hashable, Sendable, CustomStringConvertible {
    case float16, bfloat16, float32, float64
    case int8, int16, int32, int64
    case uint8, uint16, uint32, uint64
    case bool
    case string
    case unsupported(String)

    public var description: String {
        switch self {
        case .float16: "float16"
        case .bfloat16: "bfloat16"
        case .float32: "float32"
        case .float64: "float64"
        case .int8: "int8"
        case .int16: "int16"
        case .int32: "int32"
        case .int64: "int64"
        case .uint8: "uint8"
        case .uint16: "uint16"
        case .uint32: "uint32"
        case .uint64: "uint64"
        case .bool: "bool"
        case .string: "string"
        case .unsupported(let what): what
        }
    }

    /// Whether values of this type are floating point.
    public var isFloatingPoint: Bool {
        switch self {
        case .float16, .bfloat16, .float32, .float64: true
        default: false
        }
    }

    /// Whether values of this type are integers (bool counts: it is stored as int8).
    public var isInteger: Bool {
        switch self {
        case .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .bool: true
        default: false
        }
    }

    /// The dtype of the HDF5 datatype `type`. `bfloat16Marked` says the object carries Keras's
    /// `dtype="bfloat16"` attribute, which is the only thing naming an opaque bfloat16.
    static func of(_ type: hid_t, bfloat16Marked: Bool = false) -> HDF5DType {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_FLOAT:
            var spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0
            _ = H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize)
            switch (size, esize, msize) {
            case (2, 5, 10): return .float16
            case (2, 8, 7): return .bfloat16
            case (4, 8, 23): return .float32
            case (8, 11, 52): return .float64
            default: return .unsupported("float\(size * 8) (exponent \(esize) bits, mantissa \(msize) bits)")
            }
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) != H5T_SGN_NONE
            switch (size, signed) {
            case (1, true): return .int8
            case (2, true): return .int16
            case (4, true): return .int32
            case (8, true): return .int64
            case (1, false): return .uint8
            case (2, false): return .uint16
            case (4, false): return .uint32
            case (8, false): return .uint64
            default: return .unsupported("\(signed ? "int" : "uint")\(size * 8)")
            }
        case H5T_ENUM:
            return isBoolEnum(type) ? .bool : .unsupported("enum")
        case H5T_OPAQUE:
            let tag = opaqueTag(type)
            if size == 2 && (bfloat16Marked || tag.contains("bfloat16")) { return .bfloat16 }
            // HDF5CleanCopy's stand-in for a dataset it could not copy: its type as found.
            if tag.hasPrefix(HDF5CleanCopy.unreadableTag) { return .unsupported(String(tag.dropFirst(HDF5CleanCopy.unreadableTag.count))) }
            return .unsupported("opaque\(size * 8)")
        case H5T_STRING:
            return .string
        case H5T_COMPOUND: return .unsupported("compound")
        case H5T_ARRAY: return .unsupported("array")
        case H5T_VLEN: return .unsupported("variable-length sequence")
        case H5T_REFERENCE: return .unsupported("reference")
        case H5T_BITFIELD: return .unsupported("bitfield")
        case H5T_TIME: return .unsupported("time")
        default: return .unsupported("unknown HDF5 type class")
        }
    }

    /// h5py's bool: an enum of two members named FALSE and TRUE over a 1-byte integer.
    private static func isBoolEnum(_ type: hid_t) -> Bool {
        guard H5Tget_nmembers(type) == 2, H5Tget_size(type) == 1 else { return false }
        var names: [String] = []
        for i in 0..<2 {
            guard let cName = H5Tget_member_name(type, UInt32(i)) else { return false }
            names.append(String(cString: cName))
            H5free_memory(cName)
        }
        return Set(names.map { $0.uppercased() }) == ["FALSE", "TRUE"]
    }

    private static func opaqueTag(_ type: hid_t) -> String {
        guard let tag = H5Tget_tag(type) else { return "" }
        defer { H5free_memory(tag) }
        return String(cString: tag).lowercased()
    }
}

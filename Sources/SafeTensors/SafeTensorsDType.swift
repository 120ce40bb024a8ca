import Foundation
import ModelCore

/// The element types the safetensors format defines, spelled as in a header's `dtype` field.
///
/// Declared in the format's own order: the reference writer lays tensors out by this order,
/// largest first (`rank`), so that every tensor starts at an offset aligned to its item size.
/// `bits` is the storage width per element; the byte length of a tensor is
/// `product(shape) * bits / 8`, which must be whole (only the packed sub-byte types can fail that).
///
/// How each converts (see docs/safetensors.md): the types `.npz` also holds map one to one onto
/// a `NumpyArray.DType`; bfloat16 and the five 8-bit float types are widened to float32, which
/// represents every one of their values exactly; the packed 4/6-bit floats and complex64 are
/// refused with a reason.
enum SafeTensorsDType: String, CaseIterable {
    case bool = "BOOL"
    case f4 = "F4"
    case f6e2m3 = "F6_E2M3"
    case f6e3m2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8e5m2 = "F8_E5M2"
    case f8e4m3 = "F8_E4M3"
    case f8e8m0 = "F8_E8M0"
    case f8e4m3fnuz = "F8_E4M3FNUZ"
    case f8e5m2fnuz = "F8_E5M2FNUZ"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Position in the format's declaration order (the reference writer sorts by it, descending).
    var rank: Int { Self.allCases.firstIndex(of: self)! }

    /// Storage bits per element.
    var bits: Int {
        switch self {
        case .f4: return 4
        case .f6e2m3, .f6e3m2: return 6
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32: return 32
        case .c64, .f64, .i64, .u64: return 64
        }
    }

    /// How the stored elements become a `NumpyArray`.
    enum Conversion {
        /// The bytes are already that numpy type (little-endian, C order): used as they are.
        case same(NumpyArray.DType)
        /// Widened element by element to float32 (exact for every value of the type).
        case widenToFloat32
        /// Not convertible; the reason, for the error message.
        case refused(String)
    }

    var conversion: Conversion {
        switch self {
        case .bool: return .same(.bool)
        case .u8: return .same(.uint8)
        case .i8: return .same(.int8)
        case .i16: return .same(.int16)
        case .u16: return .same(.uint16)
        case .f16: return .same(.float16)
        case .i32: return .same(.int32)
        case .u32: return .same(.uint32)
        case .f32: return .same(.float32)
        case .f64: return .same(.float64)
        case .i64: return .same(.int64)
        case .u64: return .same(.uint64)
        case .bf16, .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz: return .widenToFloat32
        case .f4, .f6e2m3, .f6e3m2:
            return .refused("dtype \(rawValue) is a packed \(bits)-bit float (a quantised checkpoint) and is not supported; dequantise to F32, F16 or BF16 before saving")
        case .c64:
            return .refused("dtype C64 (complex64) is not supported: classifier weights are real")
        }
    }

    /// The safetensors type of a numpy type, or nil for strings (which the format cannot hold).
    init?(_ dtype: NumpyArray.DType) {
        switch dtype {
        case .bool: self = .bool
        case .uint8: self = .u8
        case .int8: self = .i8
        case .int16: self = .i16
        case .uint16: self = .u16
        case .float16: self = .f16
        case .int32: self = .i32
        case .uint32: self = .u32
        case .float32: self = .f32
        case .float64: self = .f64
        case .int64: self = .i64
        case .uint64: self = .u64
        case .unicode: return nil
        }
    }
}

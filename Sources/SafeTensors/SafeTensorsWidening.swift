import Foundation

/// Widening of the safetensors float types that numpy lacks (bfloat16, the 8-bit floats) to
/// float32, exactly.
///
/// - `BF16` is the upper half of a float32: `bits << 16`.
/// - `F8_E5M2` is the upper byte of a float16 (1 sign, 5 exponent, 2 mantissa bits, bias 15,
///   with infinities and NaNs).
/// - `F8_E4M3` ("e4m3fn"): bias 7, no infinities, only `S.1111.111` is NaN.
/// - `F8_E4M3FNUZ` / `F8_E5M2FNUZ`: bias 8 / 16, no infinities, no negative zero; `0x80` is the
///   one NaN.
/// - `F8_E8M0` ("e8m0fnu"): an unsigned power of two `2^(e - 127)`, `0xFF` is NaN.
///
/// Each 8-bit type has only 256 values, so each gets a table computed once from these rules.
enum SafeTensorsWidening {
    /// The elements of `bytes` (little-endian, C order, of `dtype`) as float32.
    static func float32s(_ bytes: UnsafeRawBufferPointer, dtype: SafeTensorsDType) -> [Float] {
        switch dtype {
        case .bf16:
            let n = bytes.count / 2
            return (0..<n).map { i in
                Float(bitPattern: UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
            }
        case .f8e5m2: return bytes.map { e5m2[Int($0)] }
        case .f8e4m3: return bytes.map { e4m3fn[Int($0)] }
        case .f8e4m3fnuz: return bytes.map { e4m3fnuz[Int($0)] }
        case .f8e5m2fnuz: return bytes.map { e5m2fnuz[Int($0)] }
        case .f8e8m0: return bytes.map { e8m0[Int($0)] }
        default:
            preconditionFailure("\(dtype.rawValue) is not widened to float32")
        }
    }

    static let e5m2: [Float] = (0..<256).map { Float(Float16(bitPattern: UInt16($0) << 8)) }

    static let e4m3fn: [Float] = (0..<256).map { code in
        code & 0x7F == 0x7F ? .nan : minifloat(code, exponentBits: 4, mantissaBits: 3, bias: 7)
    }

    static let e4m3fnuz: [Float] = (0..<256).map { code in
        code == 0x80 ? .nan : minifloat(code, exponentBits: 4, mantissaBits: 3, bias: 8)
    }

    static let e5m2fnuz: [Float] = (0..<256).map { code in
        code == 0x80 ? .nan : minifloat(code, exponentBits: 5, mantissaBits: 2, bias: 16)
    }

    static let e8m0: [Float] = (0..<256).map { code in
        code == 0xFF ? .nan : Float(sign: .plus, exponent: code - 127, significand: 1)
    }

    /// A sign/exponent/mantissa byte with no infinities: subnormal when the exponent field is 0.
    /// `significand · 2^exponent` with a small integer significand is exact in float32.
    private static func minifloat(_ code: Int, exponentBits: Int, mantissaBits: Int, bias: Int) -> Float {
        let sign: FloatingPointSign = code & 0x80 != 0 ? .minus : .plus
        let e = (code >> mantissaBits) & ((1 << exponentBits) - 1)
        let m = code & ((1 << mantissaBits) - 1)
        let significand = e == 0 ? m : (1 << mantissaBits) + m
        let exponent = (e == 0 ? 1 : e) - bias - mantissaBits
        return Float(sign: sign, exponent: exponent, significand: Float(significand))
    }
}

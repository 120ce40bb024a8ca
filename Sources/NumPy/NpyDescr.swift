import ModelCore

/// Parsing of a `.npy` header's `descr` string (`'<f4'`, `'>i8'`, `'|u1'`, `'<U5'`, ...).
///
/// The form is `[<>|=]? kind size` (numpy `dtype.str`). `|` ("not applicable") and `=` or no
/// prefix mean the host's order; numpy itself accepts `'|f4'` and `'f4'` as native. Kinds we do
/// not convert (objects, complex, void, byte strings, datetimes) get a reason in the error, so a
/// user learns *why* an array was refused, e.g. that `<V2` is what bfloat16 becomes.
struct NpyDescr {
    var dtype: NumpyArray.DType
    /// Whether the file's bytes are big-endian and must be swapped to our little-endian layout.
    var needsSwap: Bool

    enum Failure: Error {
        case unsupported(String)
    }

    /// numpy type names that `np.dtype(...)` also accepts in a header (other writers use them).
    private static let names: [String: NumpyArray.DType] = [
        "float16": .float16, "float32": .float32, "float64": .float64,
        "int8": .int8, "int16": .int16, "int32": .int32, "int64": .int64,
        "uint8": .uint8, "uint16": .uint16, "uint32": .uint32, "uint64": .uint64, "bool": .bool,
    ]

    init(_ descr: String) throws {
        if let named = Self.names[descr] {
            self.init(dtype: named, needsSwap: !ByteOrder.hostIsLittleEndian && named.swapUnit > 1)
            return
        }
        var rest = Substring(descr)
        var order: Character = "="
        if let first = rest.first, "<>|=".contains(first) {
            order = first
            rest = rest.dropFirst()
        }
        guard let kind = rest.first else { throw Failure.unsupported("unknown dtype '\(descr)'") }
        // Kinds we refuse get their reason whatever their size (numpy writes '|O' with none).
        switch kind {
        case "O": throw Failure.unsupported("dtype '\(descr)' holds pickled Python objects, which are not supported (save a numeric array instead)")
        case "c": throw Failure.unsupported("complex dtype '\(descr)' is not supported")
        case "V": throw Failure.unsupported("raw void dtype '\(descr)' is not supported (bfloat16 arrays saved by ml_dtypes lose their type this way: convert to float32 before saving)")
        case "S", "a": throw Failure.unsupported("byte-string dtype '\(descr)' is not supported (save strings as unicode '<U')")
        case "M", "m": throw Failure.unsupported("datetime dtype '\(descr)' is not supported")
        default: break
        }
        let digits = rest.dropFirst()
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let size = Int(digits) else {
            throw Failure.unsupported("unknown dtype '\(descr)'")
        }
        let dtype: NumpyArray.DType?
        switch kind {
        case "f": dtype = [2: .float16, 4: .float32, 8: .float64][size]
        case "i": dtype = [1: .int8, 2: .int16, 4: .int32, 8: .int64][size]
        case "u": dtype = [1: .uint8, 2: .uint16, 4: .uint32, 8: .uint64][size]
        case "b": dtype = size == 1 ? .bool : nil
        case "U": dtype = .unicode(length: size)
        default: throw Failure.unsupported("unknown dtype '\(descr)'")
        }
        guard let dtype else {
            throw Failure.unsupported("dtype '\(descr)' is not supported (expected float16/32/64, int8-64, uint8-64, bool or unicode)")
        }
        let fileIsLittle: Bool
        switch order {
        case "<": fileIsLittle = true
        case ">": fileIsLittle = false
        default: fileIsLittle = ByteOrder.hostIsLittleEndian
        }
        self.init(dtype: dtype, needsSwap: !fileIsLittle && dtype.swapUnit > 1)
    }

    private init(dtype: NumpyArray.DType, needsSwap: Bool) {
        self.dtype = dtype
        self.needsSwap = needsSwap
    }
}

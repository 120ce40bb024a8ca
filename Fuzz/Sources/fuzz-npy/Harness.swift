import FuzzSupport
import NumPy

/// The `.npy` reader: magic, version, header dict (Python literal), dtype, shape, data.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.run { _ = try NpyFormat.decode(Fuzz.data(bytes, size), file: "fuzz.npy") }
    return 0
}

import FuzzSupport
@testable import SafeTensors

/// `.safetensors`: the 8-byte header length, the JSON header (strict reader), dtypes, shapes
/// and offsets tiling the data.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Fuzz.run { _ = try SafeTensors.decode(UnsafeRawBufferPointer(start: bytes, count: size), file: "fuzz.safetensors") }
    return 0
}

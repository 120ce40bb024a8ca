import FuzzSupport
import NumPy

/// `.npz` archives: the zip reader (end record, zip64, central directory, local headers,
/// stored and deflated members, CRCs) and the `.npy` members, as `--data x.npz` reads them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let url = Fuzz.file(UnsafeRawBufferPointer(start: bytes, count: size), name: "f.npz")
    Fuzz.run { _ = try Npz.read(url) }
    return 0
}

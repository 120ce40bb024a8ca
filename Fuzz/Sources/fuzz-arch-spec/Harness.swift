import FuzzSupport
import ModelCore

/// A JSON architecture spec (`--arch spec.json`): the strict JSON check, the decoder and the
/// graph builder.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let url = Fuzz.file(UnsafeRawBufferPointer(start: bytes, count: size), name: "spec.json")
    Fuzz.run {
        let spec = try ArchitectureSpec.load(url)
        _ = try GraphBuilder.build(spec, origin: url.path)
    }
    return 0
}

import Distill
import FuzzSupport

/// A run config file (`bss distill --config`): YAML (aliases, depth and duplicate keys checked
/// before Yams parses it) or JSON when the input starts with `{`, then key and value checks.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let json = size > 0 && bytes[0] == UInt8(ascii: "{")
    let url = Fuzz.file(UnsafeRawBufferPointer(start: bytes, count: size), name: json ? "run.json" : "run.yaml")
    Fuzz.run { _ = try RunConfig.resolve(file: url.path, overrides: []) }
    return 0
}

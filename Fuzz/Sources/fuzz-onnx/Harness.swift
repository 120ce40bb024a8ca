import FuzzSupport
import ONNX

/// `.onnx` models: the protobuf decoding (depth-limited), opset checks, initializer sizes
/// against the memory budget, shape folding and the node-by-node conversion to a spec and a
/// state dict, as `--model x.onnx` reads them. External-data initializers resolve against
/// the scratch folder, which holds only the model itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let url = Fuzz.file(UnsafeRawBufferPointer(start: bytes, count: size), name: "f.onnx")
    Fuzz.run { _ = try ONNXImport.load(url.path) }
    return 0
}

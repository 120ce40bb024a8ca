import FuzzSupport
@testable import Keras
@testable import ModelCore

/// A Keras `model_config` JSON (as in `.h5` attributes and `.keras` archives): the JSON
/// reader, the config parser and the graph builder (layer translation, shapes, weights).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: bytes, count: size), as: UTF8.self)
    Fuzz.run {
        let json = try KerasJSON.parse(text, file: "fuzz.h5", what: "model_config")
        let config = try KerasModelConfig.parse(json, file: "fuzz.h5")
        _ = try KerasGraphBuilder.build(config, file: "fuzz.h5")
    }
    return 0
}

import Foundation
import ModelIO

/// Add/Sub/Mul/Div of two activations that the plain layers do not cover: Div of any shapes,
/// and broadcasting (`[C, H, W]` with a per-channel `[C, 1, 1]`, a per-position `[1, H, W]`, …)
/// → the engine's `Elementwise` layer, which broadcasts as ONNX does.
///
/// ONNX aligns trailing axes of the full tensors; both operands are activations with the batch
/// axis first, so only per-sample shapes of equal rank are modelled (a lower-rank operand would
/// be aligned against the batch axis, which is never broadcast here).
extension ONNXConverter {
    func broadcastBinary(_ n: Onnx_NodeProto, loc: String, a: (String, [Int]), b: (String, [Int])) throws {
        let op = n.opType
        guard a.1.count == b.1.count, zip(a.1, b.1).allSatisfy({ $0 == $1 || $0 == 1 || $1 == 1 }) else {
            throw ModelIOError(.unsupported, file: file, location: loc,
                               "\(op) of activations of shapes \(a.1) and \(b.1) (per sample); equal shapes and broadcasting between shapes of equal rank (each axis equal or 1) are modelled")
        }
        let type = ["Add": "elementwise_add", "Sub": "elementwise_sub", "Mul": "elementwise_mul", "Div": "elementwise_div"][op]!
        note("broadcast-\(op)", "\(op) of two activations of different (broadcast) shapes or a Div of activations → Elementwise \(type.dropFirst("elementwise_".count)) (exact)")
        try addLayer(LayerSpec(name: layerName(n), type: type), node: n, inputs: [a.0, b.0], output: n.output[0])
    }
}

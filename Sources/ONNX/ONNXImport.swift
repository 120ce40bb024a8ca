import Foundation
import ModelIO
import NN
import SwiftProtobuf
import Tensor

/// Reads ONNX models (`.onnx`, opsets 13–21 of the default domain) into the engine.
///
/// The graph is mapped node by node onto engine layers (`ONNXConverter`; the operator table is
/// in ONNXConverter+Ops.swift and the README, "ONNX") and recorded as an `ArchitectureSpec` plus a state dict, so
/// an imported model converts to every format a spec model does. Shape computations
/// (`Shape → Gather → Unsqueeze → Concat → Reshape`, the pads of `F.pad`) are folded to
/// constants at import. A final `Softmax` is split off (`Model.softmaxSplitOff`).
public enum ONNXImport {
    /// The opsets of the default domain whose operators are mapped.
    public static let opsets = 13...21

    /// Makes `ModelLoader.load` read `.onnx` files (called once at start-up by the CLI).
    public static func register() {
        ModelFormatRegistry.register(extension: "onnx") { path, arch, inputShape in
            if let arch {
                throw ModelIOError(.unsupported, file: path,
                                   "an ONNX model carries its own architecture; --arch \(arch) does not apply")
            }
            return try load(path, inputShape: inputShape)
        }
    }

    /// Reads the model at `path`. `inputShape` (`--input-shape C,H,W`) gives the per-sample
    /// input shape where the file's is symbolic; where the file's is fixed, it must agree.
    public static func load(_ path: String, inputShape: [Int]? = nil) throws -> Model {
        let url = URL(fileURLWithPath: path)
        let data = try InputFile.read(url, path: path)
        let proto: Onnx_ModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64
            proto = try Onnx_ModelProto(serializedBytes: data, options: options)
        } catch {
            throw ModelIOError(.malformed, file: path,
                               "not a readable ONNX model (truncated or corrupt protobuf: \(error))")
        }
        guard proto.hasGraph, !proto.graph.node.isEmpty else {
            throw ModelIOError(.malformed, file: path, "not an ONNX model: no graph (or a graph without nodes)")
        }
        var opset: Int?
        for o in proto.opsetImport where o.domain == "" || o.domain == "ai.onnx" { opset = Int(o.version) }
        guard let opset else {
            throw ModelIOError(.malformed, file: path, location: "opset_import", "no opset for the default ONNX domain")
        }
        guard opsets.contains(opset) else {
            throw ModelIOError(.unsupported, file: path, location: "opset_import",
                               "opset \(opset) is not supported; opsets \(opsets.lowerBound)–\(opsets.upperBound) are (re-export with opset_version in that range)")
        }
        let converter = ONNXConverter(file: path, folder: url.deletingLastPathComponent(), opset: opset)
        let converted = try converter.convert(proto.graph, inputShape: inputShape)

        let name = proto.graph.name.isEmpty ? url.deletingPathExtension().lastPathComponent : proto.graph.name
        var spec = ArchitectureSpec(name: name, inputShape: converted.inputShape, classes: converted.classes,
                                    layers: converter.layers, output: converted.output)
        if converted.channelsLast { spec.inputLayout = DataLayout.nhwc.rawValue }
        let graph = try GraphBuilder.build(spec, origin: path)
        let model = Model(graph: graph, format: .onnx, architectureName: name, inputLayout: converted.channelsLast ? .nhwc : .nchw,
                          spec: spec, file: path)
        try StateDict(entries: converter.weights).load(into: model, file: path)
        model.softmaxSplitOff = converted.softmaxSplitOff
        let producer = [proto.producerName, proto.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        model.formatPayload["onnx.opset"] = "\(opset)"
        model.formatPayload["onnx.producer"] = producer
        model.formatPayload["onnx.ir_version"] = "\(proto.irVersion)"
        model.conversions = ["ONNX opset \(opset), IR version \(proto.irVersion), producer \(producer.isEmpty ? "unknown" : producer)"]
            + converter.conversions
        return model
    }
}

extension InputFile {
    /// The whole file, with the CLI's one-line errors for missing or unreadable files.
    static func read(_ url: URL, path: String) throws -> Data {
        do { return try readAll(url, name: path) } catch let e as ModelIOError { throw e } catch {
            throw ModelIOError(.io, file: path, "cannot read the file: \(error.localizedDescription)")
        }
    }
}

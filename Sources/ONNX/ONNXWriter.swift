import Foundation
import ModelIO
import NN
import SwiftProtobuf
import Tensor

/// Writes any model the engine holds as an ONNX model (opset 17, IR version 8).
///
/// - Graph: one input `input` `[N, C, H, W]` (or `[N, features]`) with a symbolic batch `N`,
///   one output `logits` `[N, classes]`; each engine node becomes the standard ONNX nodes that
///   compute it (ONNXWriter+Layers.swift has the table; docs/formats.md, "ONNX"). BatchNorm stays a
///   `BatchNormalization` node (not folded into the convolution), so the file can be trained again.
/// - Weights: float32 initializers in `raw_data` (little-endian), named by their state-dict key
///   (`layer1.0.conv1.weight`), so a re-import gives the same layer names.
/// - `producer_name` "bss", `producer_version` the tool's version; `metadata_props` keep the
///   provenance bss records elsewhere: the source file, its SHA-256, its format, the conversions
///   applied on import, and what a distillation run adds (`provenance.*` format payload keys).
/// - A layer with no ONNX form is refused with one error naming it, before anything is written;
///   the file is written to a temporary file and renamed into place (`AtomicFile`).
///
/// The model's input is always channels-first (the engine's layout), also for models imported
/// from Keras; a softmax split off on import is not written back (the file outputs logits).
public enum ONNXWriter {
    /// The opset written.
    public static let opset: Int64 = 17
    /// IR version 8 is the one that goes with opset 17.
    public static let irVersion: Int64 = 8
    /// The version written as `producer_version` (set by `register`).
    nonisolated(unsafe) public static var producerVersion = ""

    /// Makes `ModelWriter.write` (and so `bss convert`, `bss distill --out`) write `.onnx` files.
    public static func register(producerVersion version: String) {
        producerVersion = version
        ModelWriterRegistry.register(extension: "onnx", .init(
            check: { model, path in _ = try ONNXGraphWriter(model: model, file: path).build() },
            write: { model, url in try write(model, to: url) }))
    }

    /// The ONNX model of `model`, serialised.
    public static func serialize(_ model: Model, file: String = "model.onnx") throws -> Data {
        let proto = try modelProto(model, file: file)
        do { return try proto.serializedData() } catch {
            throw ModelIOError(.io, file: file, "cannot encode the ONNX model: \(error)")
        }
    }

    /// Writes `model` to `url` atomically; returns what was written.
    @discardableResult
    public static func write(_ model: Model, to url: URL) throws -> ModelWriter.Report {
        let data = try serialize(model, file: url.relativePath)
        try AtomicFile.write(to: url) { temporary in
            do { try data.write(to: temporary) } catch {
                throw ModelIOError(.io, file: url.relativePath, "cannot write: \(error.localizedDescription)")
            }
        }
        var report = ModelWriter.Report()
        report.files.append((url.relativePath, "ONNX model (opset \(opset)), input 'input' [N, \(model.graph.inputShape.map(String.init).joined(separator: ", "))], output 'logits' [N, \(model.classes)]"))
        report.conversions.append("engine graph → standard ONNX nodes (BatchNormalization kept, Linear → Gemm transB=1, weights float32 raw_data under their state-dict keys)")
        if model.inputLayout == .nhwc {
            report.conversions.append("the ONNX model takes channels-first input [N, C, H, W] (the engine's layout), not the Keras model's NHWC")
        }
        if model.softmaxSplitOff {
            report.conversions.append("the source model's final softmax is not written: the ONNX model outputs logits")
        }
        return report
    }

    static func modelProto(_ model: Model, file: String) throws -> Onnx_ModelProto {
        let graph = try ONNXGraphWriter(model: model, file: file).build()
        var proto = Onnx_ModelProto()
        proto.irVersion = irVersion
        var op = Onnx_OperatorSetIdProto()
        op.domain = ""
        op.version = opset
        proto.opsetImport = [op]
        proto.producerName = "bss"
        proto.producerVersion = producerVersion
        proto.graph = graph
        proto.docString = "Exported by bss from \(model.architectureName) (\(model.format.rawValue))"
        proto.metadataProps = provenance(model).map { k, v in
            var e = Onnx_StringStringEntryProto()
            e.key = k; e.value = v
            return e
        }
        return proto
    }

    /// The `metadata_props` entries, sorted by key.
    static func provenance(_ model: Model) -> [(String, String)] {
        var m: [String: String] = [
            "bss.architecture": model.architectureName,
            "bss.source_format": model.format.rawValue,
            "bss.output": model.softmaxSplitOff ? "logits (the source model's final softmax was split off)" : "logits",
        ]
        if let f = model.file {
            m["bss.source_file"] = f
            if let h = try? SHA256.path(f) { m["bss.source_sha256"] = h }
        }
        if !model.conversions.isEmpty { m["bss.conversions"] = model.conversions.joined(separator: "\n") }
        if model.inputLayout != .nchw { m["bss.source_input_layout"] = model.inputLayout.rawValue }
        for (k, v) in model.formatPayload where k.hasPrefix("provenance.") {
            m["bss." + k.dropFirst("provenance.".count)] = v
        }
        return m.sorted { $0.key < $1.key }
    }
}

/// Builds the `GraphProto` of one model (ONNXWriter+Layers.swift emits each layer).
final class ONNXGraphWriter {
    let model: Model
    let file: String
    var nodes: [Onnx_NodeProto] = []
    var initializers: [Onnx_TensorProto] = []
    private var used: Set<String> = ["input", "logits"]

    init(model: Model, file: String) {
        self.model = model
        self.file = file
    }

    func build() throws -> Onnx_GraphProto {
        let g = model.graph
        // Only the nodes the output depends on (a graph may keep layers after its output).
        var needed = Set<Int>([g.output]), stack = [g.output]
        while let i = stack.popLast() {
            for case let .node(j) in g.nodes[i].inputs where needed.insert(j).inserted { stack.append(j) }
        }
        var names: [Int: String] = [:]
        for (i, node) in g.nodes.enumerated() where needed.contains(i) {
            let ins = node.inputs.map { s -> String in if case let .node(j) = s { return names[j]! } else { return "input" } }
            let inShapes = node.inputs.map { s -> [Int] in if case let .node(j) = s { return g.nodes[j].outputShape } else { return g.inputShape } }
            let out = i == g.output ? "logits" : unique(node.name.isEmpty ? "node\(i)" : node.name)
            try emit(node, index: i, inputs: ins, shapes: inShapes, output: out)
            names[i] = out
        }
        var graph = Onnx_GraphProto()
        graph.name = model.architectureName
        graph.node = nodes
        graph.initializer = initializers
        graph.input = [valueInfo("input", g.inputShape)]
        graph.output = [valueInfo("logits", g.outputShape)]
        return graph
    }

    /// A float tensor `[N] + shape` with the batch dimension symbolic (`N`).
    private func valueInfo(_ name: String, _ shape: [Int]) -> Onnx_ValueInfoProto {
        var t = Onnx_TypeProto.Tensor()
        t.elemType = 1
        var s = Onnx_TensorShapeProto()
        var batch = Onnx_TensorShapeProto.Dimension()
        batch.dimParam = "N"
        s.dim = [batch] + shape.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            dim.dimValue = Int64(d)
            return dim
        }
        t.shape = s
        var v = Onnx_ValueInfoProto()
        v.name = name
        v.type.tensorType = t
        return v
    }

    /// A fresh tensor name based on `base`.
    func unique(_ base: String) -> String {
        var name = base, k = 1
        while used.contains(name) { k += 1; name = "\(base)_\(k)" }
        used.insert(name)
        return name
    }

    // MARK: - building blocks

    /// Appends a node; returns its (first) output name.
    @discardableResult
    func add(_ op: String, _ inputs: [String], _ output: String, name: String? = nil, _ attrs: [Onnx_AttributeProto] = []) -> String {
        var n = Onnx_NodeProto()
        n.opType = op
        n.input = inputs
        n.output = [output]
        n.name = name ?? output
        n.attribute = attrs
        nodes.append(n)
        return output
    }

    /// A float32 initializer (raw_data, little-endian) named `name` (made unique).
    func floats(_ name: String, _ values: [Float], shape: [Int]) -> String {
        var t = Onnx_TensorProto()
        t.name = unique(name)
        t.dataType = 1
        t.dims = shape.map(Int64.init)
        var data = Data(capacity: values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        t.rawData = data
        initializers.append(t)
        return t.name
    }

    /// An int64 vector initializer (raw_data).
    func int64s(_ name: String, _ values: [Int]) -> String {
        var t = Onnx_TensorProto()
        t.name = unique(name)
        t.dataType = 7
        t.dims = [Int64(values.count)]
        var data = Data(capacity: values.count * 8)
        for v in values { withUnsafeBytes(of: Int64(v).littleEndian) { data.append(contentsOf: $0) } }
        t.rawData = data
        initializers.append(t)
        return t.name
    }

    /// The parameter `param` of `node` as an initializer under its state-dict key.
    /// `shape` reshapes it where ONNX broadcasting needs another one (`[C, 1, 1]`).
    func parameter(_ node: Graph.Node, _ p: Parameter, shape: [Int]? = nil) -> String {
        let graphKey = node.name.isEmpty ? p.name : node.name + "." + p.name
        return floats(model.keyOverrides[graphKey] ?? graphKey, p.value.data, shape: shape ?? p.value.shape)
    }

    func attr(_ name: String, int v: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .int; a.i = Int64(v); return a
    }

    func attr(_ name: String, ints v: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .ints; a.ints = v.map(Int64.init); return a
    }

    func attr(_ name: String, float v: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .float; a.f = v; return a
    }

    func attr(_ name: String, string v: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .string; a.s = Data(v.utf8); return a
    }

    /// The one-line refusal for a layer with no ONNX form.
    func refuse(_ node: Graph.Node, _ why: String) -> ModelIOError {
        ModelIOError(.unsupported, file: file, location: "layer '\(node.name)' (\(node.layer.kind))",
                     "has no ONNX mapping: \(why); nothing was written")
    }
}

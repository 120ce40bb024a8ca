import Foundation
import ModelCore

/// One layer of a Keras model config, read from either config dialect.
///
/// Keras 3 (`.h5` `model_config` and `.keras` `config.json`) names inbound tensors as
/// `{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [layer, node, tensor]}}], "kwargs": {}}`;
/// tf.keras 2.x writes `[[["layer", node, tensor, {kwargs}], ...]]`. Both become `inbound`.
struct KerasLayer {
    var className: String
    var name: String
    /// The layer's `config` object.
    var config: KerasJSON
    /// Names of the layers whose outputs feed this layer, in argument order (Functional only).
    var inbound: [String]
    /// A nested `Sequential`/`Functional` model, flattened into the graph by the importer.
    var model: KerasModelConfig?
    /// The `.keras` `module` field: `keras.src.ops.…` marks an operation written by Keras 3 for
    /// arithmetic on symbolic tensors (`x + 3.0`), not a layer.
    var module: String? = nil
    /// Numbers among a Keras 3 call's positional arguments (the `3.0` of `x + 3.0`).
    var constants: [KerasJSON] = []

    /// An operation (`keras.ops`), which Keras leaves out of `model.layers` and the weight files.
    var isOperation: Bool { module?.hasPrefix("keras.src.ops") == true }

    /// The layer's own `trainable` flag (default true).
    var trainable: Bool { config["trainable"]?.boolValue ?? true }
}

/// A Keras model config (`Functional` or `Sequential`), dialect-neutral.
struct KerasModelConfig {
    enum Kind { case functional, sequential }

    var kind: Kind
    var className: String
    var name: String
    /// All layers in config order. For `Sequential` the leading `InputLayer`, if any, is included.
    var layers: [KerasLayer]
    /// Functional: the input layer's name; Sequential: nil.
    var inputLayer: String?
    /// Functional: the output layer's name; Sequential: the last non-input layer.
    var outputLayer: String
    /// Declared input shape without the batch axis (nil entries are unknown sizes), if any.
    var inputShape: [Int?]?
    var trainable: Bool

    /// Layers Keras lists in `model.layers` (a Sequential's `InputLayer` is not one of them).
    /// This order names the groups of the Keras 3 weights layout and the legacy `layer_names`.
    var savedLayers: [KerasLayer] {
        kind == .sequential ? layers.filter { $0.className != "InputLayer" } : layers.filter { !$0.isOperation }
    }

    static let modelClasses: Set<String> = ["Functional", "Model", "Sequential"]

    /// Reads `{"class_name": ..., "config": {...}}` (the `.keras` form adds "module" etc.).
    static func parse(_ json: KerasJSON, file: String, location: String = "model_config") throws -> KerasModelConfig {
        func fail(_ msg: String, _ loc: String = location) -> ModelIOError { ModelIOError(.malformed, file: file, location: loc, msg) }
        guard json.isObject else { throw fail("expected a JSON object with 'class_name' and 'config'") }
        guard let className = json["class_name"]?.stringValue else { throw fail("missing 'class_name'") }
        guard modelClasses.contains(className) else {
            throw ModelIOError(.unsupported, file: file, location: location,
                               "the model class is '\(className)'; only Functional and Sequential models can be imported")
        }
        guard let config = json["config"], config.isObject else { throw fail("missing 'config' object") }
        let name = config["name"]?.stringValue ?? (className == "Sequential" ? "sequential" : "model")
        guard let layerList = config["layers"]?.arrayValue else { throw fail("missing 'layers' list", "\(location) '\(name)'") }
        let isSequential = className == "Sequential"
        var layers: [KerasLayer] = []
        for (i, l) in layerList.enumerated() {
            layers.append(try parseLayer(l, index: i, sequential: isSequential, file: file, model: name))
        }
        var seen = Set<String>()
        for l in layers where !seen.insert(l.name).inserted {
            throw fail("two layers are named '\(l.name)'", "\(location) '\(name)'")
        }
        let trainable = config["trainable"]?.boolValue ?? true
        if isSequential {
            guard let last = layers.last(where: { $0.className != "InputLayer" }) else {
                throw fail("the Sequential model has no layers", "\(location) '\(name)'")
            }
            return KerasModelConfig(kind: .sequential, className: className, name: name, layers: layers, inputLayer: nil,
                                    outputLayer: last.name, inputShape: sequentialInputShape(config, layers),
                                    trainable: trainable)
        }
        let inputs = try endpoints(config["input_layers"], "input_layers", file: file, model: name)
        let outputs = try endpoints(config["output_layers"], "output_layers", file: file, model: name)
        guard inputs.count == 1, outputs.count == 1 else {
            throw ModelIOError(.unsupported, file: file, location: "model '\(name)'",
                               "the model has \(inputs.count) inputs and \(outputs.count) outputs; only single-input, single-output models can be imported")
        }
        guard let input = layers.first(where: { $0.name == inputs[0] }), input.className == "InputLayer" else {
            throw fail("input_layers names '\(inputs[0])', which is not an InputLayer of the model", "model '\(name)'")
        }
        guard layers.contains(where: { $0.name == outputs[0] }) else {
            throw fail("output_layers names '\(outputs[0])', which is not a layer of the model", "model '\(name)'")
        }
        return KerasModelConfig(kind: .functional, className: className, name: name, layers: layers, inputLayer: inputs[0],
                                outputLayer: outputs[0], inputShape: batchShape(input.config).map { Array($0.dropFirst()) },
                                trainable: trainable)
    }

    /// `["image", 0, 0]` (Keras 3, one tensor) or `[["image", 0, 0], ...]` (tf.keras 2, lists).
    private static func endpoints(_ v: KerasJSON?, _ key: String, file: String, model: String) throws -> [String] {
        guard let list = v?.arrayValue else {
            throw ModelIOError(.malformed, file: file, location: "model '\(model)'", "missing '\(key)'")
        }
        if let first = list.first?.stringValue { return [first] }
        return try list.map { e in
            guard let n = e.arrayValue?.first?.stringValue else {
                throw ModelIOError(.malformed, file: file, location: "model '\(model)'", "'\(key)' entries must be [layer, node, tensor]")
            }
            return n
        }
    }

    private static func parseLayer(_ l: KerasJSON, index: Int, sequential: Bool, file: String, model: String) throws -> KerasLayer {
        guard let className = l["class_name"]?.stringValue, let config = l["config"], config.isObject else {
            throw ModelIOError(.malformed, file: file, location: "model '\(model)' layer #\(index)",
                               "expected an object with 'class_name' and a 'config' object")
        }
        guard let name = l["name"]?.stringValue ?? config["name"]?.stringValue else {
            throw ModelIOError(.malformed, file: file, location: "model '\(model)' layer #\(index)", "the layer has no name")
        }
        var layer = KerasLayer(className: className, name: name, config: config, inbound: [], model: nil,
                               module: l["module"]?.stringValue)
        if modelClasses.contains(className) {
            layer.model = try parse(l, file: file, location: "layer '\(name)'")
        }
        if !sequential {
            layer.inbound = try inboundLayers(l["inbound_nodes"], layer: name, file: file)
            if let call = l["inbound_nodes"]?.arrayValue?.first, call.isObject, let args = call["args"]?.arrayValue {
                layer.constants = args.filter { $0.doubleValue != nil }
            }
        }
        return layer
    }

    /// The inbound layer names of a Functional layer's single call.
    private static func inboundLayers(_ nodes: KerasJSON?, layer: String, file: String) throws -> [String] {
        let list = nodes?.arrayValue ?? []
        if list.isEmpty { return [] }
        guard list.count == 1 else {
            throw ModelIOError(.unsupported, file: file, location: "layer '\(layer)'",
                               "the layer is called \(list.count) times (a shared layer); only layers used once can be imported")
        }
        var history: [(String, Int, Int)] = []
        let node = list[0]
        if node.isObject {
            // Keras 3: tensors anywhere inside "args".
            collectKerasTensors(node["args"] ?? .null, into: &history)
        } else if let calls = node.arrayValue {
            // tf.keras 2: [["layer", node, tensor, {kwargs}], ...]
            for c in calls {
                guard let parts = c.arrayValue, parts.count >= 3, let n = parts[0].stringValue,
                      let ni = parts[1].intValue, let ti = parts[2].intValue else {
                    throw ModelIOError(.malformed, file: file, location: "layer '\(layer)'",
                                       "inbound node entries must be [layer, node_index, tensor_index, kwargs]")
                }
                history.append((n, ni, ti))
            }
        }
        for (n, ni, ti) in history where ni != 0 || ti != 0 {
            throw ModelIOError(.unsupported, file: file, location: "layer '\(layer)'",
                               "its input is output \(ti) of call \(ni) of '\(n)' (a shared or multi-output layer); only single-use, single-output layers can be imported")
        }
        return history.map(\.0)
    }

    private static func collectKerasTensors(_ v: KerasJSON, into out: inout [(String, Int, Int)]) {
        switch v {
        case .array(let items): for i in items { collectKerasTensors(i, into: &out) }
        case .object:
            if v["class_name"]?.stringValue == "__keras_tensor__",
               let h = v["config"]?["keras_history"]?.arrayValue, h.count >= 3, let n = h[0].stringValue {
                out.append((n, h[1].intValue ?? 0, h[2].intValue ?? 0))
            }
        default: break
        }
    }

    /// `batch_shape` (Keras 3) or `batch_input_shape` (tf.keras 2), batch axis included.
    static func batchShape(_ config: KerasJSON) -> [Int?]? {
        for key in ["batch_shape", "batch_input_shape"] {
            if let dims = config[key]?.arrayValue { return dims.map { $0.intValue } }
        }
        return nil
    }

    /// A Sequential's input: its InputLayer, a first layer's `batch_input_shape` (tf.keras 2),
    /// or `build_input_shape`.
    private static func sequentialInputShape(_ config: KerasJSON, _ layers: [KerasLayer]) -> [Int?]? {
        if let first = layers.first, let s = batchShape(first.config) { return Array(s.dropFirst()) }
        if let dims = config["build_input_shape"]?.arrayValue { return Array(dims.map { $0.intValue }.dropFirst()) }
        return nil
    }
}

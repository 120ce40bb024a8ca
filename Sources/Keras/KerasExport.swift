import Foundation
import NN
import ModelCore
import HDF5

/// Writes a model imported from Keras back as a Keras file that `keras.models.load_model`
/// opens and that predicts our numbers.
///
/// The configuration is the one that was read, kept verbatim (`formatPayload["keras"]`); only
/// the weights are new, converted back to Keras' layouts (OIHW → HWIO, `[out, in]` → `[in, out]`
/// with a Dense kernel after a Flatten put back in Keras' (h, w, c) row order, BatchNorm
/// statistics under their Keras names). Because the config is Keras', the exported
/// model ends in its softmax again and takes channels-last input, exactly like the original.
///
/// - `.h5`: a legacy HDF5 full model as Keras 3 writes it: root attributes `model_config`,
///   `keras_version`, `backend` (and `training_config` when the source had one, so Keras
///   compiles it as before), weights under `model_weights/<layer>/<weight_name>` with the
///   `layer_names`/`weight_names` attributes — the source's own weight names when it was an
///   `.h5`, Keras 3's `variable.path` names otherwise — and `top_level_model_weights`.
/// - `.keras`: a zip of `metadata.json`, `config.json` (a legacy `.h5` config gains the
///   `module`/`registered_name` fields Keras 3 archives need; `compile_config` is dropped
///   because no optimizer state is written) and `model.weights.h5` in the Keras 3 layout.
///
/// Optimizer state is not exported: it belongs to the weights that were read, not to ours.
/// A model not imported from Keras, or one whose graph no longer matches its Keras config,
/// is refused with a one-line `ModelIOError` and nothing is written. Writes are atomic.
public enum KerasExport {
    public static func write(_ model: Model, to url: URL) throws {
        let file = url.relativePath
        guard let payload = KerasPayload.of(model) else {
            throw ModelIOError(.unsupported, file: file,
                               "the model is a \(model.format.rawValue), not a model imported from Keras, so there is no Keras configuration to write; export it as a state dict (.npz) instead")
        }
        let ext = url.pathExtension.lowercased()
        guard ext == "h5" || ext == "hdf5" || ext == "keras" else {
            throw ModelIOError(.unsupported, file: file, "a Keras model is written as .h5 or .keras, not '.\(url.pathExtension)'")
        }
        let configJSON = try KerasJSON.parse(payload.config, file: file, what: "the kept Keras config")
        let config = try KerasModelConfig.parse(configJSON, file: file)
        // Rebuilding from the config gives the Keras structure and the shapes the config implies.
        let reference = try KerasGraphBuilder.build(config, file: file,
                                                    kerasVersion: payload.kerasVersion ?? (payload.source == "keras" ? "3" : nil))
        let values = try collect(model, reference: reference, file: file)
        try AtomicFile.write(to: url) { temporary in
            do {
                if ext == "keras" {
                    try writeArchive(config: config, json: configJSON, payload: payload, weighted: reference.weighted,
                                     values: values, to: temporary, file: file)
                } else {
                    try writeH5(config: config, payload: payload, weighted: reference.weighted, values: values, to: temporary)
                }
            } catch var e as ModelIOError {
                e.file = file   // name the target, not the hidden temporary file
                throw e
            }
        }
    }

    typealias Values = [String: [String: (shape: [Int], values: [Float])]]

    /// Every Keras variable's value in Keras' layout, by node and variable; checks the model
    /// still has the structure the config describes.
    private static func collect(_ model: Model, reference: KerasBuiltModel, file: String) throws -> Values {
        var out: Values = [:]
        let graph = model.graph
        for w in reference.weighted {
            let location = "layer '\(w.node)'"
            // The layers holding this Keras layer's variables (two for a SeparableConv2D).
            func layers(_ node: String) throws -> (Layer, Layer) {
                guard let i = graph.index(of: node), let r = reference.graph.index(of: node) else {
                    throw ModelIOError(.mismatch, file: file, location: "layer '\(node)'",
                                       "the model has no node for this layer of its Keras config; it no longer matches the configuration it was imported with")
                }
                let layer = graph.nodes[i].layer, expected = reference.graph.nodes[r].layer
                guard layer.kind == expected.kind else {
                    throw ModelIOError(.mismatch, file: file, location: "layer '\(node)'", "the node is a \(layer.kind), the Keras config needs a \(expected.kind)")
                }
                return (layer, expected)
            }
            let (layer, _) = try layers(w.node)
            var vars: [String: (shape: [Int], values: [Float])] = [:]
            for v in w.variables {
                let (layer, expected) = try layers(w.node(for: v))
                let columns = KerasFlattenOrder.columns(forNode: w.node(for: v), in: graph)
                guard let value = KerasVariables.kerasValue(v, of: layer, kerasClass: w.className, columns: columns),
                      let shape = KerasVariables.kerasValue(v, of: expected, kerasClass: w.className)?.shape,
                      value.shape == shape else {
                    throw ModelIOError(.mismatch, file: file, location: "\(location) weight '\(v)'",
                                       "the model's value does not have the shape \(KerasVariables.tuple(KerasVariables.kerasValue(v, of: expected)?.shape ?? [])) the Keras config implies")
                }
                vars[v] = value
            }
            if let bn = layer as? BatchNorm {
                // center=False / scale=False: Keras has no beta / gamma to hold a changed value.
                if !w.variables.contains("gamma"), !bn.weight.value.data.allSatisfy({ $0 == 1 }) {
                    throw ModelIOError(.unsupported, file: file, location: location,
                                       "the layer has scale=False in Keras (gamma fixed at 1) but its weight is no longer 1; Keras cannot express that")
                }
                if !w.variables.contains("beta"), !bn.bias.value.data.allSatisfy({ $0 == 0 }) {
                    throw ModelIOError(.unsupported, file: file, location: location,
                                       "the layer has center=False in Keras (beta fixed at 0) but its bias is no longer 0; Keras cannot express that")
                }
            }
            out[w.node] = vars
        }
        return out
    }

    // MARK: Legacy HDF5

    private static func writeH5(config: KerasModelConfig, payload: KerasPayload, weighted: [KerasWeightedLayer],
                                values: Values, to temporary: URL) throws {
        let h5 = try HDF5File(creating: temporary)
        let version = payload.kerasVersion ?? "3.15.1", backend = payload.backend ?? "jax"
        try h5.setAttribute("backend", string: backend, form: form(backend, utf8: true))
        try h5.setAttribute("keras_version", string: version, form: form(version, utf8: true))
        try h5.setAttribute("model_config", string: payload.config, form: form(payload.config))
        if let t = payload.trainingConfig { try h5.setAttribute("training_config", string: t, form: form(t)) }
        let root = "model_weights"
        try h5.createGroup(root)
        try h5.setAttribute("backend", string: backend, at: root, form: form(backend))
        try h5.setAttribute("keras_version", string: version, at: root, form: form(version))
        let groups = KerasWeightLayout.legacyGroups(config, weighted: weighted)
        try h5.setAttribute("layer_names", strings: groups.map(\.name), at: root, form: form(groups.map(\.name)))
        for group in groups + [KerasWeightLayout.LegacyGroup(name: "top_level_model_weights", slots: [])] {
            let path = root + "/" + group.name
            let kept = payload.legacyWeightNames?[group.name] ?? []
            let names = kept.count == group.slots.count ? kept : group.slots.map { KerasWeightLayout.legacyWeightName($0, model: config) }
            try h5.createGroup(path)
            try h5.setAttribute("weight_names", strings: names, at: path, form: form(names))
            for (name, slot) in zip(names, group.slots) {
                let v = values[slot.node]![slot.variable]!
                try h5.write(floats: v.values, shape: v.shape, to: path + "/" + name)
            }
        }
        try h5.close()
    }

    // MARK: .keras

    private static func writeArchive(config: KerasModelConfig, json: KerasJSON, payload: KerasPayload,
                                     weighted: [KerasWeightedLayer], values: Values, to temporary: URL, file: String) throws {
        let configText = payload.source == "keras" ? json.removing("compile_config").serialized : modernised(json).serialized
        let kept = payload.kerasVersion ?? ""
        let version = kept.hasPrefix("3.") ? kept : "3.0.0"
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd@HH:mm:ss"
        let metadata = KerasJSON.object([("keras_version", .string(version)),
                                         ("date_saved", .string(formatter.string(from: Date())))]).serialized

        let h5 = try HDF5File(creatingInMemory: file + "/" + KerasArchive.weightsMember)
        try h5.createGroup("vars")
        try h5.setAttribute("name", string: config.name, at: "vars")
        for g in KerasWeightLayout.derivedVarsGroups(config, weighted: weighted) {
            let vars = g.path + "/vars"
            try h5.createGroup(vars)
            try h5.setAttribute("name", string: g.name, at: vars)
            guard let node = g.node else { continue }
            for (i, variable) in g.variables.enumerated() {
                let v = values[node]![variable]!
                try h5.write(floats: v.values, shape: v.shape, to: "\(vars)/\(i)")
            }
        }
        let image = try h5.imageData()
        try h5.close()
        try KerasArchive.write(config: configText, metadata: metadata, weights: image, to: temporary, file: file)
    }

    /// A legacy (`.h5`) config in the form Keras 3 archives need: every object names its
    /// `module` and `registered_name`. (Verified with Keras 3.15: legacy Keras 3 and tf.keras
    /// 2.15 configs load from a `.keras` once these are added.)
    static func modernised(_ c: KerasJSON) -> KerasJSON {
        guard var cls = c["class_name"]?.stringValue else { return c }
        var out = c
        let isModel = KerasModelConfig.modelClasses.contains(cls)
        if cls == "Model" { cls = "Functional"; out = out.setting("class_name", .string(cls)) }
        if out["module"] == nil {
            out = out.setting("module", .string(cls == "Functional" ? "keras.src.models.functional" : cls == "Sequential" ? "keras" : "keras.layers"))
        }
        if out["registered_name"] == nil { out = out.setting("registered_name", .null) }
        if isModel, var inner = out["config"], let layers = inner["layers"]?.arrayValue {
            inner = inner.setting("layers", .array(layers.map(modernised)))
            // tf.keras 2 lists single endpoints as [["name", 0, 0]]; Keras 3 would then warn that
            // the call structure differs from the saved one, so write its own ["name", 0, 0].
            for key in ["input_layers", "output_layers"] {
                if let list = inner[key]?.arrayValue, list.count == 1, list[0].arrayValue != nil {
                    inner = inner.setting(key, list[0])
                }
            }
            out = out.setting("config", inner)
        }
        return out
    }

    /// Variable-length strings as Keras/h5py write them: ASCII when possible.
    private static func form(_ s: String, utf8: Bool = false) -> HDF5StringForm {
        utf8 || !s.utf8.allSatisfy({ $0 < 0x80 }) ? .variableUTF8 : .variableASCII
    }

    private static func form(_ list: [String]) -> HDF5StringForm {
        list.allSatisfy { $0.utf8.allSatisfy { $0 < 0x80 } } ? .variableASCII : .variableUTF8
    }
}

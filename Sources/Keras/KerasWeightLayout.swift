import Foundation

/// Where a Keras model's variables live in the two weight layouts Keras writes.
///
/// **Legacy HDF5** (`model.save("m.h5")` under `model_weights/`, `save_weights("w.h5")` at the
/// root): the attribute `layer_names` lists the model's layers (`model.layers`); each layer's
/// group lists `weight_names`, dataset paths relative to the group. Keras assigns the values
/// by position, in `layer.trainable_weights + layer.non_trainable_weights` order; for a nested
/// model that is every trainable variable of its layers, then every non-trainable one.
///
/// **Keras 3** (`model.weights.h5` inside `.keras`, and `.weights.h5`): groups
/// `layers/<snake_case class>[_n]/vars/<i>`, numbered per class within each model in
/// `model.layers` order, nested models recursing into `layers/<class>/layers/…`. Keras 3.15
/// also writes the layer's real name as an attribute `name` of each `vars` group.
enum KerasWeightLayout {
    /// One weight of a legacy group: the graph node and Keras variable it belongs to.
    struct Slot: Equatable {
        var node: String
        var variable: String
        /// The graph node holding the variable (`node` except for a SeparableConv2D's depthwise kernel).
        var target: String
    }

    /// One entry of `layer_names` with its weights in Keras' positional order.
    struct LegacyGroup {
        var name: String
        var slots: [Slot]
    }

    /// One `vars` group of the Keras 3 layout.
    struct VarsGroup {
        /// Path of the layer's group (`layers/sequential/layers/conv2d`); `vars` is below it.
        var path: String
        /// The Keras layer (or model) name, written as the `vars` group's `name` attribute.
        var name: String
        /// The graph node and variables for a weighted layer; nil for weightless layers and models.
        var node: String?
        var variables: [String]
    }

    /// The groups of `model.layers` (a Sequential's InputLayer excluded), weightless ones included.
    static func legacyGroups(_ model: KerasModelConfig, weighted: [KerasWeightedLayer]) -> [LegacyGroup] {
        let byNode = Dictionary(weighted.map { ($0.node, $0) }, uniquingKeysWith: { a, _ in a })
        return model.savedLayers.map { layer in
            var all: [(Slot, Bool)] = []
            collect(layer, prefix: [], byNode: byNode, into: &all)
            let slots = all.filter { $0.1 }.map(\.0) + all.filter { !$0.1 }.map(\.0)
            return LegacyGroup(name: layer.name, slots: slots)
        }
    }

    /// Every variable below `layer`, depth first, with its trainability.
    private static func collect(_ layer: KerasLayer, prefix: [String], byNode: [String: KerasWeightedLayer],
                                into out: inout [(Slot, Bool)]) {
        let path = prefix + [layer.name]
        if let inner = layer.model {
            for l in inner.savedLayers { collect(l, prefix: path, byNode: byNode, into: &out) }
            return
        }
        guard let w = byNode[path.joined(separator: "/")] else { return }
        for v in w.variables { out.append((Slot(node: w.node, variable: v, target: w.node(for: v)), w.isTrainable(v))) }
    }

    /// Weight names as Keras 3 writes them (`variable.path`): `<layer>/<variable>` in a
    /// Functional model, prefixed by the model name for a top-level Sequential, and by the
    /// enclosing models' names for nested layers (`block/block_conv/kernel`).
    static func legacyWeightName(_ slot: Slot, model: KerasModelConfig) -> String {
        (model.kind == .sequential ? model.name + "/" : "") + slot.node + "/" + slot.variable
    }

    /// The Keras 3 groups as Keras names them (class-derived, numbered in `model.layers` order).
    static func derivedVarsGroups(_ model: KerasModelConfig, weighted: [KerasWeightedLayer]) -> [VarsGroup] {
        let byNode = Dictionary(weighted.map { ($0.node, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [VarsGroup] = []
        derive(model, prefix: "", path: [], byNode: byNode, into: &out)
        return out
    }

    private static func derive(_ model: KerasModelConfig, prefix: String, path: [String],
                               byNode: [String: KerasWeightedLayer], into out: inout [VarsGroup]) {
        var used: [String: Int] = [:]
        for layer in model.savedLayers {
            let group = prefix + "layers/" + uniqueName(snakeCase(layer.className), &used)
            let layerPath = path + [layer.name]
            if let inner = layer.model {
                out.append(VarsGroup(path: group, name: layer.name, node: nil, variables: []))
                derive(inner, prefix: group + "/", path: layerPath, byNode: byNode, into: &out)
            } else {
                let w = byNode[layerPath.joined(separator: "/")]
                out.append(VarsGroup(path: group, name: layer.name, node: w?.node, variables: w?.variables ?? []))
            }
        }
    }

    /// Keras' `_get_unique_name`: the first use keeps the name, later ones get `_1`, `_2`, …
    static func uniqueName(_ name: String, _ used: inout [String: Int]) -> String {
        if let n = used[name] {
            used[name] = n + 1
            return "\(name)_\(n + 1)"
        }
        used[name] = 0
        return name
    }

    /// Keras' `naming.to_snake_case`: `BatchNormalization` → `batch_normalization`,
    /// `ReLU` → `re_lu`, `Conv2D` → `conv2d`, `GlobalAveragePooling2D` → `global_average_pooling2d`.
    static func snakeCase(_ name: String) -> String {
        let s = Array(name.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "_" })
        func upper(_ c: Unicode.Scalar) -> Bool { ("A"..."Z").contains(c) }
        func lower(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) }
        var out = String.UnicodeScalarView()
        for (i, c) in s.enumerated() {
            // `(.)([A-Z][a-z]+)` → `\1_\2`, then `([a-z])([A-Z])` → `\1_\2`.
            if i > 0 && upper(c) && ((i + 1 < s.count && lower(s[i + 1])) || lower(s[i - 1])) { out.append("_") }
            out.append(c)
        }
        return String(out).lowercased()
    }
}

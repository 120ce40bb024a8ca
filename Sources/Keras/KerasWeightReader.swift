import Foundation
import NN
import ModelCore
import HDF5

/// Reads Keras weight files (either layout, see `KerasWeightLayout`) into a built graph.
///
/// Every weighted layer of the config must receive all its variables, with the shapes the
/// config implies; optimizer state (`optimizer_weights`, `optimizer/vars`) is ignored.
enum KerasWeightReader {
    /// What a legacy file said, kept so an export can write the same names back.
    struct LegacyNames {
        var layerNames: [String]
        var weightNames: [String: [String]]
        /// True when groups were paired with layers by position because their names differ.
        var byPosition: Bool
    }

    /// The legacy layout whose `layer_names` attribute sits on `root` (`model_weights` or `/`).
    static func readLegacy(_ h5: HDF5File, root: String, model: KerasModelConfig, weighted: [KerasWeightedLayer],
                           graph: Graph, file: String) throws -> LegacyNames {
        func join(_ parts: String...) -> String { ([root] + parts).filter { $0 != "/" && !$0.isEmpty }.joined(separator: "/") }
        let layerNames = try h5.stringArrayAttribute("layer_names", at: root)
        var weightNames: [String: [String]] = [:]
        var fileGroups: [String] = []
        for name in layerNames {
            let names = try h5.stringArrayAttribute("weight_names", at: join(name))
            weightNames[name] = names
            if !names.isEmpty { fileGroups.append(name) }
        }
        let modelGroups = KerasWeightLayout.legacyGroups(model, weighted: weighted).filter { !$0.slots.isEmpty }
        // Keras pairs groups with layers by position; we pair by name when the names agree
        // (robust to order) and fall back to Keras' positional rule otherwise.
        let byName = Set(fileGroups) == Set(modelGroups.map(\.name)) && fileGroups.count == modelGroups.count
        guard byName || fileGroups.count == modelGroups.count else {
            throw ModelIOError(.mismatch, file: file, location: root == "/" ? nil : root,
                               "the file has weights for \(fileGroups.count) layers (\(fileGroups.joined(separator: ", "))), but the model config has \(modelGroups.count) layers with weights (\(modelGroups.map(\.name).joined(separator: ", ")))")
        }
        for (i, group) in modelGroups.enumerated() {
            let fileGroup = byName ? group.name : fileGroups[i]
            let names = weightNames[fileGroup] ?? []
            let location = "layer '\(group.name)'"
            guard names.count == group.slots.count else {
                throw ModelIOError(.mismatch, file: file, location: location,
                                   "the file has \(names.count) weights (\(names.joined(separator: ", "))), but the config implies \(group.slots.count) (\(group.slots.map { $0.node + "." + $0.variable }.joined(separator: ", ")))")
            }
            for (name, slot) in zip(names, group.slots) {
                if KerasVariables.isSkipped(slot.variable, of: layer(slot.target, graph)) { continue }
                let (shape, values) = try h5.readFloats(join(fileGroup, name))
                try KerasVariables.assign(values, shape: shape, variable: slot.variable, to: layer(slot.target, graph),
                                          columns: KerasFlattenOrder.columns(forNode: slot.target, in: graph), file: file, location: "\(location) weight '\(name)'")
            }
        }
        return LegacyNames(layerNames: layerNames, weightNames: weightNames, byPosition: !byName)
    }

    /// The Keras 3 layout (`layers/<class>/vars/<i>`). Returns the groups as found.
    @discardableResult
    static func readKeras3(_ h5: HDF5File, model: KerasModelConfig, weighted: [KerasWeightedLayer], graph: Graph,
                           file: String) throws -> [KerasWeightLayout.VarsGroup] {
        guard h5.kind(of: "layers") == .group else {
            throw ModelIOError(.malformed, file: file,
                               "not a Keras weights file: no 'layers' group (Keras 3 layout) and no 'layer_names' attribute (legacy layout)")
        }
        let byNode = Dictionary(weighted.map { ($0.node, $0) }, uniquingKeysWith: { a, _ in a })
        var groups: [KerasWeightLayout.VarsGroup] = []
        try resolve(h5, model, prefix: "", path: [], byNode: byNode, into: &groups)
        for g in groups {
            guard let node = g.node else { continue }
            let location = "layer '\(node)'"
            let vars = g.path + "/vars"
            guard h5.kind(of: vars) == .group else {
                throw ModelIOError(.mismatch, file: file, location: location, "no group '\(vars)' for the layer's weights")
            }
            let arrays = try h5.children(of: vars).filter { $0.kind == .dataset }.count
            guard arrays == g.variables.count else {
                throw ModelIOError(.mismatch, file: file, location: location,
                                   "'\(vars)' holds \(arrays) arrays, but the config implies \(g.variables.count) (\(g.variables.joined(separator: ", ")))")
            }
            for (i, variable) in g.variables.enumerated() {
                let target = byNode[node]?.node(for: variable) ?? node
                if KerasVariables.isSkipped(variable, of: layer(target, graph)) { continue }
                let (shape, values) = try h5.readFloats("\(vars)/\(i)")
                try KerasVariables.assign(values, shape: shape, variable: variable, to: layer(target, graph),
                                          columns: KerasFlattenOrder.columns(forNode: target, in: graph), file: file, location: "\(location) weight '\(variable)' ('\(vars)/\(i)')")
            }
        }
        return groups
    }

    /// The groups of one model level: by the `vars` `name` attributes when they name every
    /// layer of the level (Keras ≥ 3.x writes them), else by Keras' class-derived numbering.
    private static func resolve(_ h5: HDF5File, _ model: KerasModelConfig, prefix: String, path: [String],
                                byNode: [String: KerasWeightedLayer], into out: inout [KerasWeightLayout.VarsGroup]) throws {
        var named: [String: String] = [:]
        if h5.kind(of: prefix + "layers") == .group {
            for child in try h5.children(of: prefix + "layers") where child.kind == .group {
                let group = prefix + "layers/" + child.name
                if h5.hasAttribute("name", at: group + "/vars"), let n = try? h5.stringAttribute("name", at: group + "/vars") {
                    named[n] = group
                }
            }
        }
        let useNames = model.savedLayers.allSatisfy { named[$0.name] != nil }
        var used: [String: Int] = [:]
        for layer in model.savedLayers {
            let derived = prefix + "layers/" + KerasWeightLayout.uniqueName(KerasWeightLayout.snakeCase(layer.className), &used)
            let group = useNames ? named[layer.name]! : derived
            let layerPath = path + [layer.name]
            if let inner = layer.model {
                out.append(.init(path: group, name: layer.name, node: nil, variables: []))
                try resolve(h5, inner, prefix: group + "/", path: layerPath, byNode: byNode, into: &out)
            } else {
                let w = byNode[layerPath.joined(separator: "/")]
                out.append(.init(path: group, name: layer.name, node: w?.node, variables: w?.variables ?? []))
            }
        }
    }

    private static func layer(_ node: String, _ graph: Graph) -> Layer {
        // Every weighted layer was added to the graph under this name by KerasGraphBuilder.
        graph.nodes[graph.index(of: node)!].layer
    }
}

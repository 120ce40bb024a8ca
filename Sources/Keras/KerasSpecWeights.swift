import Foundation
import NN
import ModelCore
import NumPy
import HDF5

extension KerasImport {
    /// Loads Keras weights into `model`, a graph built from an architecture spec, by layer name.
    ///
    /// The spec's node names must be the Keras layer names (nested layers `<outer>/<inner>`),
    /// as in the specs Keras imports record (`bss convert m.h5 m.npz` writes one). Layouts are
    /// converted as on import (HWIO → OIHW, `[in, out]` → `[out, in]`, gamma/beta/moving_mean/
    /// moving_variance → weight/bias/running_mean/running_var; a SeparableConv2D `<layer>`'s
    /// depthwise kernel → node `<layer>/depthwise`; a Dense kernel after a Flatten of an image:
    /// rows from Keras' (h, w, c) to our (c, h, w) order, `KerasFlattenOrder`); everything else
    /// (epsilon, padding, input layout) is the spec's.
    ///
    /// - Legacy files (`layer_names` at the root or under `model_weights`): a weight
    ///   `<group>/…/<layer>/<variable>[:0]` belongs to node `<group>` or `<group>/<layer>`.
    /// - Keras 3 files (`layers/<class>/vars/<i>`): layers are found by the `name` attributes
    ///   Keras ≥ 3.x writes on `vars` groups; variables are in Keras' order, so a BatchNorm
    ///   must hold all four (with `center`/`scale` off the order is ambiguous).
    ///
    /// Strict: every node with parameters must get all of them, and every weighted layer of
    /// the file must have a node; the error lists every missing and unexpected layer.
    public static func loadWeights(_ weights: URL, into model: Model) throws {
        let file = weights.relativePath
        let h5 = try HDF5File(reading: weights)
        var entries: [String: [(variable: String?, path: String)]] = [:]
        if h5.hasAttribute("layer_names", at: "/") {
            try legacyEntries(h5, root: "/", into: &entries)
        } else if h5.kind(of: "model_weights") == .group {
            try legacyEntries(h5, root: "model_weights", into: &entries)
        } else if h5.kind(of: "layers") == .group {
            try keras3Entries(h5, prefix: "", path: [], file: file, into: &entries)
        } else {
            throw ModelIOError(.malformed, file: file,
                               "not a Keras weights file: no 'layers' group (Keras 3 layout) and no 'layer_names' attribute (legacy layout)")
        }
        splitSeparable(&entries, graph: model.graph)
        let targets = model.graph.nodes.filter { !$0.layer.parameters.isEmpty }
        let missing = targets.map(\.name).filter { entries[$0] == nil }
        let unexpected = entries.keys.filter { model.graph.index(of: $0) == nil }.sorted()
        guard missing.isEmpty && unexpected.isEmpty else {
            func list(_ names: [String]) -> String {
                names.count <= 10 ? names.joined(separator: ", ") : names.prefix(10).joined(separator: ", ") + " and \(names.count - 10) more"
            }
            throw ModelIOError(.mismatch, file: file,
                               "these Keras weights do not fit the architecture by layer name: "
                               + (missing.isEmpty ? "" : "no weights for \(list(missing))")
                               + (missing.isEmpty || unexpected.isEmpty ? "" : "; ")
                               + (unexpected.isEmpty ? "" : "weights for layers the architecture lacks: \(list(unexpected))")
                               + " (a Keras model's own .keras/.h5 file as --arch pairs them by position)")
        }
        for node in targets {
            let layer = node.layer
            let expected: [String]
            switch layer {
            case let l as Linear: expected = l.bias == nil ? ["kernel"] : ["kernel", "bias"]
            case let c as Conv2D:
                // A DepthwiseConv2D names its kernel depthwise_kernel, a SeparableConv2D's pointwise
                // step pointwise_kernel (KerasVariables converts each).
                let names = Set(entries[node.name]?.compactMap(\.variable) ?? [])
                let kernel = ["depthwise_kernel", "pointwise_kernel"].first { names.contains($0) } ?? "kernel"
                expected = c.hasBias ? [kernel, "bias"] : [kernel]
            case is BatchNorm: expected = ["gamma", "beta", "moving_mean", "moving_variance"]
            default:
                throw ModelIOError(.unsupported, file: file, location: "layer '\(node.name)'",
                                   "a \(layer.kind) has no Keras counterpart with weights")
            }
            let found = entries[node.name]!
            let location = "layer '\(node.name)'"
            var pairs: [(String, String)] = []
            if found.allSatisfy({ $0.variable != nil }) {
                let byName = Dictionary(found.map { ($0.variable!, $0.path) }, uniquingKeysWith: { a, _ in a })
                // BatchNormalization(scale=False / center=False) stores no gamma / beta: γ = 1, β = 0.
                let optional: Set<String> = layer is BatchNorm ? ["gamma", "beta"] : []
                let absent = expected.filter { byName[$0] == nil && !optional.contains($0) }
                let extra = byName.keys.filter { !expected.contains($0) }.sorted()
                guard absent.isEmpty && extra.isEmpty else {
                    throw ModelIOError(.mismatch, file: file, location: location,
                                       "expected the variables \(expected.joined(separator: ", ")), found \(found.map { $0.variable! }.joined(separator: ", "))")
                }
                pairs = expected.compactMap { v in byName[v].map { (v, $0) } }
            } else {
                guard found.count == expected.count else {
                    throw ModelIOError(.mismatch, file: file, location: location,
                                       "\(found.count) arrays, but a \(layer.kind) takes \(expected.count) (\(expected.joined(separator: ", ")))" + (layer is BatchNorm ? "; with center or scale off, give the Keras model as --arch instead of a spec" : ""))
                }
                pairs = Array(zip(expected, found.map(\.path)))
            }
            for (variable, path) in pairs {
                let (shape, values) = try h5.readFloats(path)
                try KerasVariables.assign(values, shape: shape, variable: variable, to: layer,
                                          columns: KerasFlattenOrder.columns(forNode: node.name, in: model.graph), file: file,
                                          location: "\(location) weight '\(path)'")
            }
        }
    }

    /// A SeparableConv2D `<layer>` is two nodes here, `<layer>/depthwise` and `<layer>`: its
    /// first array (`depthwise_kernel`, Keras' first variable) goes to the depthwise node.
    private static func splitSeparable(_ entries: inout [String: [(variable: String?, path: String)]], graph: Graph) {
        for (name, found) in entries {
            let depthwise = name + "/depthwise"
            guard entries[depthwise] == nil, let i = graph.index(of: depthwise), !graph.nodes[i].layer.parameters.isEmpty,
                  found.count >= 2 else { continue }
            let k = found.firstIndex { $0.variable == "depthwise_kernel" } ?? (found.allSatisfy { $0.variable == nil } ? 0 : nil)
            guard let k else { continue }
            var rest = found
            entries[depthwise] = [rest.remove(at: k)]
            entries[name] = rest
        }
    }

    /// Legacy weights by node: `<group>/<weight>` with the owner taken from the weight's name.
    private static func legacyEntries(_ h5: HDF5File, root: String,
                                      into entries: inout [String: [(variable: String?, path: String)]]) throws {
        let prefix = root == "/" ? "" : root + "/"
        for group in try h5.stringArrayAttribute("layer_names", at: root) {
            for name in try h5.stringArrayAttribute("weight_names", at: prefix + group) {
                var parts = name.split(separator: "/").map(String.init)
                guard let last = parts.popLast() else { continue }
                let variable = last.hasSuffix(":0") ? String(last.dropLast(2)) : last
                // Keras 3: `[model/]group[/inner…]/var`; tf.keras 2 nested: `inner/var:0`.
                let inner = parts.firstIndex(of: group).map { Array(parts[($0 + 1)...]) } ?? parts.filter { $0 != group }
                let node = ([group] + inner).joined(separator: "/")
                entries[node, default: []].append((variable, prefix + group + "/" + name))
            }
        }
    }

    /// Keras 3 weights by node, named by the `vars` groups' `name` attributes.
    private static func keras3Entries(_ h5: HDF5File, prefix: String, path: [String], file: String,
                                      into entries: inout [String: [(variable: String?, path: String)]]) throws {
        guard h5.kind(of: prefix + "layers") == .group else { return }
        for child in try h5.children(of: prefix + "layers") where child.kind == .group {
            let group = prefix + "layers/" + child.name
            guard h5.hasAttribute("name", at: group + "/vars") else {
                throw ModelIOError(.unsupported, file: file, location: group,
                                   "the weights file does not name its layers (written before Keras 3.x stored names); give the Keras model file as --arch instead of a spec")
            }
            let names = path + [try h5.stringAttribute("name", at: group + "/vars")]
            try keras3Entries(h5, prefix: group + "/", path: names, file: file, into: &entries)
            let arrays = try h5.children(of: group + "/vars").filter { $0.kind == .dataset }.count
            if arrays > 0 {
                entries[names.joined(separator: "/")] = (0..<arrays).map { (nil, "\(group)/vars/\($0)") }
            }
        }
    }
}

import Foundation
import NN
import ModelCore
import HDF5

/// Imports Keras models as Keras saves them, into the engine's layout.
///
/// Sources:
/// - a legacy HDF5 full model (`model.save("m.h5")` by Keras 3 or tf.keras 2.x): the root
///   attribute `model_config` (JSON) and weights under `model_weights/<layer>/<weight_name>`,
///   following the `layer_names`/`weight_names` attributes (names with or without `:0`);
/// - a Keras 3 `.keras` archive: `config.json` plus `model.weights.h5`
///   (`layers/<class>/vars/<i>`);
/// - either of those for the architecture plus `weights`: a Keras 3 `.weights.h5`, a legacy
///   `save_weights` file (`layer_names` at the root) or another full-model `.h5`.
///
/// The result computes Keras' numbers in NCHW: images `(H, W, C)` become `[C, H, W]`
/// (`Model.inputLayout = .nhwc`, so data files are still read channels-last), Conv2D kernels
/// HWIO → OIHW, Dense kernels `[in, out]` → `[out, in]`, BatchNormalization keeps its epsilon
/// and gets PyTorch's momentum `1 − m`, `'same'` padding becomes explicit per side, a Flatten of
/// an image becomes ours with the following Dense kernels' rows permuted into our (c, h, w)
/// order (or a `Permute` before it where other layers read the features; `KerasFlattenOrder`),
/// and a final softmax is split off so the graph outputs logits
/// (`Model.softmaxSplitOff`). Node names are the Keras layer names (nested models:
/// `<outer>/<inner>`), so state-dict keys are `<layer>.weight`, `<layer>.running_mean`, ….
/// Every conversion is listed in `Model.conversions`; `formatPayload["keras"]` keeps the
/// configuration as read for `KerasExport`. Supported layers: `docs/keras-layers.md`.
public enum KerasImport {
    public static func load(_ url: URL, weights: URL? = nil) throws -> Model {
        let file = url.relativePath
        var payload: KerasPayload
        let configJSON: KerasJSON
        var lines: [String] = []
        var archiveWeights: Data?
        var fullModelFile: HDF5File?
        if url.pathExtension.lowercased() == "keras" {
            let contents = try KerasArchive.read(url, needWeights: weights == nil)
            configJSON = try KerasJSON.parse(contents.config, file: file, what: KerasArchive.configMember)
            let metadata = contents.metadata.flatMap { try? KerasJSON.parse($0, file: file, what: KerasArchive.metadataMember) }
            payload = KerasPayload(source: "keras", config: contents.config, kerasVersion: metadata?["keras_version"]?.stringValue)
            archiveWeights = contents.weights
            lines.append("read a Keras \(payload.kerasVersion ?? "3") archive (.keras)")
        } else {
            let h5 = try HDF5File(reading: url)
            guard h5.hasAttribute("model_config") else {
                throw ModelIOError(.notFound, file: file, location: "model_config",
                                   "no 'model_config' attribute, so this is not a Keras full model; a weights-only file (Keras weights or a PyTorch state dict) needs its architecture (--arch)")
            }
            let text = try h5.stringAttribute("model_config")
            configJSON = try KerasJSON.parse(text, file: file, what: "model_config")
            payload = KerasPayload(source: "h5", config: text, kerasVersion: try? h5.stringAttribute("keras_version"),
                                   backend: try? h5.stringAttribute("backend"),
                                   trainingConfig: try? h5.stringAttribute("training_config"))
            fullModelFile = h5
            lines.append("read a Keras \(payload.kerasVersion ?? "") legacy HDF5 full model (.h5)" + (payload.backend.map { ", backend \($0)" } ?? ""))
        }
        let config = try KerasModelConfig.parse(configJSON, file: file,
                                                location: payload.source == "keras" ? KerasArchive.configMember : "model_config")
        // A .keras archive is Keras 3 even when its metadata is missing.
        let built = try KerasGraphBuilder.build(config, file: file,
                                                kerasVersion: payload.kerasVersion ?? (payload.source == "keras" ? "3" : nil))

        // Weights: the separate file if given, else the model file's own.
        if let weights {
            let wfile = weights.relativePath
            let h5 = try HDF5File(reading: weights)
            try readWeights(h5, file: wfile, config: config, built: built, payload: &payload, lines: &lines)
            lines.insert("architecture from \(file), weights from \(wfile)", at: 1)
        } else if let h5 = fullModelFile {
            try readWeights(h5, file: file, config: config, built: built, payload: &payload, lines: &lines)
        } else if let data = archiveWeights {
            let label = file + "/" + KerasArchive.weightsMember
            let h5 = try HDF5File(image: data, name: label)
            try readWeights(h5, file: label, config: config, built: built, payload: &payload, lines: &lines)
        }

        let model = Model(graph: built.graph, format: payload.source == "keras" ? .kerasArchive : .kerasH5,
                          architectureName: config.name, inputLayout: .nhwc, spec: built.spec,
                          file: weights?.relativePath ?? file)
        model.softmaxSplitOff = built.softmaxSplitFrom != nil
        model.conversions = lines + KerasConversions.describe(built)
        model.formatPayload[KerasPayload.key] = payload.encoded()
        return model
    }

    /// Whether `url` holds a Keras full model: a `.keras` archive, or HDF5 with `model_config`.
    public static func isKerasModel(_ url: URL) -> Bool {
        if url.pathExtension.lowercased() == "keras" { return FileManager.default.fileExists(atPath: url.path) }
        guard let h5 = try? HDF5File(reading: url) else { return false }
        return h5.hasAttribute("model_config")
    }

    /// Reads weights in whichever layout `h5` uses.
    private static func readWeights(_ h5: HDF5File, file: String, config: KerasModelConfig, built: KerasBuiltModel,
                                     payload: inout KerasPayload, lines: inout [String]) throws {
        let legacyRoot: String?
        if h5.hasAttribute("layer_names", at: "/") {
            legacyRoot = "/"
        } else if h5.kind(of: "model_weights") == .group {
            legacyRoot = "model_weights"
        } else {
            legacyRoot = nil
        }
        if let root = legacyRoot {
            let names = try KerasWeightReader.readLegacy(h5, root: root, model: config, weighted: built.weighted,
                                                         graph: built.graph, file: file)
            payload.legacyLayerNames = names.layerNames
            payload.legacyWeightNames = names.weightNames
            if names.byPosition {
                lines.append("weights paired with layers by position, as Keras does: the weight file's layer names differ from the config's")
            }
            if h5.kind(of: "optimizer_weights") != nil { lines.append("optimizer state in the file ignored") }
        } else {
            try KerasWeightReader.readKeras3(h5, model: config, weighted: built.weighted, graph: built.graph, file: file)
            if h5.kind(of: "optimizer") != nil { lines.append("optimizer state in the file ignored") }
        }
    }
}

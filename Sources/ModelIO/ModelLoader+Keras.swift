import Foundation
import ModelCore
import HDF5
import Keras

extension ModelLoader {
    /// The Keras routes of `load`, or nil when the file is not for the Keras importer:
    /// - `.keras`: a Keras 3 archive (it carries its own architecture; `arch` is not used);
    /// - `.h5`/`.hdf5` with `arch` naming a Keras model file (`.keras`, or `.h5` with
    ///   `model_config`): a weights file (Keras 3 `.weights.h5` or legacy `save_weights`) for it;
    /// - `.h5`/`.hdf5` with a `model_config` root attribute: a Keras full model;
    /// - `.h5`/`.hdf5` in a Keras weights layout with a preset/spec `arch`: loaded by layer name
    ///   (`KerasImport.loadWeights`);
    /// - `.h5`/`.hdf5` without `arch`: tried as a Keras full model, so a non-Keras file gets
    ///   the importer's one-line error (not HDF5, truncated, or "needs --arch").
    /// Any other `.h5` with `arch` is left to the state-dict reader.
    static func loadKeras(_ url: URL, arch: String?) throws -> Model? {
        switch url.pathExtension.lowercased() {
        case "keras":
            return try KerasImport.load(url)
        case "h5", "hdf5":
            guard let arch else { return try KerasImport.load(url) }
            let archURL = URL(fileURLWithPath: arch)
            if ["keras", "h5", "hdf5"].contains(archURL.pathExtension.lowercased()), KerasImport.isKerasModel(archURL) {
                return try KerasImport.load(archURL, weights: url)
            }
            if KerasImport.isKerasModel(url) { return try KerasImport.load(url) }
            guard isKerasWeights(url) else { return nil }
            let (spec, origin) = try architecture(arch)
            let graph = try GraphBuilder.build(spec, origin: origin)
            let layout = spec.inputLayout.flatMap(DataLayout.init(rawValue:)) ?? .nchw
            let model = Model(graph: graph, format: .kerasWeights, architectureName: arch, inputLayout: layout,
                              spec: spec, file: url.relativePath)
            try KerasImport.loadWeights(url, into: model)
            model.conversions = ["Keras weights loaded into the spec by layer name: Conv2D kernels HWIO → OIHW, Dense kernels [in, out] → [out, in] (after a Flatten of an image: rows from Keras' (h, w, c) to (c, h, w) order), BatchNormalization gamma/beta/moving_mean/moving_variance → weight/bias/running_mean/running_var; epsilon, padding and input layout are the spec's"]
                + GraphBuilder.conversions(spec)
            return model
        default:
            return nil
        }
    }

    /// A Keras weights layout: `layer_names` at the root (legacy `save_weights`), or Keras 3's
    /// `layers/<class>/vars` groups.
    private static func isKerasWeights(_ url: URL) -> Bool {
        guard let h5 = try? HDF5File(reading: url) else { return false }
        if h5.hasAttribute("layer_names", at: "/") { return true }
        guard h5.kind(of: "layers") == .group, let first = try? h5.children(of: "layers").first else { return false }
        return h5.kind(of: "layers/\(first.name)/vars") == .group
    }
}

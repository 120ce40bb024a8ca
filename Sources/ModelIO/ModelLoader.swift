import Foundation
import NN
import Tensor
import ModelCore
import NumPy

/// Opens any model file the tool understands.
///
/// - `.npz`: a PyTorch state dict; needs `arch` (a preset name or a JSON spec path).
/// - `.safetensors`: a PyTorch state dict (`SafeTensors`); needs `arch`.
/// - `.h5`: a Keras full model when it has a `model_config` attribute, else a state dict
///   stored as HDF5 datasets named by key (needs `arch`).
/// - `.keras`: a Keras 3 archive.
/// - `.onnx`: an ONNX model (Sources/ONNX, registered through `ModelFormatRegistry`).
/// - no file, only `arch`: the architecture with fresh weights.
public enum ModelLoader {
    /// Resolves `arch` (preset name or path to a JSON spec) to a spec and a display name.
    /// `inputSize` sets a size-agnostic preset's input (torchvision; `Presets.spec`).
    public static func architecture(_ arch: String, classes: Int = 10, inputSize: Int? = nil) throws -> (spec: ArchitectureSpec, origin: String) {
        if let spec = try Presets.spec(named: arch, classes: classes, inputSize: inputSize) { return (spec, arch) }
        if let inputSize {
            throw ModelIOError(.unsupported, file: arch, "an input size (\(inputSize)) applies to presets only; a spec file gives its own input_shape")
        }
        let url = URL(fileURLWithPath: arch)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ModelIOError(.notFound, file: arch,
                               "not a preset (\(Presets.names.joined(separator: ", "))) and no such spec file")
        }
        return (try ArchitectureSpec.load(url), arch)
    }

    /// A model with the architecture `arch` and zero weights (callers initialise); `classes`
    /// sets a preset's class count.
    public static func fresh(arch: String, classes: Int = 10, inputSize: Int? = nil) throws -> Model {
        let (spec, origin) = try architecture(arch, classes: classes, inputSize: inputSize)
        let graph = try GraphBuilder.build(spec, origin: origin)
        let layout = spec.inputLayout.flatMap(DataLayout.init(rawValue:)) ?? .nchw
        let model = Model(graph: graph, format: .architectureOnly, architectureName: arch, inputLayout: layout, spec: spec)
        model.conversions = GraphBuilder.conversions(spec)
        return model
    }

    /// Loads the model at `path`, using `arch` where the file holds weights only. `inputShape`
    /// (`--input-shape`) is for formats whose input dimensions may be symbolic (ONNX). Weights
    /// that are NaN or infinite are an error naming the key (`NonFinite`) unless `NonFinite.allowed`.
    public static func load(_ path: String, arch: String? = nil, inputShape: [Int]? = nil) throws -> Model {
        let model = try loadFile(path, arch: arch, inputShape: inputShape)
        try NonFinite.check(model)
        return model
    }

    static func loadFile(_ path: String, arch: String?, inputShape: [Int]?) throws -> Model {
        let url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: path) else { throw InputFile.notFound(path: path) }
        // Formats registered by targets above ModelIO (ModelLoader+Formats.swift), e.g. `.onnx`.
        if let loader = ModelFormatRegistry.loader(for: url.pathExtension) { return try loader(path, arch, inputShape) }
        if let inputShape {
            throw ModelIOError(.unsupported, file: path, "--input-shape \(inputShape.map(String.init).joined(separator: ",")) applies to ONNX models only; this file's input shape comes from its architecture")
        }
        // Keras files first (ModelLoader+Keras.swift): .keras, .h5 full models, and
        // Keras weight files whose --arch is a Keras model.
        if let m = try loadKeras(url, arch: arch) { return m }
        switch url.pathExtension.lowercased() {
        case "npz":
            guard let arch else {
                throw ModelIOError(.mismatch, file: path, "a state dict holds weights only: give its architecture with --arch (a preset such as heo2019-resnet26, or a JSON spec; `bss presets` lists them)")
            }
            let entries = try Npz.read(url)
            return try fromStateDict(StateDict(entries: entries), arch: arch, file: path, format: .stateDictNPZ)
        case "safetensors":
            return try loadSafeTensors(url, path: path, arch: arch)
        case "h5", "hdf5":
            // A state dict stored as HDF5 datasets (StateDictHDF5.swift). Keras full models
            // (a `model_config` root attribute) must be claimed before this point.
            return try loadStateDictHDF5(url, path: path, arch: arch)
        default:
            throw ModelIOError(.unsupported, file: path,
                               "unknown model file type '.\(url.pathExtension)'; expected .npz or .safetensors (state dict), .h5, .keras or .onnx")
        }
    }

    /// Builds `arch` and loads `stateDict` into it strictly. A preset takes its class count
    /// from the state dict's classifier weight (`[classes, features]`).
    public static func fromStateDict(_ stateDict: StateDict, arch: String, file: String, format: ModelFormat,
                                     inputSize: Int? = nil) throws -> Model {
        var classes = 10
        if let key = Presets.classifierWeightKey(of: arch),
           let w = stateDict.entries.first(where: { $0.key == key || $0.key == "module." + key }), w.array.shape.count == 2,
           w.array.shape[0] >= 1 {
            classes = w.array.shape[0]
        }
        let (spec, origin) = try architecture(arch, classes: classes, inputSize: inputSize)
        let graph = try GraphBuilder.build(spec, origin: origin)
        let layout = spec.inputLayout.flatMap(DataLayout.init(rawValue:)) ?? .nchw
        let model = Model(graph: graph, format: format, architectureName: arch, inputLayout: layout, spec: spec, file: file)
        try stateDict.load(into: model, file: file)
        model.conversions.append("none: PyTorch layouts (NCHW, OIHW, [out, in]) are the engine's own")
        model.conversions += GraphBuilder.conversions(spec)
        return model
    }
}

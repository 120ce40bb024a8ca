import Foundation
import NN
import ModelCore
import NumPy
import SafeTensors
import Keras

/// Writes a model in the format its file name asks for, from any source format.
///
/// | extension | model from Keras (`.h5`/`.keras`) | model from a preset, spec or state dict |
/// |---|---|---|
/// | `.npz` | PyTorch state dict + architecture spec (`.json`) | PyTorch state dict |
/// | `.safetensors` | the same, as safetensors (`SafeTensors`) | PyTorch state dict, as safetensors |
/// | `.h5`, `.hdf5` | Keras full model (`KerasExport`) | HDF5 state dict (`StateDictHDF5`) |
/// | `.keras` | Keras 3 archive (`KerasExport`) | Keras 3 archive with a generated config (`KerasConfigGenerator`) |
/// | `.onnx` (registered, `ModelWriterRegistry`) | ONNX model, opset 17 (Sources/ONNX) | the same |
///
/// `as: .stateDict` writes a Keras model's weights as an HDF5 state dict instead of a Keras
/// file; `as: .keras` writes a non-Keras model to `.h5` as a Keras full model. A generated
/// Keras config covers chain-like graphs of Dense/Conv2D/BatchNorm/activations/pooling/Flatten/
/// Dropout/Add/ZeroPadding; other graphs (e.g. the CIFAR ResNets' option-A shortcut) are refused.
///
/// State dicts list every parameter and buffer under its PyTorch key, `num_batches_tracked`
/// included (`StateDict(model:)`), so `load_state_dict(strict=True)` accepts them for the
/// matching PyTorch module. A state dict holds weights only, so for a model that was not built
/// from a spec (a Keras import) the architecture is written too, as a spec (`ArchitectureSpec.of`,
/// `input_layout: "nhwc"` for Keras models) to `specURL` or, by default, the output path with
/// the extension `.json`; the pair loads back with `--arch <that .json>`. Passing `specURL`
/// writes the spec for any model. A `.safetensors` file gets `__metadata__`: the one of the file
/// the model was read from, if any, plus `format: pt` when it names no format.
///
/// Nothing is written unless everything can be: every check (extension, spec derivation,
/// string-free state dict) runs before the first byte, each file goes to a temporary file next
/// to its target and is renamed into place when complete (`AtomicFile`).
public enum ModelWriter {
    /// What kind of file to write where the extension leaves a choice (`.h5`).
    public enum Target: String, Sendable, CaseIterable {
        case stateDict = "state-dict"
        case keras
    }

    /// What `write` did, for the CLI to print.
    public struct Report: Sendable {
        /// Each file written, with what it holds: `(path, description)`.
        public var files: [(path: String, what: String)] = []
        /// Conversions between the model's source conventions and the written format.
        public var conversions: [String] = []
        public init() {}
    }

    /// Writes `model` to `url` (see the type's table); returns what was written.
    @discardableResult
    public static func write(_ model: Model, to url: URL, specURL: URL? = nil, as target: Target? = nil) throws -> Report {
        let ext = url.pathExtension.lowercased()
        let fromKeras = model.format == .kerasH5 || model.format == .kerasArchive
        // Formats written above ModelIO (`.onnx`: Sources/ONNX) carry their own architecture.
        if let registered = ModelWriterRegistry.writer(for: ext) {
            if specURL != nil {
                throw ModelIOError(.mismatch, file: url.relativePath, "a .\(ext) file carries its own architecture; --spec-out applies to state dicts only")
            }
            if let target {
                throw ModelIOError(.mismatch, file: url.relativePath, "--to \(target.rawValue) does not apply to .\(ext) files")
            }
            // `write` builds the whole file (and so refuses an inexpressible model) before its first byte.
            return try registered.write(model, url)
        }
        switch ext {
        case "npz":
            if target == .keras {
                throw ModelIOError(.unsupported, file: url.relativePath, "a .npz file holds a state dict; write a Keras model to .h5 or .keras")
            }
            return try writeStateDict(model, to: url, container: .npz, specURL: specURL, fromKeras: fromKeras)
        case "safetensors":
            if target == .keras {
                throw ModelIOError(.unsupported, file: url.relativePath, "a .safetensors file holds a state dict; write a Keras model to .h5 or .keras")
            }
            return try writeStateDict(model, to: url, container: .safeTensors, specURL: specURL, fromKeras: fromKeras)
        case "h5", "hdf5":
            if target == .stateDict || (target == nil && !fromKeras) {
                return try writeStateDict(model, to: url, container: .hdf5, specURL: specURL, fromKeras: fromKeras)
            }
            return try writeKeras(model, to: url, specURL: specURL, fromKeras: fromKeras)
        case "keras":
            if target == .stateDict {
                throw ModelIOError(.unsupported, file: url.relativePath, "a .keras file is a Keras model; write a state dict to .npz, .safetensors or .h5")
            }
            return try writeKeras(model, to: url, specURL: specURL, fromKeras: fromKeras)
        default:
            throw ModelIOError(.unsupported, file: url.relativePath,
                               "cannot write '.\(url.pathExtension)' files; expected .npz, .safetensors or .h5 (state dict), or .h5/.keras (Keras model)\(ModelWriterRegistry.writer(for: "onnx") == nil ? "" : ", or .onnx")")
        }
    }

    /// `out` with the extension `.json`: where the spec of a state dict goes by default.
    public static func defaultSpecURL(for url: URL) -> URL {
        url.deletingPathExtension().appendingPathExtension("json")
    }

    // MARK: - State dicts

    /// The file formats a state dict is written in.
    private enum Container: String {
        case npz, hdf5 = "HDF5", safeTensors = "safetensors"
    }

    private static func writeStateDict(_ model: Model, to url: URL, container: Container, specURL: URL?,
                                       fromKeras: Bool) throws -> Report {
        var report = Report()
        var stateDict = StateDict(model: model)
        let kept = SafeTensors.metadata(of: model)
        if container == .safeTensors { stateDict.metadata = SafeTensors.metadataForWriting(kept) }
        // Plan the spec before writing anything: deriving it may fail (a layer with no spec type).
        var specData: Data?
        var specTarget: URL?
        // An ONNX import's spec exists only in memory (derived at import): write it too.
        if specURL != nil || model.spec == nil || fromKeras || model.format == .onnx {
            let target = specURL ?? defaultSpecURL(for: url)
            guard target.standardizedFileURL != url.standardizedFileURL else {
                throw ModelIOError(.mismatch, file: url.relativePath, "the spec would overwrite the state dict; give another --spec-out path")
            }
            let spec = try ArchitectureSpec.of(model)
            do { specData = try spec.jsonData() } catch {
                throw ModelIOError(.io, file: target.relativePath, "cannot encode the architecture spec: \(error)")
            }
            specTarget = target
        }
        let arrays = stateDict.entries.count
        let bn = stateDict.entries.filter { $0.key.hasSuffix(".num_batches_tracked") }.count
        let what = "PyTorch state dict (\(container.rawValue)): \(arrays) arrays, float32"
            + (bn > 0 ? ", \(bn) num_batches_tracked as 0-d int64" : "")
        // The spec is renamed into place inside the weights' atomic write, so a failure in
        // either leaves the weights untouched.
        try AtomicFile.write(to: url) { temporary in
            switch container {
            case .npz: try Npz.write(stateDict.entries, to: temporary)
            case .hdf5: try StateDictHDF5.write(stateDict, to: temporary)
            case .safeTensors: try SafeTensors.write(stateDict.entries, metadata: stateDict.metadata, to: temporary)
            }
            if let specData, let specTarget {
                try AtomicFile.write(to: specTarget) { specTemporary in
                    do { try specData.write(to: specTemporary) } catch {
                        throw ModelIOError(.io, file: specTarget.relativePath, "cannot write: \(error.localizedDescription)")
                    }
                }
            }
        }
        report.files.append((url.relativePath, what))
        if let specTarget {
            report.files.append((specTarget.relativePath, "architecture spec (load the weights with --arch \(specTarget.relativePath))"))
        }
        if fromKeras {
            report.conversions += model.conversions.map { "on import (Keras → engine/PyTorch conventions): " + $0 }
            report.conversions.append("inputs stay NHWC: the spec records input_layout \"nhwc\" so data files are read as the Keras model reads them; the graph is the engine's (NCHW, plain flatten), so Dense weights after a Flatten are in PyTorch's (c, h, w) column order")
            if model.softmaxSplitOff {
                report.conversions.append("the Keras model's final softmax is not stored: the written model outputs logits")
            }
        } else if [.stateDictNPZ, .stateDictHDF5, .stateDictSafeTensors].contains(model.format) {
            report.conversions.append("none: the state dict was loaded strictly into '\(model.architectureName)' and written back under the same keys")
        }
        if let metadata = stateDict.metadata {
            report.conversions.append("safetensors __metadata__: " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
                                      + (kept.map { " (\($0.count) kept from \(model.file ?? "the input")\($0["format"] == nil ? ", format=pt added" : ""))" } ?? ""))
        } else if let kept, !kept.isEmpty {
            report.conversions.append("the input's safetensors __metadata__ (\(kept.count) entr\(kept.count == 1 ? "y" : "ies")) is not written: .\(url.pathExtension) has no place for it")
        }
        return report
    }

    // MARK: - Keras

    private static func writeKeras(_ model: Model, to url: URL, specURL: URL?, fromKeras: Bool) throws -> Report {
        if specURL != nil {
            throw ModelIOError(.mismatch, file: url.relativePath, "a Keras file carries its own architecture; --spec-out applies to state dicts only")
        }
        var report = Report()
        guard fromKeras else {
            // No Keras config to keep: generate one (chain-like graphs), checked to reproduce the model.
            let twin = try KerasConfigGenerator.kerasTwin(of: model, file: url.relativePath)
            try KerasExport.write(twin, to: url)
            report.files.append((url.relativePath, (url.pathExtension.lowercased() == "keras" ? "Keras 3 archive" : "Keras full model (HDF5)")
                                 + " with a generated Functional config"))
            report.conversions.append("generated a Keras config from the graph; the Keras model takes channels-last input (H, W, C) — transpose NCHW data to NHWC for Keras")
            report.conversions.append("engine layouts → Keras: Conv2D kernels OIHW → HWIO, Dense [out, in] → [in, out], BatchNorm momentum m → 1 − m (epsilon kept)")
            if model.graph.nodes.indices.contains(where: { KerasFlattenOrder.columns(forLinear: $0, in: model.graph) != nil }) {
                report.conversions.append("Flatten → Keras Flatten: the following Dense kernels' rows permuted from (c, h, w) to Keras' (h, w, c) order")
            }
            return report
        }
        try KerasExport.write(model, to: url)
        report.files.append((url.relativePath, url.pathExtension.lowercased() == "keras" ? "Keras 3 archive" : "Keras full model (HDF5)"))
        report.conversions.append("engine layouts → Keras (HWIO conv kernels, [in, out] dense kernels with rows after a Flatten back in Keras' (h, w, c) order, Keras BatchNorm momentum); the Keras configuration as read, so the file takes NHWC input and ends in its own softmax again")
        return report
    }
}

import Foundation
import NN
import Tensor

/// Memory layout of input data as a framework stores it.
public enum DataLayout: String, Sendable, CaseIterable {
    /// Channels first (PyTorch, and our engine).
    case nchw
    /// Channels last (Keras, TensorFlow).
    case nhwc
}

/// Where a model's weights came from; decides how it is written back.
public enum ModelFormat: String, Sendable {
    /// PyTorch `state_dict` saved with `numpy.savez`.
    case stateDictNPZ = "PyTorch state dict (.npz)"
    /// PyTorch `state_dict` saved with `safetensors.torch.save_file`.
    case stateDictSafeTensors = "PyTorch state dict (.safetensors)"
    /// PyTorch `state_dict` saved as HDF5 datasets named by key.
    case stateDictHDF5 = "PyTorch state dict (.h5)"
    /// Keras full model, legacy HDF5 (`model.save("m.h5")`).
    case kerasH5 = "Keras model (.h5)"
    /// Keras 3 archive (`model.save("m.keras")`).
    case kerasArchive = "Keras model (.keras)"
    /// Keras weights only (`.weights.h5` or legacy `save_weights`) loaded into a spec by layer name.
    case kerasWeights = "Keras weights with an architecture spec"
    /// ONNX model (`torch.onnx.export`, ...), read by Sources/ONNX.
    case onnx = "ONNX model (.onnx)"
    /// Built from a preset or spec with fresh weights.
    case architectureOnly = "architecture (fresh weights)"
}

/// A model we hold: its graph plus everything needed to explain it (`inspect`) and to write
/// it back in its own format.
public final class Model {
    public let graph: Graph
    /// The spec it was built from (presets and JSON specs; Keras imports record their own).
    public var spec: ArchitectureSpec?
    public var format: ModelFormat
    /// The file it was read from, if any.
    public var file: String?
    /// Preset name, spec path or the Keras model's name.
    public var architectureName: String
    /// The layout data for this model is stored in by its framework (NHWC for Keras).
    public var inputLayout: DataLayout
    /// Each layout/convention conversion applied on import, in order, for `inspect`.
    public var conversions: [String] = []
    /// True when the source model ended in a softmax that was split off: `graph` gives
    /// logits and probabilities are `softmax(logits)`.
    public var softmaxSplitOff = false
    /// State-dict key per graph parameter key (`node.param`), where a spec overrides it.
    public var keyOverrides: [String: String] = [:]
    /// Opaque data a format keeps for writing the model back (e.g. the Keras config JSON).
    public var formatPayload: [String: String] = [:]

    public init(graph: Graph, format: ModelFormat, architectureName: String, inputLayout: DataLayout = .nchw,
                spec: ArchitectureSpec? = nil, file: String? = nil) {
        self.graph = graph; self.format = format; self.architectureName = architectureName
        self.inputLayout = inputLayout; self.spec = spec; self.file = file
        if let spec {
            for l in spec.layers { for (p, k) in l.keys ?? [:] { keyOverrides[l.name + "." + p] = k } }
        }
    }

    /// Number of classes (length of the logit vector).
    public var classes: Int { graph.outputShape.reduce(1, *) }

    /// Every parameter and buffer under its state-dict key, in graph order.
    public func stateDictParameters() -> [(key: String, parameter: Parameter)] {
        graph.namedParameters().map { (key: keyOverrides[$0.key] ?? $0.key, parameter: $0.parameter) }
    }

    /// BatchNorm layers with the key prefix of their `num_batches_tracked` entry.
    public func batchNormLayers() -> [(prefix: String, layer: BatchNorm)] {
        graph.nodes.compactMap { node in
            guard let bn = node.layer as? BatchNorm else { return nil }
            let weightKey = keyOverrides[node.name + ".weight"] ?? node.name + ".weight"
            return (prefix: String(weightKey.dropLast(".weight".count)), layer: bn)
        }
    }
}

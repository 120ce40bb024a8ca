import Foundation
import NN
import Tensor

/// A PyTorch `state_dict`: an ordered map from keys (`layer1.0.conv1.weight`) to arrays.
///
/// Loading is strict, as `load_state_dict(strict=True)`: every missing key, unexpected key and
/// shape mismatch is listed in one error. `num_batches_tracked` entries are accepted (and
/// restored into BatchNorm layers) but never required; a `module.` prefix left by
/// `DataParallel` is stripped.
public struct StateDict {
    public var entries: [(key: String, array: NumpyArray)]
    /// A `.safetensors` file's `__metadata__` (nil for formats without one), kept for writing back.
    public var metadata: [String: String]?
    /// What reading changed in the stored arrays (e.g. bfloat16 widened to float32); empty when
    /// the arrays are exactly as stored.
    public var readConversions: [String] = []

    public init(entries: [(key: String, array: NumpyArray)], metadata: [String: String]? = nil) {
        self.entries = entries
        self.metadata = metadata
    }

    /// Copies the arrays into `model`'s parameters, checking keys and shapes.
    public func load(into model: Model, file: String) throws {
        var byKey: [String: NumpyArray] = [:]
        var order: [String] = []
        let strip = entries.allSatisfy { $0.key.hasPrefix("module.") }
        for (k, a) in entries {
            let key = strip ? String(k.dropFirst("module.".count)) : k
            byKey[key] = a
            order.append(key)
        }
        var missing: [String] = [], mismatched: [String] = [], used = Set<String>()
        for (key, p) in model.stateDictParameters() {
            guard let a = byKey[key] else { missing.append(key); continue }
            used.insert(key)
            guard a.shape == p.value.shape else {
                mismatched.append("\(key) has shape \(a.shape), the architecture expects \(p.value.shape)")
                continue
            }
            p.value = Tensor(shape: p.value.shape, data: try a.floats(file: file, key: key))
        }
        for (prefix, bn) in model.batchNormLayers() {
            let key = prefix + ".num_batches_tracked"
            if let a = byKey[key] {
                used.insert(key)
                bn.numBatchesTracked = (try? a.int64s(file: file, key: key).first) ?? 0
            }
        }
        let unexpected = order.filter { !used.contains($0) }
        var problems: [String] = []
        if !missing.isEmpty { problems.append("missing keys: " + missing.joined(separator: ", ")) }
        if !unexpected.isEmpty { problems.append("unexpected keys: " + unexpected.joined(separator: ", ")) }
        if !mismatched.isEmpty { problems.append("shape mismatches: " + mismatched.joined(separator: "; ")) }
        if !problems.isEmpty {
            throw ModelIOError(.mismatch, file: file,
                               "state dict does not fit architecture '\(model.architectureName)': " + problems.joined(separator: "; "))
        }
    }

    /// The model's parameters and buffers as PyTorch's `state_dict()` would list them,
    /// including `num_batches_tracked` (0-d int64) after each BatchNorm's buffers.
    public init(model: Model) {
        var out: [(key: String, array: NumpyArray)] = []
        let bnPrefixes = Dictionary(uniqueKeysWithValues: model.batchNormLayers().map { ($0.prefix + ".running_var", $0.layer) })
        for (key, p) in model.stateDictParameters() {
            out.append((key, NumpyArray(p.value)))
            if let bn = bnPrefixes[key] {
                let prefix = String(key.dropLast(".running_var".count))
                out.append((prefix + ".num_batches_tracked", NumpyArray(int64s: [bn.numBatchesTracked], shape: [])))
            }
        }
        entries = out
    }
}

import Foundation
import ModelCore
import HDF5

/// A PyTorch `state_dict` stored as HDF5: one dataset per key at the root, named by the key
/// verbatim (dots kept), exactly what h5py writes for
///
/// ```python
/// with h5py.File("w.h5", "w") as f:
///     for k, v in model.state_dict().items(): f[k] = v.numpy()
/// ```
///
/// Written files hold float32 parameters and buffers, `num_batches_tracked` as 0-d int64 (each
/// array keeps its own dtype), and two root attributes: `format = "pytorch-state-dict"` and
/// `keys` = the keys in state-dict order (HDF5 lists datasets by name, so without it the order
/// would be lost and `.npz → .h5 → .npz` would not be byte-identical). A key containing `/`
/// becomes nested groups, as in h5py. Loading back in PyTorch:
///
/// ```python
/// with h5py.File("w.h5") as f:
///     sd = {k: torch.from_numpy(f[k][()]) for k in f.attrs["keys"]}   # or: for k in f
/// model.load_state_dict(sd, strict=True)
/// ```
///
/// Reading accepts any HDF5 file of numeric datasets: with a `keys` attribute naming every
/// dataset, in that order; otherwise every dataset found walking the groups in name order,
/// its key the group path joined with `.` (`layer1/0/conv1/weight` → `layer1.0.conv1.weight`).
public enum StateDictHDF5 {
    public static let formatAttribute = "format"
    public static let formatValue = "pytorch-state-dict"
    public static let keysAttribute = "keys"

    /// Reads every dataset of the file as a state-dict entry.
    public static func read(_ url: URL) throws -> StateDict {
        let file = try HDF5File(reading: url)
        defer { try? file.close() }
        try refuseKeras(file)
        let datasets = try file.descendants().filter { $0.kind == .dataset }.map(\.name)
        guard !datasets.isEmpty else {
            throw ModelIOError(.mismatch, file: file.name, "no datasets: an HDF5 state dict holds one dataset per key")
        }
        var entries: [(key: String, array: NumpyArray)] = []
        if let keys = try storedKeys(file), Set(keys) == Set(datasets), keys.count == datasets.count {
            for key in keys { entries.append((key, try file.readArray(key))) }
        } else {
            for path in datasets {
                entries.append((path.split(separator: "/").joined(separator: "."), try file.readArray(path)))
            }
        }
        return StateDict(entries: entries)
    }

    /// Writes `stateDict` atomically (a temporary file next to `url`, renamed into place).
    /// Keys must be usable as HDF5 paths: non-empty, no empty, `.` or `..` component.
    public static func write(_ stateDict: StateDict, to url: URL) throws {
        var seen = Set<String>()
        for (key, array) in stateDict.entries {
            let components = key.split(separator: "/", omittingEmptySubsequences: false)
            guard !key.isEmpty, components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
                throw ModelIOError(.unsupported, file: url.path, location: key,
                                   "this key cannot name an HDF5 dataset (empty, or an empty, '.' or '..' path component)")
            }
            guard seen.insert(key).inserted else {
                throw ModelIOError(.mismatch, file: url.path, location: key, "the key occurs more than once")
            }
            if case .unicode = array.dtype {
                throw ModelIOError(.unsupported, file: url.path, location: key, "a string array cannot be a state-dict entry")
            }
        }
        // A key that is a prefix group of another ("a" and "a/b") cannot both be datasets.
        for key in seen {
            var prefix = ""
            for component in key.split(separator: "/").dropLast() {
                prefix += (prefix.isEmpty ? "" : "/") + component
                if seen.contains(prefix) {
                    throw ModelIOError(.unsupported, file: url.path, location: key,
                                       "'\(prefix)' is both a key and a group of this key; HDF5 cannot hold both")
                }
            }
        }
        try AtomicFile.write(to: url) { temporary in
            let file = try HDF5File(creating: temporary)
            do {
                for (key, array) in stateDict.entries { try file.write(array: array, to: key) }
                try file.setAttribute(formatAttribute, string: formatValue)
                try file.setAttribute(keysAttribute, strings: stateDict.entries.map(\.key), form: .variableUTF8)
                try file.close()
            } catch let error as ModelIOError {
                try? file.close()
                // Errors name the temporary file; the user knows the target.
                throw ModelIOError(error.kind, file: url.path, location: error.location, error.message)
            }
        }
    }

    /// Whether the HDF5 file at `url` is a Keras full model (`model_config` root attribute).
    public static func isKerasModel(_ url: URL) -> Bool {
        guard let file = try? HDF5File(reading: url) else { return false }
        defer { try? file.close() }
        return file.hasAttribute("model_config")
    }

    // MARK: - Details

    /// The `keys` attribute, or nil when absent or unreadable (then datasets are walked).
    private static func storedKeys(_ file: HDF5File) throws -> [String]? {
        guard file.hasAttribute(keysAttribute) || file.hasAttribute(keysAttribute + "0") else { return nil }
        return try? file.stringArrayAttribute(keysAttribute)
    }

    /// Keras files read as state dicts would fail with a list of odd keys; say what they are.
    private static func refuseKeras(_ file: HDF5File) throws {
        if file.hasAttribute("model_config") {
            throw ModelIOError(.unsupported, file: file.name,
                               "a Keras full model (it has a model_config attribute), not a PyTorch state dict")
        }
        // Keras 2 / legacy weights: `layer_names` at the root or in `model_weights`; Keras 3
        // `.weights.h5`: `layers/<name>/vars/<i>`.
        let keras3 = file.kind(of: "layers") == .group
            && ((try? file.descendants(of: "layers"))?.contains { $0.name.split(separator: "/").contains("vars") } ?? false)
        if file.hasAttribute("layer_names") || file.kind(of: "model_weights") == .group || keras3 {
            throw ModelIOError(.unsupported, file: file.name,
                               "Keras weights, not a PyTorch state dict: give --arch the Keras model (.keras or .h5) they belong to")
        }
    }
}

extension ModelLoader {
    /// A PyTorch state dict in HDF5 (`.h5` without a `model_config` attribute), loaded into
    /// the architecture `arch` strictly.
    static func loadStateDictHDF5(_ url: URL, path: String, arch: String?) throws -> Model {
        guard let arch else {
            throw ModelIOError(.mismatch, file: path, "an HDF5 state dict holds weights only: give its architecture with --arch (a preset such as heo2019-resnet26, or a JSON spec)")
        }
        return try fromStateDict(try StateDictHDF5.read(url), arch: arch, file: path, format: .stateDictHDF5)
    }
}

import Foundation
import ModelCore
import NumPy
import SafeTensors

extension StateDict {
    /// Whether `url` names a state-dict file by itself: `.npz`, `.safetensors`, or `.h5`/`.hdf5`
    /// without the `model_config` attribute of a Keras full model.
    public static func isStateDictFile(_ url: URL) -> Bool {
        switch url.pathExtension.lowercased() {
        case "npz", "safetensors": return true
        case "h5", "hdf5": return !StateDictHDF5.isKerasModel(url)
        default: return false
        }
    }

    /// Reads a state dict from `.npz`, `.safetensors` or `.h5` as it is stored (keys, shapes,
    /// dtypes; safetensors types numpy lacks are widened, see `readConversions`), with no
    /// architecture to check it against.
    public static func read(from url: URL) throws -> StateDict {
        switch url.pathExtension.lowercased() {
        case "npz": return StateDict(entries: try Npz.read(url))
        case "safetensors": return StateDict(safeTensors: try SafeTensors.read(url))
        case "h5", "hdf5": return try StateDictHDF5.read(url)
        default:
            throw ModelIOError(.unsupported, file: url.path, "not a state-dict file; expected .npz, .safetensors or .h5")
        }
    }

    /// Writes the entries unchanged to `.npz`, `.safetensors` (with `metadata`) or `.h5`
    /// (atomically).
    public func write(to url: URL) throws {
        switch url.pathExtension.lowercased() {
        case "npz": try Npz.write(entries, to: url)
        case "safetensors": try SafeTensors.write(entries, metadata: metadata, to: url)
        case "h5", "hdf5": try StateDictHDF5.write(self, to: url)
        default:
            throw ModelIOError(.unsupported, file: url.path, "a state dict is written to .npz, .safetensors or .h5, not '.\(url.pathExtension)'")
        }
    }
}

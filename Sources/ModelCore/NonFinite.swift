import Foundation
import Tensor

/// Refuses NaN and ±infinity in weights and inputs when they are read.
///
/// One NaN in a weight makes every prediction NaN; one in an input poisons a batch's loss. Such
/// files are nearly always damaged, so loading them is an error that names the file, the key
/// (state-dict key, or `x` for inputs) and where the first bad value is. `ModelLoader.load`
/// checks every parameter and buffer of the model it returns (after conversion to float32, so
/// a float64 value beyond float32's range counts as infinite); `DataLoader.read` checks the
/// inputs `x`. Set `allowed` (the CLI's `--allow-nonfinite`) to read them anyway. Thread-safe.
public enum NonFinite {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var allow = false

    /// Whether non-finite values are let through (default false).
    public static var allowed: Bool {
        get { lock.lock(); defer { lock.unlock() }; return allow }
        set { lock.lock(); defer { lock.unlock() }; allow = newValue }
    }

    /// The hint appended to errors when the check can be switched off.
    static let hint = "pass --allow-nonfinite to read it anyway"

    /// Count of non-finite values, the first one's index and whether it is a NaN.
    public static func scan(_ values: UnsafeBufferPointer<Float>) -> (count: Int, first: Int, firstIsNaN: Bool)? {
        var count = 0, first = -1
        // Finite floats have an exponent below all-ones; one integer compare per value.
        let exponent: UInt32 = 0x7F80_0000
        for i in values.indices where values[i].bitPattern & exponent == exponent {
            if first < 0 { first = i }
            count += 1
        }
        return count == 0 ? nil : (count, first, values[first].isNaN)
    }

    /// Throws `.mismatch` naming `file` and `key` when `tensor` holds a non-finite value.
    /// `what` describes the values ("the model's weights"); `sampleAxis` reports the first bad
    /// value's sample (axis 0) instead of its flat index.
    public static func check(_ tensor: Tensor, file: String, key: String, role: String, sampleAxis: Bool = false) throws {
        guard !allowed else { return }
        let found = tensor.data.withUnsafeBufferPointer { scan($0) }
        guard let (count, first, isNaN) = found else { return }
        let kind = isNaN ? "NaN" : "infinite"
        let position: String
        if sampleAxis, tensor.rank >= 1, tensor.shape[0] > 0 {
            let per = max(tensor.count / tensor.shape[0], 1)
            position = "sample \(first / per)"
        } else {
            position = "index \(first)"
        }
        throw ModelIOError(.mismatch, file: file, location: key,
                           "\(count) of \(tensor.count) values are not finite (the first, at \(position), is \(kind)); \(role) must be finite; \(hint)")
    }

    /// Every parameter and buffer of `model` is finite (unless `allowed`).
    public static func check(_ model: Model) throws {
        guard !allowed else { return }
        let file = model.file ?? model.architectureName
        for (key, p) in model.stateDictParameters() {
            try check(p.value, file: file, key: key, role: "weights")
        }
    }

    /// Every floating-point array of `stateDict` is finite (unless `allowed`), for copies that
    /// do not build a model.
    public static func check(_ stateDict: StateDict, file: String) throws {
        guard !allowed else { return }
        for (key, a) in stateDict.entries {
            switch a.dtype {
            case .float16, .float32, .float64: try check(try a.tensor(file: file, key: key), file: file, key: key, role: "weights")
            default: continue
            }
        }
    }
}

import Foundation

/// Model file formats read by targets above ModelIO (ONNX: Sources/ONNX), registered at start-up
/// so ModelIO never depends upward: `ModelLoader.load` dispatches to them by file extension.
public enum ModelFormatRegistry {
    /// Reads the model file at `path`; `arch` is the `--arch` value (nil when not given) and
    /// `inputShape` the `--input-shape` value, for files whose input dimensions are symbolic.
    public typealias Loader = @Sendable (_ path: String, _ arch: String?, _ inputShape: [Int]?) throws -> Model

    private static let lock = NSLock()
    nonisolated(unsafe) private static var loaders: [String: Loader] = [:]

    /// Registers `loader` for files ending in `.ext` (lowercase, without the dot).
    public static func register(extension ext: String, _ loader: @escaping Loader) {
        lock.lock(); defer { lock.unlock() }
        loaders[ext.lowercased()] = loader
    }

    static func loader(for ext: String) -> Loader? {
        lock.lock(); defer { lock.unlock() }
        return loaders[ext.lowercased()]
    }
}

import Foundation
import ModelCore

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

/// Model file formats written by targets above ModelIO (ONNX: Sources/ONNX), registered at
/// start-up like the loaders: `ModelWriter.write` and the distillation preflight dispatch to them
/// by the output's extension.
public enum ModelWriterRegistry {
    /// What a registered format provides: `check` refuses a model the format cannot express
    /// (before any training or writing starts); `write` writes it atomically and reports what
    /// it wrote (`check` has passed).
    public struct Entry: Sendable {
        public var check: @Sendable (_ model: Model, _ path: String) throws -> Void
        public var write: @Sendable (_ model: Model, _ url: URL) throws -> ModelWriter.Report
        public init(check: @escaping @Sendable (_ model: Model, _ path: String) throws -> Void,
                    write: @escaping @Sendable (_ model: Model, _ url: URL) throws -> ModelWriter.Report) {
            self.check = check; self.write = write
        }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var entries: [String: Entry] = [:]

    /// Registers a writer for files ending in `.ext` (lowercase, without the dot).
    public static func register(extension ext: String, _ entry: Entry) {
        lock.lock(); defer { lock.unlock() }
        entries[ext.lowercased()] = entry
    }

    /// The writer for `.ext` files, if one is registered.
    public static func writer(for ext: String) -> Entry? {
        lock.lock(); defer { lock.unlock() }
        return entries[ext.lowercased()]
    }
}

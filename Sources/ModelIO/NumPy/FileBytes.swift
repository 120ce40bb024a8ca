import Foundation

/// Reading a whole input file with the errors users need: a missing file is `.notFound`,
/// a directory or unreadable file is `.io` (Foundation's own errors are multi-line and vague).
enum FileBytes {
    static func read(_ url: URL) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ModelIOError(.notFound, file: url.path, "no such file")
        }
        guard !isDirectory.boolValue else {
            throw ModelIOError(.io, file: url.path, "expected a file, found a directory")
        }
        do {
            // Mapping avoids a second copy of large data sets; the decoders copy what they keep.
            return try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw ModelIOError(.io, file: url.path, "cannot read: \(error.localizedDescription)")
        }
    }
}

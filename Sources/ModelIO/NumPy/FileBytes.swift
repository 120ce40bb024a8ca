import Foundation

/// Reading a whole input file with the errors users need: a missing file is `.notFound`,
/// a directory, FIFO, device or unreadable file is `.io` (Foundation's own errors are
/// multi-line and vague, and opening a FIFO would block). See `InputFile`.
enum FileBytes {
    /// `name` labels the file in errors (default: its path).
    static func read(_ url: URL, name: String? = nil) throws -> Data {
        let label = name ?? url.path
        try InputFile.checkRegular(url, name: label)
        do {
            // Mapping avoids a second copy of large data sets; the decoders copy what they keep.
            return try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw ModelIOError(.io, file: label, "cannot read: \(error.localizedDescription)")
        }
    }
}

import Foundation

/// Reading a whole input file with the errors users need: a missing file is `.notFound`,
/// a directory, FIFO, device or unreadable file is `.io` (Foundation's own errors are
/// multi-line and vague, and opening a FIFO would block). See `InputFile`.
package enum FileBytes {
    /// `name` labels the file in errors (default: its path).
    package static func read(_ url: URL, name: String? = nil) throws -> Data {
        let label = name ?? url.path
        // Checked and read through one descriptor (InputFile.open), never mapped: a mapped
        // file truncated by someone else meanwhile would kill the process with SIGBUS.
        return try InputFile.readAll(url, name: label)
    }
}

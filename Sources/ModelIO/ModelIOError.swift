import Foundation

/// The one error type users see from reading and writing files.
///
/// Printed as a single line: `<file>: <location>: <message>`, where `location` is the key,
/// layer or path inside the file when there is one. Every reader and writer in ModelIO throws
/// this (never traps on bad input), so the CLI can print it and exit non-zero.
public struct ModelIOError: Error, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        /// The file, or a key/path inside it, does not exist.
        case notFound
        /// The bytes are not what the format says (truncated, bad header, bad CRC, ...).
        case malformed
        /// Well-formed but uses something we do not support (dtype, layer class, ...).
        case unsupported
        /// Values do not fit together (shape mismatch, missing/unexpected keys, ...).
        case mismatch
        /// The operating system refused a read or write.
        case io
    }

    public var kind: Kind
    /// The file the problem is in (as the user named it).
    public var file: String
    /// Key, layer name or path inside the file, if any.
    public var location: String?
    /// What was expected and what was found.
    public var message: String

    public init(_ kind: Kind, file: String, location: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.location = location
        self.message = message
    }

    public var description: String {
        [file, location, message].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
    }
}

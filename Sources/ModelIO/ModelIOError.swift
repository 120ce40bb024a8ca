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

    /// One line whatever the parts hold: control characters and line separators that came
    /// from the file (a quoted value, a key, a file name) are written as escapes (`\n`, `\u{2028}`).
    public var description: String {
        Self.oneLine([file, location, message].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": "))
    }

    /// `text` with control characters (C0, DEL, C1) and U+2028/U+2029 escaped.
    static func oneLine(_ text: String) -> String {
        func isBreaking(_ u: Unicode.Scalar) -> Bool {
            u.value < 0x20 || (0x7F...0x9F).contains(u.value) || u.value == 0x2028 || u.value == 0x2029
        }
        guard text.unicodeScalars.contains(where: isBreaking) else { return text }
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            guard isBreaking(u) else { out.append(u); continue }
            let escape: String
            switch u {
            case "\n": escape = "\\n"
            case "\r": escape = "\\r"
            case "\t": escape = "\\t"
            default: escape = "\\u{" + String(u.value, radix: 16) + "}"
            }
            out.append(contentsOf: escape.unicodeScalars)
        }
        return String(out)
    }
}

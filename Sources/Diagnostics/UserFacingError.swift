/// What kind of problem a user-facing error reports; the same kinds for every error type, so a
/// caller (or a script reading the CLI's exit) can tell bad input from a missing library.
public enum ErrorKind: String, Sendable {
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
    /// A flag or run-config value that is missing, impossible or contradicts another.
    case usage
    /// Something this machine lacks (a library such as OpenBLAS or Open MPI).
    case environment
}

/// The one error family users see. Every error type that can reach a user conforms
/// (`ModelIOError`, `RunConfigError`, `NNError`, `MPIError`, `BLASUnavailable`, the CLI's
/// `UserError`), and the CLI prints any of them the same way, as one line:
///
///     <subject>: <location>: <message>; <hint>
///
/// with empty parts left out. `subject` is what the problem is in (a file as the user named it,
/// "run config", a layer), `location` the key, layer or path inside it, `hint` what to do.
public protocol UserFacingError: Error, CustomStringConvertible {
    var kind: ErrorKind { get }
    var subject: String? { get }
    var location: String? { get }
    var message: String { get }
    var hint: String? { get }
}

extension UserFacingError {
    public var subject: String? { nil }
    public var location: String? { nil }
    public var hint: String? { nil }

    /// The error as one line (see the protocol); text that came from a file cannot break it.
    public var oneLine: String {
        let body = [subject, location, message].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
        return OneLine.escaped(hint.map { $0.isEmpty ? body : body + "; " + $0 } ?? body)
    }

    public var description: String { oneLine }
}

/// Keeps error text on one line.
public enum OneLine {
    /// `text` with control characters (C0, DEL, C1) and U+2028/U+2029 written as escapes
    /// (`\n`, `\u{2028}`), so a quoted value, key or file name from a file cannot start a new line.
    public static func escaped(_ text: String) -> String {
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

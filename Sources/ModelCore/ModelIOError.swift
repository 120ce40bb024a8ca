import Diagnostics
import Foundation

/// The error type users see from reading and writing files (one of the `UserFacingError` family).
///
/// Printed as a single line: `<file>: <location>: <message>; <hint>`, where `location` is the
/// key, layer or path inside the file when there is one. Every reader and writer in ModelIO
/// throws this (never traps on bad input), so the CLI can print it and exit non-zero.
public struct ModelIOError: UserFacingError, Equatable {
    /// The shared kinds (`notFound`, `malformed`, `unsupported`, `mismatch`, `io`, ...).
    public typealias Kind = ErrorKind

    public var kind: Kind
    /// The file the problem is in (as the user named it).
    public var file: String
    /// Key, layer name or path inside the file, if any.
    public var location: String?
    /// What was expected and what was found.
    public var message: String
    /// What the user can do about it, if the message does not say.
    public var hint: String?

    public init(_ kind: Kind, file: String, location: String? = nil, _ message: String, hint: String? = nil) {
        self.kind = kind
        self.file = file
        self.location = location
        self.message = message
        self.hint = hint
    }

    public var subject: String? { file }
}

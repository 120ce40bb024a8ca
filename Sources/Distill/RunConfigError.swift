import Diagnostics

/// A run configuration that cannot work: a key missing, impossible, or contradicting another
/// (whether it came from a YAML/JSON file or from flags). Printed as
/// `run config: <key>: <message>; <hint>`. Errors in reading a config *file* (bad YAML, an
/// unknown key) are `ModelIOError`s naming the file.
public struct RunConfigError: UserFacingError, Equatable {
    public var kind: ErrorKind
    /// The config key (`feature_pairs`, `nesterov`, ...); its flag is the same name with dashes.
    public var key: String
    public var message: String
    public var hint: String?

    public init(_ kind: ErrorKind = .usage, key: String, _ message: String, hint: String? = nil) {
        self.kind = kind
        self.key = key
        self.message = message
        self.hint = hint
    }

    public var subject: String? { "run config" }
    public var location: String? { key }
}

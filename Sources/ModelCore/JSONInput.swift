import Foundation

/// A strict check of JSON input before `JSONDecoder`/`JSONSerialization` see it.
///
/// Foundation's parsers accept duplicate keys (keeping one of them silently) and recurse once
/// per nesting level; this check refuses duplicate keys in any object and nesting deeper than
/// 256 levels (far deeper than any spec or model config), using the Keras config parser
/// (KerasJSON.swift), which is bounded.
public enum JSONInput {
    /// Throws a one-line `.malformed` error naming `file` (and `location`) when `data` is not
    /// UTF-8 JSON, holds a duplicate key or nests too deeply.
    public static func validate(_ data: Data, file: String, location: String? = nil) throws {
        guard let text = String(data: data, encoding: .utf8) else {
            throw ModelIOError(.malformed, file: file, location: location, "not valid JSON: not UTF-8 text")
        }
        _ = try KerasJSON.parse(text, file: file, what: location)
    }
}

import Foundation
import ModelCore

/// The header of a `.safetensors` file, validated before any tensor data is touched.
///
/// Layout: an unsigned 64-bit little-endian length `n`, then `n` bytes of UTF-8 JSON (padding
/// spaces allowed at the end), then the data section, which runs to the end of the file. The
/// JSON is an object mapping each tensor name to exactly
/// `{"dtype": "F32", "shape": [out, in], "data_offsets": [begin, end]}` (offsets relative to the
/// data section, `end` exclusive), plus an optional `"__metadata__"` object of string values.
///
/// Checked, as the reference implementation does and a little more (see docs/safetensors.md):
/// `n` at most 100 MB and inside the file; the JSON is an object starting with `{`; no key
/// occurs twice (at any level: a JSON parser that keeps the last duplicate would hide one);
/// every entry has exactly the three fields; the dtype is one the format defines; shape and
/// offsets are non-negative integers; `end - begin == product(shape) · bits / 8`; and the
/// tensors, sorted by offset, tile the data section exactly: no overlap, no gap, nothing after
/// the last one. Every failure is one `ModelIOError` naming the file and the key.
struct SafeTensorsHeader {
    struct Entry {
        var key: String
        var dtype: SafeTensorsDType
        var shape: [Int]
        /// Byte range inside the data section.
        var begin: Int
        var end: Int
    }

    /// Tensor entries in header order.
    var entries: [Entry]
    /// `__metadata__`, or nil when the header has none.
    var metadata: [String: String]?
    /// Offset of the data section in the file (`8 + n`).
    var dataStart: Int

    /// The format's limit on `n`; larger values mean a damaged file or not a safetensors file.
    static let maxHeaderBytes = 100_000_000
    static let metadataKey = "__metadata__"

    /// Parses and validates the header of `bytes` (the whole file).
    static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws -> SafeTensorsHeader {
        func fail(_ location: String?, _ message: String) -> ModelIOError {
            ModelIOError(.malformed, file: file, location: location, message)
        }
        guard bytes.count >= 8 else {
            throw fail(nil, "truncated: \(bytes.count) bytes, fewer than the 8-byte header length a safetensors file starts with")
        }
        let n = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard n <= UInt64(maxHeaderBytes) else {
            throw fail(nil, "header length \(n) bytes is over the format's limit of \(maxHeaderBytes) (not a safetensors file, or a damaged one)")
        }
        let headerLength = Int(n)
        guard headerLength <= bytes.count - 8 else {
            throw fail(nil, "truncated: the header length says \(headerLength) bytes, but only \(bytes.count - 8) follow it")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)])
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw fail("header", "does not start with '{' (expected a JSON object)")
        }
        guard let text = String(validating: headerBytes, as: UTF8.self) else {
            throw fail("header", "not valid UTF-8")
        }
        guard case let .object(members) = try KerasJSON.parse(text, file: file, what: "header") else {
            throw fail("header", "not a JSON object")
        }
        let dataLength = bytes.count - 8 - headerLength
        var seen = Set<String>()
        var metadata: [String: String]?
        var entries: [Entry] = []
        for (key, value) in members {
            guard seen.insert(key).inserted else { throw fail(key, "the key occurs more than once in the header") }
            if key == metadataKey {
                metadata = try parseMetadata(value, fail: fail)
            } else {
                entries.append(try parseEntry(key, value, dataLength: dataLength, fail: fail))
            }
        }
        try checkTiling(entries, dataLength: dataLength, fail: fail)
        return SafeTensorsHeader(entries: entries, metadata: metadata, dataStart: 8 + headerLength)
    }

    private static func parseMetadata(_ value: KerasJSON, fail: (String?, String) -> ModelIOError) throws -> [String: String] {
        guard case let .object(pairs) = value else {
            throw fail(metadataKey, "expected an object of strings")
        }
        var out: [String: String] = [:]
        for (k, v) in pairs {
            guard case let .string(s) = v else {
                throw fail(metadataKey, "the value of '\(k)' is not a string (metadata maps strings to strings)")
            }
            guard out.updateValue(s, forKey: k) == nil else {
                throw fail(metadataKey, "the key '\(k)' occurs more than once")
            }
        }
        return out
    }

    private static func parseEntry(_ key: String, _ value: KerasJSON, dataLength: Int,
                                   fail: (String?, String) -> ModelIOError) throws -> Entry {
        guard case let .object(fields) = value else {
            throw fail(key, "expected an object with dtype, shape and data_offsets")
        }
        var byName: [String: KerasJSON] = [:]
        for (name, v) in fields {
            guard ["dtype", "shape", "data_offsets"].contains(name) else {
                throw fail(key, "unexpected field '\(name)' (an entry has exactly dtype, shape and data_offsets)")
            }
            guard byName.updateValue(v, forKey: name) == nil else {
                throw fail(key, "the field '\(name)' occurs more than once")
            }
        }
        for name in ["dtype", "shape", "data_offsets"] where byName[name] == nil {
            throw fail(key, "missing field '\(name)'")
        }
        guard case let .string(dtypeName) = byName["dtype"]! else { throw fail(key, "dtype is not a string") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            var error = fail(key, "unknown dtype '\(dtypeName)' (the format defines \(SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")))")
            error.kind = .unsupported
            throw error
        }
        guard let shape = integers(byName["shape"]!) else {
            throw fail(key, "shape must be a list of non-negative integers, found \(byName["shape"]!.serialized)")
        }
        guard let offsets = integers(byName["data_offsets"]!), offsets.count == 2 else {
            throw fail(key, "data_offsets must be two non-negative integers [begin, end], found \(byName["data_offsets"]!.serialized)")
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else { throw fail(key, "data_offsets [\(begin), \(end)] end before they begin") }
        guard end <= dataLength else {
            throw fail(key, "data_offsets [\(begin), \(end)] run past the end of the data section (\(dataLength) bytes; the file may be truncated)")
        }
        var elements = 1
        for extent in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw fail(key, "shape \(shape) has more elements than can be addressed") }
            elements = product
        }
        let (bits, overflow) = elements.multipliedReportingOverflow(by: dtype.bits)
        guard !overflow, bits % 8 == 0, bits / 8 == end - begin else {
            let needs = overflow ? "more bytes than can be addressed" : bits % 8 != 0 ? "a fractional number of bytes" : "\(bits / 8) bytes"
            throw fail(key, "data_offsets [\(begin), \(end)] hold \(end - begin) bytes, but shape \(shape) of \(dtype.rawValue) needs \(needs)")
        }
        return Entry(key: key, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    /// The tensors, in offset order, must cover `0..<dataLength` exactly once.
    private static func checkTiling(_ entries: [Entry], dataLength: Int, fail: (String?, String) -> ModelIOError) throws {
        let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        var previous: Entry?
        for e in sorted {
            if e.begin < cursor, let p = previous {
                throw fail(e.key, "bytes \(e.begin)..<\(e.end) overlap those of '\(p.key)' (\(p.begin)..<\(p.end))")
            }
            if e.begin > cursor {
                throw fail(e.key, "bytes \(cursor)..<\(e.begin) before this tensor belong to no tensor (the format requires the tensors to cover the data section without gaps)")
            }
            cursor = e.end
            previous = e
        }
        if cursor != dataLength {
            throw fail(nil, "the last \(dataLength - cursor) bytes of the data section belong to no tensor (the format requires the tensors to cover it without gaps)")
        }
    }

    /// A JSON array of non-negative integers in plain decimal (no sign, fraction, exponent or
    /// leading zero) that fit `Int`, else nil.
    private static func integers(_ value: KerasJSON) -> [Int]? {
        guard case let .array(items) = value else { return nil }
        var out: [Int] = []
        for item in items {
            guard case let .number(lexeme) = item, !lexeme.isEmpty,
                  lexeme.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  lexeme == "0" || !lexeme.hasPrefix("0"),
                  let n = Int(lexeme) else { return nil }
            out.append(n)
        }
        return out
    }
}

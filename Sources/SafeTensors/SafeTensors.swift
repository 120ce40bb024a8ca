import Foundation
import ModelCore

/// `.safetensors` files: what `safetensors.torch.save_file(model.state_dict(), path)` writes.
///
/// Reading validates the whole header first (`SafeTensorsHeader`), then converts each tensor
/// as `.npz` arrays are: types numpy has keep their dtype (so `num_batches_tracked` stays int64),
/// bfloat16 and the 8-bit floats are widened to float32 exactly (`SafeTensorsWidening`), and
/// the packed sub-byte floats and complex64 are refused naming the key. `__metadata__` is kept.
///
/// Writing is what the reference library does, byte for byte for the same tensors and a
/// one-entry metadata map: tensors laid out by dtype (widest first, in the format's order)
/// then by name, offsets consecutive from 0, the header compact JSON with `__metadata__` first
/// (its keys sorted), padded with spaces so the data section starts at a multiple of 8.
/// Files are written atomically (`AtomicFile`).
public enum SafeTensors {
    /// The reference library's metadata entry that marks PyTorch tensors
    /// (`transformers` refuses a checkpoint without it).
    public static let formatMetadata = ("format", "pt")

    /// What a file holds, converted for the engine.
    public struct Contents {
        /// Tensors in header order.
        public var entries: [(key: String, array: NumpyArray)]
        /// `__metadata__`, or nil when the file has none.
        public var metadata: [String: String]?
        /// Tensors widened to float32 on reading, with their stored dtype (`BF16`, `F8_E4M3`, ...).
        public var widened: [(key: String, dtype: String)]
    }

    /// Reads and converts every tensor of `url`.
    public static func read(_ url: URL) throws -> Contents {
        let data = try FileBytes.read(url)
        return try data.withUnsafeBytes { try decode($0, file: url.path) }
    }

    /// Decodes a whole file's bytes; errors name `file`.
    static func decode(_ bytes: UnsafeRawBufferPointer, file: String) throws -> Contents {
        let header = try SafeTensorsHeader.parse(bytes, file: file)
        var out = Contents(entries: [], metadata: header.metadata, widened: [])
        for e in header.entries {
            let stored = UnsafeRawBufferPointer(rebasing: bytes[(header.dataStart + e.begin)..<(header.dataStart + e.end)])
            switch e.dtype.conversion {
            case .same(let dtype):
                var copy = Array(stored)
                if !ByteOrder.hostIsLittleEndian { ByteOrder.reverseEachUnit(&copy, unit: dtype.swapUnit) }
                out.entries.append((e.key, NumpyArray(dtype: dtype, shape: e.shape, bytes: copy)))
            case .widenToFloat32:
                out.entries.append((e.key, NumpyArray(float32s: SafeTensorsWidening.float32s(stored, dtype: e.dtype), shape: e.shape)))
                out.widened.append((e.key, e.dtype.rawValue))
            case .refused(let reason):
                throw ModelIOError(.unsupported, file: file, location: e.key, reason)
            }
        }
        return out
    }

    /// Writes `entries` and `metadata` to `url` atomically. Keys must be distinct and not
    /// `__metadata__`; string arrays cannot be stored.
    public static func write(_ entries: [(key: String, array: NumpyArray)], metadata: [String: String]?, to url: URL) throws {
        let data = try encode(entries, metadata: metadata, file: url.path)
        try AtomicFile.write(to: url) { temporary in
            do { try data.write(to: temporary) } catch {
                throw ModelIOError(.io, file: url.path, "cannot write: \(error.localizedDescription)")
            }
        }
    }

    /// The file's bytes (see the type's comment for the layout).
    static func encode(_ entries: [(key: String, array: NumpyArray)], metadata: [String: String]?, file: String) throws -> Data {
        var seen = Set<String>()
        var typed: [(key: String, array: NumpyArray, dtype: SafeTensorsDType)] = []
        for (key, array) in entries {
            guard key != SafeTensorsHeader.metadataKey else {
                throw ModelIOError(.unsupported, file: file, location: key, "a tensor cannot be named __metadata__ in a safetensors file")
            }
            guard seen.insert(key).inserted else {
                throw ModelIOError(.mismatch, file: file, location: key, "cannot write the same key twice")
            }
            guard let dtype = SafeTensorsDType(array.dtype) else {
                throw ModelIOError(.unsupported, file: file, location: key, "a string array (\(array.dtype.descr)) cannot be stored in a safetensors file")
            }
            typed.append((key, array, dtype))
        }
        // The reference order: widest dtype first (declaration order, descending), then name by bytes.
        typed.sort { a, b in
            a.dtype.rank != b.dtype.rank ? a.dtype.rank > b.dtype.rank : Array(a.key.utf8).lexicographicallyPrecedes(Array(b.key.utf8))
        }
        var json = "{"
        var first = true
        if let metadata, !metadata.isEmpty {
            json += SafeTensorsJSON.string(SafeTensorsHeader.metadataKey) + ":{"
            let pairs = metadata.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            json += pairs.map { SafeTensorsJSON.string($0.key) + ":" + SafeTensorsJSON.string($0.value) }.joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for t in typed {
            let length = t.array.bytes.count
            json += (first ? "" : ",") + SafeTensorsJSON.string(t.key)
                + ":{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(t.array.shape.map(String.init).joined(separator: ","))],"
                + "\"data_offsets\":[\(offset),\(offset + length)]}"
            first = false
            offset += length
        }
        json += "}"
        var header = Array(json.utf8)
        // Spaces up to a multiple of 8 for 8 + n: the data section starts aligned.
        header += repeatElement(UInt8(ascii: " "), count: (8 - (8 + header.count) % 8) % 8)
        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        // NumpyArray bytes are little-endian whatever the host, as the format stores them.
        for t in typed { out.append(contentsOf: t.array.bytes) }
        return out
    }
}

/// JSON strings as the reference library's serializer writes them: `"` and `\` escaped, the
/// short escapes `\b \f \n \r \t`, other control characters as `\u00XX`, everything else raw UTF-8.
enum SafeTensorsJSON {
    static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

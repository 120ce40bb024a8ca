import Foundation
import ZIPFoundation
import ModelCore

/// `.npz` archives: a ZIP of `.npy` members, as `numpy.savez` / `savez_compressed` write them.
///
/// Keys are member names without one trailing `.npy` (`layer1.0.conv1.weight.npy` →
/// `layer1.0.conv1.weight`; `a/b.npy` → `a/b`), kept as opaque strings, in archive order.
///
/// Reading goes through `ZipReader` (strict and bounded: CRC-checked members, sizes checked
/// against the file and the memory budget before inflating, duplicate names refused).
///
/// Writing emits stored (default) or raw-deflated members through ZIPFoundation, which uses
/// zip64 extras only for values ≥ 2³²−1, so numpy reads every archive. Files are written atomically.
public enum Npz {
    /// Every array in the archive, in member order. Duplicate or path-like member names,
    /// damaged or oversized members are errors (see `ZipReader`).
    public static func read(_ url: URL) throws -> [(key: String, array: NumpyArray)] {
        let file = url.path
        let archive = try ZipReader(url: url, file: file, expected: "an .npz (a zip of .npy files)")
        var out: [(key: String, array: NumpyArray)] = []
        var keys = Set<String>()
        for member in archive.members {
            // numpy never writes directory entries, but zip tools re-packing an npz may.
            if member.isDirectory && member.uncompressedSize == 0 { continue }
            let name = member.name
            let key = name.hasSuffix(".npy") ? String(name.dropLast(4)) : name
            // `x` and `x.npy` would both be key `x`.
            guard keys.insert(key).inserted else {
                throw ModelIOError(.malformed, file: file, location: key, "the key occurs more than once in the archive")
            }
            // The .npy header declares the array's size: compare it with the member's declared
            // size before inflating, so a member that inflates to more than its array is
            // refused without allocating it.
            let head = archive.prefix(of: member, count: 1 << 16)
            guard head.starts(with: NpyFormat.magic) || head.count < NpyFormat.magic.count else {
                throw ModelIOError(.malformed, file: file, location: key,
                                   "member '\(name)' is not a .npy array (expected the \\x93NUMPY magic)")
            }
            try head.withUnsafeBytes {
                try NpyFormat.checkDeclaredSize(prefix: $0, size: member.uncompressedSize, file: file, key: key)
            }
            let data = try archive.data(of: member, location: key)
            guard data.starts(with: NpyFormat.magic) else {
                throw ModelIOError(.malformed, file: file, location: key,
                                   "member '\(name)' is not a .npy array (expected the \\x93NUMPY magic)")
            }
            out.append((key, try NpyFormat.decode(data, file: file, key: key)))
        }
        return out
    }

    /// The arrays by key; a key that occurs twice is an error (there is no right one to pick).
    public static func readDictionary(_ url: URL) throws -> [String: NumpyArray] {
        var out: [String: NumpyArray] = [:]
        for (key, array) in try read(url) {
            guard out.updateValue(array, forKey: key) == nil else {
                throw ModelIOError(.mismatch, file: url.path, location: key, "the key occurs more than once")
            }
        }
        return out
    }

    /// Writes `entries` in order as `<key>.npy` members, stored or (with `compressed`) deflated
    /// like `numpy.savez_compressed`. Keys must be distinct.
    public static func write(_ entries: [(key: String, array: NumpyArray)], to url: URL,
                             compressed: Bool = false) throws {
        var keys = Set<String>()
        for (key, _) in entries where !keys.insert(key).inserted {
            throw ModelIOError(.mismatch, file: url.path, location: key, "cannot write the same key twice")
        }
        try AtomicFile.write(to: url) { temporary in
            try writeArchive(entries, to: temporary, compressed: compressed, file: url.path)
        }
    }

    /// Writes a dictionary, members sorted by key so the same arrays give the same file.
    public static func write(_ arrays: [String: NumpyArray], to url: URL, compressed: Bool = false) throws {
        try write(arrays.sorted { $0.key < $1.key }.map { (key: $0.key, array: $0.value) },
                  to: url, compressed: compressed)
    }

    // MARK: Details

    /// A fixed timestamp (2000-01-01 12:00 UTC, a valid DOS date in every time zone), so that
    /// writing the same arrays twice yields identical bytes.
    private static let timestamp = Date(timeIntervalSince1970: 946_728_000)

    private static func writeArchive(_ entries: [(key: String, array: NumpyArray)], to temporary: URL,
                                     compressed: Bool, file: String) throws {
        let archive = try Archive(url: temporary, accessMode: .create)
        for (key, array) in entries {
            let data = NpyFormat.encode(array)
            do {
                try archive.addEntry(with: key + ".npy", type: .file, uncompressedSize: Int64(data.count),
                                     modificationDate: timestamp, permissions: 0o644,
                                     compressionMethod: compressed ? .deflate : .none) { position, size in
                    let start = Int(position)
                    return data.subdata(in: start..<min(start + size, data.count))
                }
            } catch {
                throw ModelIOError(.io, file: file, location: key, "cannot add the member: \(error)")
            }
        }
    }

}

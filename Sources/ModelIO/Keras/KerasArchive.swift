import Foundation
import ZIPFoundation

/// The `.keras` archive of Keras 3: a zip holding `metadata.json` (`keras_version`,
/// `date_saved`), `config.json` (the serialised model) and `model.weights.h5` (weights in the
/// Keras 3 layout), all stored uncompressed. Other members (`assets/…`) are ignored.
///
/// Members are read whole and CRC-checked (ZIPFoundation 0.9.20 only computes the CRC);
/// the member count is compared with the end-of-central-directory record, because
/// ZIPFoundation's iterator stops silently at a header it cannot read.
enum KerasArchive {
    static let configMember = "config.json"
    static let weightsMember = "model.weights.h5"
    static let metadataMember = "metadata.json"

    struct Contents {
        var config: String
        var weights: Data?
        var metadata: String?
    }

    static func read(_ url: URL, needWeights: Bool) throws -> Contents {
        let file = url.relativePath
        let declared: UInt64
        do { declared = try ZipEndRecord.entryCount(url) } catch let e as ModelIOError where e.kind == .malformed {
            throw ModelIOError(.malformed, file: file, "not a Keras archive: a .keras file is a zip, and this one has no zip directory (not a zip, or truncated)")
        }
        let archive: Archive
        do { archive = try Archive(url: url, accessMode: .read) } catch {
            throw ModelIOError(.malformed, file: file, "not a readable zip archive (\(error))")
        }
        var members: [String: Entry] = [:]
        var listed: UInt64 = 0
        for entry in archive {
            listed += 1
            members[entry.path] = entry
        }
        guard listed == declared else {
            throw ModelIOError(.malformed, file: file, "the zip directory declares \(declared) members but only \(listed) are readable (damaged archive)")
        }
        guard let configEntry = members[configMember] else {
            throw ModelIOError(.malformed, file: file,
                               "not a Keras archive: no \(configMember) member (found: \(members.keys.sorted().joined(separator: ", ")))")
        }
        let config = try text(extract(configEntry, from: archive, file: file), member: configMember, file: file)
        var weights: Data?
        if needWeights {
            guard let w = members[weightsMember] else {
                throw ModelIOError(.malformed, file: file, "not a Keras archive: no \(weightsMember) member")
            }
            weights = try extract(w, from: archive, file: file)
        }
        let metadata = try members[metadataMember].map { try text(extract($0, from: archive, file: file), member: metadataMember, file: file) }
        return Contents(config: config, weights: weights, metadata: metadata)
    }

    /// Writes a `.keras` zip at `temporary` (the caller renames it into place).
    static func write(config: String, metadata: String, weights: Data, to temporary: URL, file: String) throws {
        let archive: Archive
        do { archive = try Archive(url: temporary, accessMode: .create) } catch {
            throw ModelIOError(.io, file: file, "cannot create the archive: \(error)")
        }
        let now = Date()
        for (name, data) in [(metadataMember, Data(metadata.utf8)), (configMember, Data(config.utf8)), (weightsMember, weights)] {
            do {
                try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), modificationDate: now,
                                     permissions: 0o644, compressionMethod: .none) { position, size in
                    let start = Int(position)
                    return data.subdata(in: start..<min(start + size, data.count))
                }
            } catch {
                throw ModelIOError(.io, file: file, location: name, "cannot add the member: \(error)")
            }
        }
    }

    private static func text(_ data: Data, member: String, file: String) throws -> String {
        guard let s = String(data: data, encoding: .utf8) else {
            throw ModelIOError(.malformed, file: file, location: member, "not UTF-8 text")
        }
        return s
    }

    /// The member's bytes, CRC-checked (the npz reader's extraction).
    private static func extract(_ entry: Entry, from archive: Archive, file: String) throws -> Data {
        try Npz.extract(entry, from: archive, file: file, key: entry.path)
    }
}

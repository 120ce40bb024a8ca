import Foundation
import ZIPFoundation
import ModelCore
import NumPy

/// The `.keras` archive of Keras 3: a zip holding `metadata.json` (`keras_version`,
/// `date_saved`), `config.json` (the serialised model) and `model.weights.h5` (weights in the
/// Keras 3 layout), stored uncompressed by Keras (deflated members are read too). `assets/…`
/// members are ignored.
///
/// Members are read through `ZipReader` (CRC-checked, sizes bounded, duplicate and path-like
/// names refused); members other than those three and `assets/…` are refused.
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
        let archive = try ZipReader(url: url, file: file,
                                    expected: "a Keras archive (a .keras file is a zip; not a zip, or truncated)")
        var members: [String: ZipReader.Member] = [:]
        for member in archive.members { members[member.name] = member }
        guard let configEntry = members[configMember] else {
            throw ModelIOError(.malformed, file: file,
                               "not a Keras archive: no \(configMember) member (found: \(members.keys.sorted().joined(separator: ", ")))")
        }
        // Keras writes only these three and an `assets/` tree; anything else means the file
        // is not what we think it is.
        for name in members.keys.sorted() where ![configMember, weightsMember, metadataMember].contains(name)
            && !name.hasPrefix("assets/") {
            throw ModelIOError(.unsupported, file: file, location: name,
                               "unexpected member in a Keras archive (expected \(configMember), \(weightsMember), \(metadataMember) and assets/)")
        }
        let config = try text(archive.data(of: configEntry), member: configMember, file: file)
        var weights: Data?
        if needWeights {
            guard let w = members[weightsMember] else {
                throw ModelIOError(.malformed, file: file, "not a Keras archive: no \(weightsMember) member")
            }
            weights = try archive.data(of: w)
        }
        let metadata = try members[metadataMember].map { try text(archive.data(of: $0), member: metadataMember, file: file) }
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
}

import Boundary
import Foundation
import ModelIO

/// Integrity and self-containment of checkpoints.
///
/// - `arrays_sha256`: for every member besides `meta`, the SHA-256 of its dtype, shape and bytes
///   (`arrayDigest`). A checkpoint whose arrays were swapped or re-packed with other weights is
///   refused on `--resume` naming the member.
/// - `config_sha256`: the SHA-256 of `config_yaml`, so an edited config is refused too.
/// - `run_paths`: the config's file paths that point inside the run folder (the checkpoint's
///   folder), relative to it. Resuming reads them from the folder the checkpoint is in now, so a
///   copied run folder is resumed into the copy, never the original.
extension Checkpoint {
    /// Config keys whose values are file paths, with their fields.
    static let pathKeys: [(key: String, path: WritableKeyPath<RunConfig, String?>)] = [
        ("teacher", \.teacher), ("teacher_arch", \.teacherArch), ("student", \.student),
        ("student_arch", \.studentArch), ("data", \.data), ("val", \.val), ("out", \.out),
    ]

    /// SHA-256 over an array's dtype, shape and bytes (`descr NUL shape NUL bytes`).
    static func arrayDigest(_ a: NumpyArray) -> String {
        var h = SHA256()
        h.update(Data((a.dtype.descr + "\u{0}" + a.shape.map(String.init).joined(separator: ",") + "\u{0}").utf8))
        a.bytes.withUnsafeBytes { h.update($0) }
        return h.hexDigest()
    }

    static func configDigest(_ yaml: String) -> String { SHA256.hex(Data(yaml.utf8)) }

    /// Checks the recorded digests against the members read from `file`.
    static func verify(arrays entries: [(key: String, array: NumpyArray)], recorded: Any?,
                       configYAML: String, configDigest recordedConfig: Any?, file: String) throws {
        guard let recorded = recorded as? [String: String] else {
            throw ModelIOError(.malformed, file: file, location: "meta.arrays_sha256",
                               "missing: the checkpoint cannot be checked, so it is not resumed")
        }
        guard recordedConfig as? String == configDigest(configYAML) else {
            throw ModelIOError(.mismatch, file: file, location: "meta.config_yaml",
                               "the run config does not match the SHA-256 recorded when the checkpoint was written; it was edited or damaged")
        }
        let members = entries.filter { $0.key != "meta" }
        for (key, array) in members {
            guard let digest = recorded[key] else {
                throw ModelIOError(.mismatch, file: file, location: key,
                                   "a member the checkpoint did not record when it was written (re-packed?)")
            }
            guard digest == arrayDigest(array) else {
                throw ModelIOError(.mismatch, file: file, location: key,
                                   "its values do not match the SHA-256 recorded when the checkpoint was written (re-packed with other weights, or damaged)")
            }
        }
        let present = Set(members.map(\.key))
        if let missing = recorded.keys.sorted().first(where: { !present.contains($0) }) {
            throw ModelIOError(.mismatch, file: file, location: missing, "recorded when the checkpoint was written, missing now")
        }
    }

    /// The config's paths inside `runFolder`, relative to it. Relative config paths are
    /// relative to `workingDirectory`.
    static func runRelativePaths(_ c: RunConfig, runFolder: URL, workingDirectory: String) -> [String: String] {
        let folder = resolved(runFolder).path + "/"
        var out: [String: String] = [:]
        for (key, path) in pathKeys {
            guard let p = c[keyPath: path] else { continue }
            let url = p.hasPrefix("/") ? URL(fileURLWithPath: p)
                : URL(fileURLWithPath: workingDirectory).appendingPathComponent(p)
            // Names that are not files (presets) are not paths; `out` may not exist yet.
            let exists = FileManager.default.fileExists(atPath: url.path)
            guard exists || key == "out" else { continue }
            let full = resolved(url).path
            if full.hasPrefix(folder) { out[key] = String(full.dropFirst(folder.count)) }
        }
        return out
    }

    /// `url` standardised with symlinks resolved in its folder (the file itself may not exist).
    static func resolved(_ url: URL) -> URL {
        let u = url.standardizedFileURL
        return u.deletingLastPathComponent().resolvingSymlinksInPath().appendingPathComponent(u.lastPathComponent)
    }

    /// The config with the run-folder paths re-anchored at `runFolder` (where the checkpoint is now).
    static func anchor(_ c: inout RunConfig, runPaths: [String: String], runFolder: URL) {
        for (key, path) in pathKeys {
            if let rel = runPaths[key] { c[keyPath: path] = runFolder.appendingPathComponent(rel).path }
        }
    }
}

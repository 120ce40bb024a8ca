import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one check every command that writes makes before it starts: no output may be one of
/// its inputs.
///
/// Two paths name the same file when their canonical paths agree (`realpath`: `.`/`..`,
/// repeated slashes and symlinks resolved; for an output that does not exist yet, its
/// directory is resolved) or, for files that exist, when device and inode agree (hard links,
/// bind mounts). An atomic write would otherwise replace the model or data it was reading.
public enum OutputPath {
    /// Throws `.mismatch` naming `output` when it is the same file as one of `inputs`
    /// (nil entries, e.g. options not given, are skipped; so are preset names that are no file).
    public static func checkNotAnInput(_ output: String, inputs: [String?]) throws {
        // Bytes that are not UTF-8 reach us as U+FFFD; writing would create a file under a
        // different name than the one the user typed.
        if output.unicodeScalars.contains("\u{FFFD}") {
            throw ModelIOError(.unsupported, file: output,
                               "the output name is not valid UTF-8 (shown with U+FFFD): bss would write a file under a different name; use a UTF-8 name")
        }
        let out = identity(output)
        for case let input? in inputs {
            let id = identity(input)
            let samePath = out.path != nil && out.path == id.path
            let sameInode = out.inode != nil && out.inode == id.inode
            if samePath || sameInode {
                let how = input == output ? "" : samePath ? " (the same file through a link or another spelling)" : " (a hard link to it)"
                throw ModelIOError(.mismatch, file: output, "the output is the input file \(input)\(how); give another path")
            }
        }
    }

    /// Refuses any two of `outputs` that are one file, and each against `inputs`.
    public static func checkDistinct(outputs: [String?], inputs: [String?]) throws {
        let given = outputs.compactMap { $0 }
        for (i, output) in given.enumerated() {
            try checkNotAnInput(output, inputs: inputs)
            for other in given[(i + 1)...] where identity(output).path == identity(other).path {
                throw ModelIOError(.mismatch, file: output, "the same file is given for two outputs (\(other))")
            }
        }
    }

    /// Throws when the directory of `output` cannot be made: its nearest existing ancestor is
    /// not a directory. A missing directory is fine (`AtomicFile` creates it when writing);
    /// checked before long work so the user learns it before, not after.
    public static func checkCanCreate(_ output: String) throws {
        var dir = URL(fileURLWithPath: output).standardizedFileURL.deletingLastPathComponent()
        while true {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else {
                    throw ModelIOError(.io, file: output, "cannot create its directory: \(dir.path) is a file, not a directory")
                }
                return
            }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { return }
            dir = parent
        }
    }

    private struct Identity {
        var path: String?
        var inode: [UInt64]?
    }

    private static func identity(_ path: String) -> Identity {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL
        var info = stat()
        let inode = stat(absolute.path, &info) == 0 ? [UInt64(info.st_dev), UInt64(info.st_ino)] : nil
        if let resolved = realPath(absolute.path) { return Identity(path: resolved, inode: inode) }
        // Not there (yet): resolve the directory and keep the name.
        let directory = absolute.deletingLastPathComponent().path
        let resolved = realPath(directory).map { ($0 == "/" ? "" : $0) + "/" + absolute.lastPathComponent }
        return Identity(path: resolved ?? absolute.path, inode: inode)
    }

    private static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }
}

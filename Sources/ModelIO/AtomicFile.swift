import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that readers only ever see the old complete file or the new complete one.
///
/// `write(to:_:)` hands `body` a temporary path in the target's own directory (a hidden name,
/// `.<name>.tmp-<random>`, not yet existing), and renames it over the target when `body` returns.
/// The temporary file lives next to the target because `rename(2)` is atomic only within one
/// file system. If `body` throws, or the rename fails, the temporary file is removed and the
/// target is left untouched, so an interrupted export never leaves a half-written `.npz`
/// where a model used to be.
///
/// Every error leaves as a `ModelIOError` naming the target: a `ModelIOError` thrown by `body`
/// passes through unchanged; any other error becomes `.io`.
public enum AtomicFile {
    public static func write(to url: URL, _ body: (URL) throws -> Void) throws {
        let target = url.standardizedFileURL
        let directory = target.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw ModelIOError(.notFound, file: url.path,
                               "cannot write: directory \(directory.path) does not exist")
        }
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let temporary = directory.appendingPathComponent(temporaryName(for: target.lastPathComponent, suffix: suffix))
        do {
            try body(temporary)
            // rename(2) replaces an existing target in one step; FileManager.moveItem would
            // refuse an existing destination and a remove-then-move leaves a window without a file.
            guard rename(temporary.path, target.path) == 0 else {
                let reason = String(cString: strerror(errno))
                throw ModelIOError(.io, file: url.path, "cannot move the finished file into place: \(reason)")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            if let error = error as? ModelIOError { throw error }
            throw ModelIOError(.io, file: url.path, "write failed: \(error.localizedDescription)")
        }
    }

    /// File names are limited to 255 bytes (NAME_MAX): a legal 254-byte target name must not
    /// give an illegal temporary name, so the target's part is cut (at a character boundary).
    static func temporaryName(for name: String, suffix: String) -> String {
        let fixed = 1 + ".tmp-".utf8.count + suffix.utf8.count
        var kept = ""
        var bytes = 0
        for character in name {
            let n = character.utf8.count
            if bytes + n > 255 - fixed { break }
            kept.append(character)
            bytes += n
        }
        return ".\(kept).tmp-\(suffix)"
    }
}

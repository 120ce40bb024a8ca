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
/// Missing parent directories of the target are created first.
///
/// Every error leaves as a `ModelIOError` naming the target: a `ModelIOError` thrown by `body`
/// passes through unchanged; any other error becomes `.io`.
public enum AtomicFile {
    public static func write(to url: URL, _ body: (URL) throws -> Void) throws {
        let target = url.standardizedFileURL
        let directory = target.deletingLastPathComponent()
        try createDirectory(directory, for: url.path)
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let temporary = directory.appendingPathComponent(temporaryName(for: target.lastPathComponent, suffix: suffix))
        try register(temporary)
        defer { unregister(temporary) }
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

    /// Creates `directory` and its missing parents (every command's outputs may name folders
    /// that do not exist yet); `file` is the output named in errors.
    static func createDirectory(_ directory: URL, for file: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw ModelIOError(.io, file: file, "cannot write: \(directory.path) is a file, not a directory")
            }
            return
        }
        try OutputPath.checkCanCreate(file)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw ModelIOError(.io, file: file, "cannot create the directory \(directory.path): \(error.localizedDescription)")
        }
    }

    // MARK: - Interruption

    private static let lock = NSLock()
    nonisolated(unsafe) private static var pending: Set<String> = []
    nonisolated(unsafe) private static var abandoned = false

    private static func register(_ temporary: URL) throws {
        lock.lock()
        // After an interruption no new file is started: the process is about to exit, and an
        // error here would race its exit status and message.
        while abandoned { lock.unlock(); sleep(1); lock.lock() }
        pending.insert(temporary.path)
        lock.unlock()
    }

    private static func unregister(_ temporary: URL) {
        lock.lock(); defer { lock.unlock() }
        pending.remove(temporary.path)
    }

    /// Removes the temporary file of every write in progress and holds back new writes: called on
    /// Ctrl-C (SIGINT) just before the process exits, so an interrupted command leaves neither a
    /// partial output nor a stray `.name.tmp-…` file. Returns the paths removed.
    @discardableResult
    public static func abandonWritesInProgress() -> [String] {
        lock.lock(); defer { lock.unlock() }
        abandoned = true
        let paths = pending.sorted()
        for p in paths { unlink(p) }
        return paths
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

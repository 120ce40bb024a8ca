import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The checks every reader makes on a path before opening it.
///
/// Only regular files are read (after following symlinks): opening a named pipe blocks until
/// some other process writes to it, and a device such as `/dev/zero` never ends, so both are
/// refused up front with a one-line error instead of hanging. A missing path whose name holds
/// U+FFFD (what Swift makes of bytes that are not UTF-8, e.g. a Latin-1 file name from the
/// command line) is reported as such rather than as "no such file", because the file may well
/// exist under its real bytes.
public enum InputFile {
    /// Throws `.notFound`, `.io` (directory, FIFO, device, socket, unreadable) or returns the
    /// file's size in bytes. `name` is the path as the user gave it, for errors.
    @discardableResult
    public static func checkRegular(_ url: URL, name: String? = nil) throws -> UInt64 {
        let path = url.path
        let label = name ?? path
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                throw notFound(path: path, label: label)
            }
            throw ModelIOError(.io, file: label, "cannot read: \(String(cString: strerror(code)))")
        }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else {
            throw ModelIOError(.io, file: label, "expected a regular file, found \(describe(type))")
        }
        return UInt64(info.st_size)
    }

    /// The whole file, after `checkRegular` (memory-mapped where the system allows).
    public static func contents(of url: URL, name: String? = nil) throws -> Data {
        try FileBytes.read(url, name: name)
    }

    /// The `.notFound` error for `path`, explaining a name that is not valid UTF-8.
    public static func notFound(path: String, label: String? = nil) -> ModelIOError {
        if path.unicodeScalars.contains("\u{FFFD}") {
            return ModelIOError(.notFound, file: label ?? path,
                                "cannot open this name: it is not valid UTF-8 (shown with U+FFFD), and bss only opens UTF-8 paths; rename the file")
        }
        return ModelIOError(.notFound, file: label ?? path, "no such file")
    }

    private static func describe(_ type: mode_t) -> String {
        switch type {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a named pipe (FIFO); only regular files are read"
        case S_IFCHR: return "a character device; only regular files are read"
        case S_IFBLK: return "a block device; only regular files are read"
        case S_IFSOCK: return "a socket; only regular files are read"
        default: return "a special file; only regular files are read"
        }
    }
}

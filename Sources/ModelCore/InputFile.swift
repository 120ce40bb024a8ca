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

    static func describe(_ type: mode_t) -> String {
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

extension InputFile {
    /// An input file opened read-only and checked through its own descriptor, so the file that
    /// was checked is the file that is read (no window for a swap between `stat` and `open`).
    /// `close()` it when done.
    public struct Opened {
        /// The read-only descriptor (close-on-exec).
        public let fd: Int32
        /// The file's size, identity and modification time at `fstat`.
        public let size: UInt64
        public let device: UInt64
        public let inode: UInt64
        public let modified: timespec

        /// The memberwise initializer, spelled out so the HDF5 reader child (Sources/HDF5) can
        /// wrap the descriptor it inherits.
        package init(fd: Int32, size: UInt64, device: UInt64, inode: UInt64, modified: timespec) {
            self.fd = fd; self.size = size; self.device = device; self.inode = inode; self.modified = modified
        }

        public func close() { closeDescriptor(fd) }

        /// A path naming this descriptor's file, for libraries that only take paths (libhdf5):
        /// opening it opens the same file, not whatever the name points at now.
        public var descriptorPath: String {
            #if os(Linux)
            "/proc/self/fd/\(fd)"
            #else
            "/dev/fd/\(fd)"
            #endif
        }
    }

    /// Opens `url` read-only and refuses anything but a regular file, judged by `fstat` on the
    /// opened descriptor. Opened non-blocking, so opening a FIFO cannot hang; the flag is
    /// meaningless for regular files, which are the only ones kept.
    public static func open(_ url: URL, name: String? = nil) throws -> Opened {
        let path = url.path
        let label = name ?? path
        let fd = openDescriptor(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw notFound(path: path, label: label) }
            throw ModelIOError(.io, file: label, "cannot read: \(String(cString: strerror(code)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            closeDescriptor(fd)
            throw ModelIOError(.io, file: label, "cannot read: \(String(cString: strerror(code)))")
        }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG else {
            closeDescriptor(fd)
            throw ModelIOError(.io, file: label, "expected a regular file, found \(describe(type))")
        }
        return Opened(fd: fd, size: UInt64(info.st_size), device: UInt64(info.st_dev), inode: UInt64(info.st_ino),
                      modified: info.st_mtim)
    }

    /// The whole file read through one descriptor (see `open`). Read, not memory-mapped: a
    /// mapped file that someone truncates meanwhile kills the process with SIGBUS.
    public static func readAll(_ url: URL, name: String? = nil) throws -> Data {
        let label = name ?? url.path
        let file = try open(url, name: label)
        defer { file.close() }
        return try readAll(fd: file.fd, sizeHint: file.size, label: label)
    }

    /// Everything from `fd`'s current offset to its end.
    package static func readAll(fd: Int32, sizeHint: UInt64, label: String) throws -> Data {
        var data = Data(count: Int(clamping: sizeHint))
        var filled = 0
        while true {
            if filled == data.count { data.count += max(1 << 16, data.count / 2) }
            let got = data.withUnsafeMutableBytes { raw in
                readDescriptor(fd, raw.baseAddress! + filled, raw.count - filled)
            }
            if got < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw ModelIOError(.io, file: label, "cannot read: \(String(cString: strerror(errno)))")
            }
            if got == 0 { break }
            filled += got
        }
        data.count = filled
        return data
    }
}

// The system calls under names that `InputFile.open`/`Opened.close` do not shadow.
private func openDescriptor(_ path: String, _ flags: Int32) -> Int32 { open(path, flags) }
private func closeDescriptor(_ fd: Int32) { _ = close(fd) }
private func readDescriptor(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { read(fd, buffer, count) }

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `bss` running with its stderr on a pseudo-terminal of a given width (what a user sees:
/// progress bars are drawn only on a terminal), stdout on a pipe. Used to check that redraws
/// fit the terminal and that Ctrl-C (SIGINT) stops cleanly.
public final class TerminalRun {
    public let process = Process()
    private let master: Int32
    private let lock = NSLock()
    private var terminalBytes = Data()
    private var stdoutBytes = Data()
    private let done = DispatchGroup()

    public init(_ arguments: [String], columns: Int, rows: Int = 24, in directory: URL? = nil) throws {
        // The pty functions are in libc but not in Swift's Glibc module (they need _XOPEN_SOURCE).
        let libc = dlopen(nil, RTLD_NOW)
        func function<T>(_ name: String, _ type: T.Type) -> T? { dlsym(libc, name).map { unsafeBitCast($0, to: type) } }
        typealias IntFunction = @convention(c) (Int32) -> Int32
        typealias NameFunction = @convention(c) (Int32) -> UnsafeMutablePointer<CChar>?
        guard let openpt = function("posix_openpt", IntFunction.self), let grantpt = function("grantpt", IntFunction.self),
              let unlockpt = function("unlockpt", IntFunction.self), let ptsname = function("ptsname", NameFunction.self) else {
            throw NSError(domain: "TerminalRun", code: 1, userInfo: [NSLocalizedDescriptionKey: "no pseudo-terminal functions"])
        }
        master = openpt(O_RDWR | O_NOCTTY)
        guard master >= 0, grantpt(master) == 0, unlockpt(master) == 0, let name = ptsname(master) else {
            throw NSError(domain: "TerminalRun", code: 1, userInfo: [NSLocalizedDescriptionKey: "no pseudo-terminal"])
        }
        let slave = open(String(cString: name), O_RDWR | O_NOCTTY)
        guard slave >= 0 else { throw NSError(domain: "TerminalRun", code: 2, userInfo: [NSLocalizedDescriptionKey: "cannot open the pty slave"]) }
        var size = winsize(ws_row: UInt16(rows), ws_col: UInt16(columns), ws_xpixel: 0, ws_ypixel: 0)
        guard ioctl(slave, UInt(TIOCSWINSZ), &size) == 0 else {
            throw NSError(domain: "TerminalRun", code: 3, userInfo: [NSLocalizedDescriptionKey: "cannot set the terminal size: errno \(errno)"])
        }
        process.executableURL = try bssExecutable()
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? fixturesURL.deletingLastPathComponent()
        var env = ProcessInfo.processInfo.environment
        env["COLUMNS"] = nil
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        close(slave)
        let master = self.master
        done.enter()
        Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(master, &buffer, buffer.count)
                if n < 0 && (errno == EINTR || errno == EAGAIN) { usleep(1000); continue }
                if n <= 0 { break }   // EIO once the child has exited and the slave is closed
                self.lock.lock(); self.terminalBytes.append(contentsOf: buffer[0..<n]); self.lock.unlock()
            }
            self.done.leave()
        }.start()
        done.enter()
        Thread {
            let data = out.fileHandleForReading.readDataToEndOfFile()
            self.lock.lock(); self.stdoutBytes = data; self.lock.unlock()
            self.done.leave()
        }.start()
    }

    /// What the terminal has received so far (stderr).
    public var terminal: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: terminalBytes, as: UTF8.self)
    }

    /// Sends `signal` to the process.
    public func send(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the process to end (at most `timeout` seconds, then kills it) and returns its
    /// status, the terminal text and stdout.
    public func wait(timeout: TimeInterval = 120) -> (status: Int32, terminal: String, stdout: String) {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        _ = done.wait(timeout: .now() + 10)
        close(master)
        lock.lock(); defer { lock.unlock() }
        return (process.terminationStatus, String(decoding: terminalBytes, as: UTF8.self), String(decoding: stdoutBytes, as: UTF8.self))
    }

    /// The rows a terminal shows for `text`: split at CR and LF, escape sequences removed.
    public static func rows(_ text: String) -> [String] {
        let plain = text.replacingOccurrences(of: "\u{1B}[2K", with: "")
        return plain.split(omittingEmptySubsequences: true) { $0 == "\r" || $0 == "\n" || $0 == "\r\n" }.map(String.init)
    }
}

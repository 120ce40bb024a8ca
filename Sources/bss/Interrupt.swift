import Foundation
import ModelIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ctrl-C (SIGINT): stop cleanly. The temporary files of writes in progress are removed
/// (`AtomicFile.abandonWritesInProgress`), one line says how to continue (`Interrupt.hint`,
/// e.g. `bss distill --resume DIR`), and the process exits with status 130 (128 + SIGINT),
/// as shells expect.
///
/// The signal handler itself only writes a byte to a pipe (the one thing that is safe in a
/// handler); a dedicated thread, blocked on that pipe, does the work. A thread of its own
/// rather than a dispatch queue, because the engine's parallel loops can occupy every
/// worker of the global queues for seconds.
enum Interrupt {
    nonisolated(unsafe) private static var pipeFDs: [Int32] = [-1, -1]
    private static let lock = NSLock()
    nonisolated(unsafe) private static var hintText: String?
    nonisolated(unsafe) private static var interrupted = false

    /// Whether Ctrl-C is being handled: an error the main thread meets now (a temporary file
    /// removed under it) must not print or exit before the interruption does.
    static var inProgress: Bool {
        lock.lock(); defer { lock.unlock() }
        return interrupted
    }

    /// What to print when interrupted (nil: "interrupted; nothing was written").
    static var hint: String? {
        get { lock.lock(); defer { lock.unlock() }; return hintText }
        set { lock.lock(); hintText = newValue; lock.unlock() }
    }

    static func install() {
        guard pipe(&pipeFDs) == 0 else { return }
        let thread = Thread { waitAndExit() }
        thread.name = "bss-sigint"
        thread.start()
        signal(SIGINT) { _ in
            var byte: UInt8 = 1
            _ = write(Interrupt.pipeFDs[1], &byte, 1)
        }
    }

    private static func waitAndExit() {
        var byte: UInt8 = 0
        while read(pipeFDs[0], &byte, 1) != 1 {}
        lock.lock(); interrupted = true; lock.unlock()
        // A write may be creating its temporary file right now: remove, give it a moment, remove again.
        AtomicFile.abandonWritesInProgress()
        usleep(100_000)
        AtomicFile.abandonWritesInProgress()
        let clear = isatty(STDERR_FILENO) != 0 ? "\r\u{1B}[2K" : ""
        let line = "bss: interrupted; " + (hint ?? "no partial output is left; run the command again")
        FileHandle.standardError.write(Data((clear + line + "\n").utf8))
        fflush(stdout)
        _exit(130)
    }
}

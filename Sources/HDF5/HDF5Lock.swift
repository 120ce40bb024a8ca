import CHDF5
import Foundation

/// The one lock every HDF5 call in bss goes through.
///
/// Debian's libhdf5 is built thread-safe, but most other builds (upstream defaults, wheels,
/// Homebrew) are not, and even the thread-safe build serialises everything behind one global
/// mutex. Taking our own lock makes the code correct on any build at no real cost. The lock is
/// recursive so that one public method may call another while holding it.
///
/// Entering the lock also silences HDF5's automatic error printing for the calling thread
/// (the setting is per thread in thread-safe builds), so bad input never dumps an HDF5 error
/// stack on stderr; failures are reported as `ModelIOError` instead.
enum HDF5Lock {
    private static let lock = NSRecursiveLock()

    /// Runs `body` holding the HDF5 lock, with error printing silenced on this thread.
    static func run<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        sh5_silence_errors_once()
        return try body()
    }

    /// The innermost message on this thread's HDF5 error stack (empty if none); clears the stack.
    /// Call only while holding the lock, right after the failing call.
    static func takeErrorMessage() -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        sh5_take_error_message(&buffer, buffer.count)
        let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

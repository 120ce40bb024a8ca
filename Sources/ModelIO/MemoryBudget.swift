import Foundation

/// The most memory one file may make a reader allocate, checked *before* allocating.
///
/// Every size a file declares (a `.npy` header's shape × itemsize, a zip member's
/// uncompressed size, the dimensions of an IDX file behind gzip) is compared with this
/// budget, so a few-megabyte "bomb" that would inflate to gigabytes is refused with a
/// one-line error instead of exhausting memory. Decompression also stops at the budget.
///
/// Default: half of physical memory. The CLI may lower or raise it (e.g. `--max-memory`);
/// set it before reading files. Thread-safe.
public enum MemoryBudget {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var current: Int = defaultBytes

    /// Half of the machine's physical memory.
    public static var defaultBytes: Int {
        Int(clamping: ProcessInfo.processInfo.physicalMemory / 2)
    }

    /// The budget in bytes (positive).
    public static var bytes: Int {
        get { lock.lock(); defer { lock.unlock() }; return current }
        set {
            precondition(newValue > 0, "the memory budget must be positive")
            lock.lock(); defer { lock.unlock() }
            current = newValue
        }
    }

    /// Throws `.unsupported` when `count` bytes (`what`, e.g. "member 'x.npy' declares") exceed
    /// the budget.
    static func check(_ count: UInt64, file: String, location: String? = nil, what: String) throws {
        let budget = bytes
        guard count <= UInt64(budget) else {
            throw ModelIOError(.unsupported, file: file, location: location,
                               "\(what) \(describe(count)), more than the memory budget of \(describe(UInt64(budget))) (refused before reading)")
        }
    }

    /// "1234 bytes" or "2.5 GB".
    static func describe(_ count: UInt64) -> String {
        if count < 10_000 { return "\(count) bytes" }
        let units = ["kB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(count) / 1000
        var unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        return String(format: "%.1f", value) + " " + units[unit]
    }
}

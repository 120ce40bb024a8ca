import Foundation

/// The most memory one file may make a reader allocate, checked *before* allocating.
///
/// Every size a file declares (a `.npy` header's shape × itemsize, a zip member's
/// uncompressed size, the dimensions of an IDX file behind gzip) is compared with this
/// budget, so a few-megabyte "bomb" that would inflate to gigabytes is refused with a
/// one-line error instead of exhausting memory. Decompression also stops at the budget.
///
/// Default: half of physical memory, and at most a quarter of the address-space limit when
/// one is set (`ulimit -v`: a reader holds a few copies of what a file declares, and an
/// allocation past the limit would abort the process). The CLI may lower or raise it (e.g. `--max-memory`);
/// set it before reading files. Thread-safe.
public enum MemoryBudget {
    #if os(Linux)
    private static let RLIMIT_AS_RESOURCE = __rlimit_resource_t(RLIMIT_AS.rawValue)
    #else
    private static let RLIMIT_AS_RESOURCE = RLIMIT_AS
    #endif

    private static let lock = NSLock()
    nonisolated(unsafe) private static var current: Int = defaultBytes

    /// Half of the machine's physical memory, at most a quarter of `RLIMIT_AS`.
    public static var defaultBytes: Int {
        var bytes = ProcessInfo.processInfo.physicalMemory / 2
        var limit = rlimit()
        if getrlimit(RLIMIT_AS_RESOURCE, &limit) == 0, limit.rlim_cur != rlim_t.max {
            bytes = min(bytes, UInt64(limit.rlim_cur) / 4)
        }
        return Int(clamping: max(bytes, 1 << 20))
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
    package static func check(_ count: UInt64, file: String, location: String? = nil, what: String) throws {
        let budget = bytes
        guard count <= UInt64(budget) else {
            throw ModelIOError(.unsupported, file: file, location: location,
                               "\(what) \(describe(count)), more than the memory budget of \(describe(UInt64(budget))) (refused before reading)")
        }
    }

    /// "1234 bytes" or "2.5 GB".
    public static func describe(_ count: UInt64) -> String {
        if count < 10_000 { return "\(count) bytes" }
        let units = ["kB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(count) / 1000
        var unit = 0
        while value >= 1000 && unit < units.count - 1 { value /= 1000; unit += 1 }
        return String(format: "%.1f", value) + " " + units[unit]
    }
}

extension MemoryBudget {
    /// The syntax `parse` accepts, for help texts.
    public static let syntax = "a size with a binary unit (512M, 8G, 1.5G; K, M, G, T = 1024-based, an optional B or iB after it), plain bytes, or a percentage of physical memory (25%)"

    /// Parses a `--max-memory` value (`syntax`) into bytes; throws `.malformed` naming `option`.
    public static func parse(_ text: String, option: String = "--max-memory",
                             physicalMemory: UInt64 = ProcessInfo.processInfo.physicalMemory) throws -> Int {
        let t = text.trimmingCharacters(in: .whitespaces)
        func bad(_ why: String) -> ModelIOError {
            ModelIOError(.malformed, file: option, "'\(text)': \(why); expected \(syntax)")
        }
        var number = Substring(t), scale: Double = 1
        if t.hasSuffix("%") {
            number = number.dropLast()
            scale = Double(physicalMemory) / 100
        } else {
            var unit = number.drop { $0.isNumber || $0 == "." }.uppercased()
            number = number.prefix(number.count - unit.count)
            if unit.hasSuffix("IB") { unit.removeLast(2) } else if unit.hasSuffix("B") { unit.removeLast() }
            let units: [String: Double] = ["": 1, "K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
            guard let u = units[unit] else { throw bad("unknown unit") }
            scale = u
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(number) else {
            throw bad("not a number")
        }
        let bytes = value * scale
        guard bytes >= 1 else { throw bad("the budget must be at least one byte") }
        guard bytes < Double(Int.max) else { throw bad("too large") }
        return Int(bytes)
    }
}

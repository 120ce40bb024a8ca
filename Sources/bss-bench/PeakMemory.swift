import Foundation

/// Peak working memory of a workload: the process's peak resident set while it ran minus its
/// resident set just before (after libraries, models and inputs are loaded). Linux only:
/// writing 5 to /proc/self/clear_refs resets the peak (VmHWM) to the current resident set, so
/// each workload gets its own peak. Before the baseline is read, memory freed by earlier
/// workloads is handed back to the kernel (`malloc_trim`): otherwise the allocator keeps it
/// resident, the next workload reuses it without the resident set growing, and its working
/// memory reads as (nearly) zero. bench/torch_bench.py measures PyTorch the same way.
enum PeakMemory {
    /// Returns the allocator's free pages to the kernel (glibc), so the baseline is honest.
    static func releaseFreedMemory() {
        // malloc.h is not in Swift's Glibc module; look the symbol up (RTLD_DEFAULT is null).
        typealias Trim = @convention(c) (Int) -> Int32
        if let sym = dlsym(nil, "malloc_trim") { _ = unsafeBitCast(sym, to: Trim.self)(0) }
    }

    /// Resets the recorded peak; false where the kernel does not allow it.
    @discardableResult
    static func reset() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        return (try? h.write(contentsOf: Data("5".utf8))) != nil
    }

    /// (current, peak) resident set in bytes, from /proc/self/status.
    static func sample() -> (current: Int, peak: Int) {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
        func kb(_ key: String) -> Int {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return 0 }
            return (Int(line.split(separator: " ").dropFirst().first { Int($0) != nil } ?? "0") ?? 0) * 1024
        }
        return (kb("VmRSS"), kb("VmHWM"))
    }
}

import Dispatch
import Foundation

/// Data parallelism over an index range, for batch loops (one sample per index).
///
/// `forEach(n) { i in ... }` calls the body once for every `i` in `0..<n`, spread over
/// `threads` workers with `DispatchQueue.concurrentPerform`. The range is cut into one
/// contiguous chunk per worker, so a body that keeps per-chunk scratch (an im2col buffer)
/// touches it from one thread only. Runs inline (in order, on the caller's thread) when
/// `threads == 1` or `n < 2`, and when called from inside another `forEach` (no nesting).
///
/// While the workers run, OpenBLAS is switched to one thread: its pthread pool is shared by
/// every caller, and concurrent multi-threaded sgemm calls contend for it badly (a 16x144x1024
/// GEMM per sample ran ~10x slower than single-threaded calls). The previous count is restored.
///
/// Default `threads`: the active processor count. The CLI's `--threads` sets it.
public enum Parallel {
    /// Worker count for `forEach`; values below 1 act as 1.
    nonisolated(unsafe) public static var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    /// Number of chunks `forEach(n, ...)` uses: `min(threads, n)`, at least 1.
    @inlinable public static func chunkCount(_ n: Int) -> Int { max(1, min(threads, n)) }

    /// Indices of chunk `c` of `chunks` over `0..<n` (contiguous, sizes differ by at most one).
    @inlinable public static func chunk(_ c: Int, of chunks: Int, _ n: Int) -> Range<Int> {
        (c * n / chunks)..<((c + 1) * n / chunks)
    }

    /// Calls `body(i)` for every `i` in `0..<n`, concurrently. The body must be safe to run
    /// on several threads at once (write to disjoint memory per index).
    public static func forEach(_ n: Int, _ body: (Int) -> Void) {
        forEachChunk(n) { range, _ in for i in range { body(i) } }
    }

    /// Calls `body(range, chunkIndex)` once per chunk of `0..<n`; `chunkIndex < chunkCount(n)`
    /// identifies the worker's scratch slot.
    public static func forEachChunk(_ n: Int, _ body: (Range<Int>, Int) -> Void) {
        if n <= 0 { return }
        let chunks = inRegion ? 1 : chunkCount(n)
        if chunks == 1 { body(0..<n, 0); return }
        let blasThreads = BLAS.loaded.getThreads.map { Int($0()) } ?? 1
        if blasThreads > 1 { BLAS.setThreads(1) }
        inRegion = true
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            body(chunk(c, of: chunks, n), c)
        }
        inRegion = false
        if blasThreads > 1 { BLAS.setThreads(blasThreads) }
    }

    /// Set (by the calling thread, before the workers start) while a parallel region runs, so
    /// a nested `forEach` from a worker runs inline instead of oversubscribing the cores.
    nonisolated(unsafe) private static var inRegion = false
}

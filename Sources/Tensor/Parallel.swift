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
/// OpenBLAS itself always runs single-threaded (see `BLAS`): all parallelism is ours, so a
/// per-sample product is the same call whether its sample is alone or in a batch.
///
/// Determinism: the chunking depends only on `n` and `threads`, and bodies write disjoint
/// memory, so results are bit-identical from run to run for a given thread count.
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
        let chunks = WorkerFlag.isSet ? 1 : chunkCount(n)
        if chunks == 1 { body(0..<n, 0); return }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            // Marks this thread (a pool worker, or the caller, which runs iterations too) as
            // inside a region, so a nested `forEach` runs inline instead of oversubscribing.
            let outer = WorkerFlag.isSet
            WorkerFlag.isSet = true
            body(chunk(c, of: chunks, n), c)
            WorkerFlag.isSet = outer
        }
    }
}

/// A per-thread flag: set while the thread runs a chunk of a parallel region. Per thread,
/// not global, so two unrelated threads can each run their own parallel regions.
enum WorkerFlag {
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        precondition(pthread_key_create(&k, nil) == 0, "pthread_key_create failed")
        return k
    }()

    static var isSet: Bool {
        get { pthread_getspecific(key) != nil }
        set { pthread_setspecific(key, newValue ? UnsafeRawPointer(bitPattern: 1) : nil) }
    }
}

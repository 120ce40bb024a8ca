import COpenBLAS
import Diagnostics
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The matrix-multiply backend: OpenBLAS loaded at run time.
///
/// Why `dlopen` and not linking: OpenBLAS chooses its kernels in a constructor that runs when
/// the library is loaded. Debian's 0.3.21 takes some AVX-512 Xeons for "Prescott" and runs
/// sgemm ~5x slower. We pick `OPENBLAS_CORETYPE` from the CPU's features *before* loading it,
/// check one GEMM against a plain loop, and reload with the library's own choice if that fails.
/// A value of `OPENBLAS_CORETYPE` set by the user is always respected.
///
/// OpenBLAS always runs single-threaded: every product is called from the engine's own workers
/// (`Parallel`), one call per sample where rows are independent. OpenBLAS' result for a row of
/// a product depends on the product's shape, on the row's position in its micro-kernel tile and
/// on how its own threads split the work (measured: with the Haswell kernel rows 0–5, 6–11 and
/// 12–15 of a 16-row tile round differently), so batching samples into one product, or letting
/// OpenBLAS thread it, would make a sample's result depend on which other samples share its
/// batch. See docs/design.md, "Determinism".
public enum BLAS {
    /// What was loaded and why; `bss doctor` prints it.
    public struct Status: Sendable {
        /// Path passed to dlopen.
        public var library: String
        /// OpenBLAS' own name for the active kernel set (`openblas_get_corename`).
        public var coreName: String
        /// How the core type was decided: "user" (OPENBLAS_CORETYPE was set), "auto" (chosen
        /// from CPU features and verified), "library" (OpenBLAS' own detection), "none"
        /// (OpenBLAS could not be loaded; the portable GEMM is in use).
        public var choice: String
        /// The core type we asked for, if any.
        public var requested: String?
        /// OpenBLAS worker threads (always 1 once loaded; the engine parallelises itself).
        public var threads: Int
        /// Set when the auto choice failed its check and we fell back.
        public var note: String?
    }

    final class Loaded: @unchecked Sendable {
        let sgemm: bss_sgemm_fn
        let sgemv: bss_sgemv_fn
        let status: Status
        /// Why OpenBLAS is not in use, when it could not be loaded.
        let missing: String?
        init(sgemm: bss_sgemm_fn, sgemv: bss_sgemv_fn, status: Status, missing: String? = nil) {
            self.sgemm = sgemm; self.sgemv = sgemv; self.status = status; self.missing = missing
        }
    }

    /// Where OpenBLAS is looked for; `BSS_OPENBLAS_LIBRARY` (a path or soname) replaces the list.
    static var candidates: [String] {
        if let path = ProcessInfo.processInfo.environment["BSS_OPENBLAS_LIBRARY"], !path.isEmpty { return [path] }
        return ["libopenblas.so.0", "libopenblas.so",
                "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
                "/usr/lib/aarch64-linux-gnu/libopenblas.so.0"]
    }

    /// Throws `BLASUnavailable` when OpenBLAS could not be loaded. The CLI calls this before a
    /// verb runs, so a missing library is one clear line; a library user who does not call it
    /// gets the portable GEMM (correct, much slower) instead of a crash.
    public static func requireOpenBLAS() throws {
        if let missing = loaded.missing { throw BLASUnavailable(message: missing) }
    }

    /// The core type we would request for this CPU, or nil to let OpenBLAS decide.
    public static func preferredCoreType() -> String? {
        #if arch(x86_64)
        let f = bss_cpu_features()
        let avx2 = f & 1 != 0, fma = f & 2 != 0, osAVX = f & (1 << 8) != 0
        let avx512 = f & 0b11100 == 0b11100 && f & 32 != 0 && f & (1 << 7) != 0
        if avx512 && f & 64 != 0 { return "Cooperlake" }
        if avx512 { return "SkylakeX" }
        if avx2 && fma && osAVX { return "Haswell" }
        #endif
        return nil
    }

    static let loaded: Loaded = load()

    /// Loads OpenBLAS (once) and returns what is in use.
    public static var status: Status { loaded.status }

    static func open(env: String?) -> (UnsafeMutableRawPointer, String)? {
        if let env { setenv("OPENBLAS_CORETYPE", env, 1) }
        for name in candidates {
            if let h = dlopen(name, RTLD_NOW | RTLD_LOCAL) { return (h, name) }
        }
        return nil
    }

    /// The entry points we use, with OpenBLAS switched to one thread.
    static func symbols(_ h: UnsafeMutableRawPointer) -> (bss_sgemm_fn, bss_sgemv_fn, String)? {
        guard let g = dlsym(h, "cblas_sgemm"), let v = dlsym(h, "cblas_sgemv") else { return nil }
        if let st = dlsym(h, "openblas_set_num_threads") {
            unsafeBitCast(st, to: bss_set_threads_fn.self)(1)
        }
        var core = "unknown"
        if let c = dlsym(h, "openblas_get_corename") {
            let fn = unsafeBitCast(c, to: bss_corename_fn.self)
            if let s = fn() { core = String(cString: s) }
        }
        return (unsafeBitCast(g, to: bss_sgemm_fn.self), unsafeBitCast(v, to: bss_sgemv_fn.self), core)
    }

    static func load() -> Loaded {
        let user = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        let requested = user == nil ? preferredCoreType() : nil
        guard let (h, name) = open(env: requested), let (sgemm, sgemv, core) = symbols(h) else {
            let missing = "cannot load OpenBLAS (tried \(candidates.joined(separator: ", ")))"
            let status = Status(library: "none", coreName: "portable", choice: "none", requested: nil, threads: 1,
                                note: missing + "; using the portable GEMM")
            return Loaded(sgemm: portableSgemm, sgemv: portableSgemv, status: status, missing: missing)
        }
        var status = Status(library: name, coreName: core, choice: user != nil ? "user" : (requested != nil ? "auto" : "library"),
                            requested: user ?? requested, threads: 1, note: nil)
        if requested != nil, !verify(sgemm) {
            // The chosen kernels disagree with a plain loop: reload with OpenBLAS' own detection.
            // dlclose rarely unloads OpenBLAS, so the fallback may keep the same kernels; we
            // then use our portable GEMM instead and say so.
            unsetenv("OPENBLAS_CORETYPE")
            dlclose(h)
            if let (h2, name2) = open(env: nil), let (s2, v2, core2) = symbols(h2), verify(s2) {
                status = Status(library: name2, coreName: core2, choice: "library", requested: nil, threads: 1,
                                note: "auto core type \(requested!) failed its check; using OpenBLAS' own choice")
                return Loaded(sgemm: s2, sgemv: v2, status: status)
            }
            status.note = "OpenBLAS failed its check; using the portable GEMM"
            return Loaded(sgemm: portableSgemm, sgemv: portableSgemv, status: status)
        }
        return Loaded(sgemm: sgemm, sgemv: sgemv, status: status)
    }

    /// When true, every `sgemm` call adds its FLOPs and wall time to `profile` (benchmarks).
    nonisolated(unsafe) public static var profiling = false
    nonisolated(unsafe) static var profileFlops: Int = 0
    nonisolated(unsafe) static var profileNanos: UInt64 = 0
    static let profileLock = NSLock()

    /// FLOPs and seconds spent in `sgemm` since the last `resetProfile()` (when `profiling`).
    public static var profile: (flops: Int, seconds: Double) {
        profileLock.lock(); defer { profileLock.unlock() }
        return (profileFlops, Double(profileNanos) / 1e9)
    }

    public static func resetProfile() {
        profileLock.lock(); profileFlops = 0; profileNanos = 0; profileLock.unlock()
    }

    /// Adds the multiply-adds of a convolution that ran outside `sgemm` (oneDNN) to `profile`,
    /// so the benchmark's convolution rate counts them; their time is the workload's wall time.
    public static func recordConvolution(flops: Int) {
        guard profiling else { return }
        profileLock.lock(); profileFlops += flops; profileLock.unlock()
    }

    static func record(flops: Int, since t0: UInt64) {
        let dt = DispatchTime.now().uptimeNanoseconds - t0
        profileLock.lock(); profileFlops += flops; profileNanos += dt; profileLock.unlock()
    }

    /// Checks `sgemm` on a 67x45x53 product (odd sizes exercise edge kernels) against a plain loop.
    static func verify(_ sgemm: bss_sgemm_fn) -> Bool {
        let m = 67, n = 45, k = 53
        var a = [Float](repeating: 0, count: m * k), b = [Float](repeating: 0, count: k * n)
        for i in 0..<a.count { a[i] = Float((i * 7919) % 97) / 97 - 0.5 }
        for i in 0..<b.count { b[i] = Float((i * 104729) % 89) / 89 - 0.5 }
        var c = [Float](repeating: 0, count: m * n)
        sgemm(Int32(BSS_CBLAS_ROW_MAJOR), Int32(BSS_CBLAS_NO_TRANS), Int32(BSS_CBLAS_NO_TRANS),
              Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
        for i in 0..<m {
            for j in 0..<n {
                var s: Double = 0
                for p in 0..<k { s += Double(a[i * k + p]) * Double(b[p * n + j]) }
                if abs(Double(c[i * n + j]) - s) > 1e-4 * max(1, abs(s)) { return false }
            }
        }
        return true
    }
}

/// Plain triple loop with the cblas_sgemm signature (row-major only); the last-resort fallback.
let portableSgemm: bss_sgemm_fn = { _, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
    let tA = ta == Int32(BSS_CBLAS_TRANS), tB = tb == Int32(BSS_CBLAS_TRANS)
    for i in 0..<Int(m) {
        for j in 0..<Int(n) {
            var s: Float = 0
            for p in 0..<Int(k) {
                let av = tA ? a![p * Int(lda) + i] : a![i * Int(lda) + p]
                let bv = tB ? b![j * Int(ldb) + p] : b![p * Int(ldb) + j]
                s += av * bv
            }
            let idx = i * Int(ldc) + j
            c![idx] = alpha * s + (beta == 0 ? 0 : beta * c![idx])
        }
    }
}

/// Plain loop with the cblas_sgemv signature (row-major only); the last-resort fallback.
let portableSgemv: bss_sgemv_fn = { _, ta, m, n, alpha, a, lda, x, incx, beta, y, incy in
    let trans = ta == Int32(BSS_CBLAS_TRANS)
    let rows = Int(trans ? n : m), inner = Int(trans ? m : n)
    for i in 0..<rows {
        var s: Float = 0
        for p in 0..<inner {
            let av = trans ? a![p * Int(lda) + i] : a![i * Int(lda) + p]
            s += av * x![p * Int(incx)]
        }
        let idx = i * Int(incy)
        y![idx] = alpha * s + (beta == 0 ? 0 : beta * y![idx])
    }
}

/// `y = alpha * op(A) * x + beta * y` with a row-major `m x n` matrix `A` (`op(A)` is `Aᵀ` when
/// `transA`), contiguous `x` and `y`. One matrix-vector product per sample is how the engine
/// keeps a sample's result independent of the batch it is in (see `BLAS`).
@inline(__always)
public func sgemv(transA: Bool = false, m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
                  x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>) {
    if m == 0 || n == 0 {
        // Nothing to sum: y = beta * y over op(A)'s rows, as BLAS does.
        let rows = transA ? n : m
        for i in 0..<rows { y[i] = beta == 0 ? 0 : y[i] * beta }
        return
    }
    let t0 = BLAS.profiling ? DispatchTime.now().uptimeNanoseconds : 0
    defer { if BLAS.profiling { BLAS.record(flops: 2 * m * n, since: t0) } }
    BLAS.loaded.sgemv(Int32(BSS_CBLAS_ROW_MAJOR), Int32(transA ? BSS_CBLAS_TRANS : BSS_CBLAS_NO_TRANS),
                      Int32(m), Int32(n), alpha, a, Int32(lda ?? n), x, 1, beta, y, 1)
}

/// `C = alpha * op(A) * op(B) + beta * C`, row-major. `op(A)` is `m x k`, `op(B)` is `k x n`.
/// Leading dimensions default to the packed row lengths.
@inline(__always)
public func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
                  b: UnsafePointer<Float>, ldb: Int? = nil,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
    if m == 0 || n == 0 { return }
    let lc = ldc ?? n
    if k == 0 {
        // BLAS would scale C by beta; do it here so callers need no special case. Only the
        // m x n block is touched: the row stride lc may run past the end of the last row.
        for i in 0..<m { for j in 0..<n { c[i * lc + j] = beta == 0 ? 0 : c[i * lc + j] * beta } }
        return
    }
    let la = lda ?? (transA ? m : k), lb = ldb ?? (transB ? k : n)
    let t0 = BLAS.profiling ? DispatchTime.now().uptimeNanoseconds : 0
    defer { if BLAS.profiling { BLAS.record(flops: 2 * m * n * k, since: t0) } }
    BLAS.loaded.sgemm(Int32(BSS_CBLAS_ROW_MAJOR),
                      Int32(transA ? BSS_CBLAS_TRANS : BSS_CBLAS_NO_TRANS),
                      Int32(transB ? BSS_CBLAS_TRANS : BSS_CBLAS_NO_TRANS),
                      Int32(m), Int32(n), Int32(k), alpha, a, Int32(la), b, Int32(lb), beta, c, Int32(lc))
}

/// OpenBLAS is not installed (or not where it was looked for): a `UserFacingError` with the fix.
public struct BLASUnavailable: UserFacingError {
    public var message: String
    public var kind: ErrorKind { .environment }
    public var subject: String? { "OpenBLAS" }
    public var hint: String? {
        "install it with `apt-get install libopenblas-dev` (scripts/setup.sh does), or set BSS_OPENBLAS_LIBRARY to its path"
    }
}

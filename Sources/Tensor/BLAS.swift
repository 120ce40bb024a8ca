import COpenBLAS
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
public enum BLAS {
    /// What was loaded and why; `bss doctor` prints it.
    public struct Status: Sendable {
        /// Path passed to dlopen.
        public var library: String
        /// OpenBLAS' own name for the active kernel set (`openblas_get_corename`).
        public var coreName: String
        /// How the core type was decided: "user" (OPENBLAS_CORETYPE was set), "auto" (chosen
        /// from CPU features and verified), "library" (OpenBLAS' own detection).
        public var choice: String
        /// The core type we asked for, if any.
        public var requested: String?
        /// OpenBLAS worker threads.
        public var threads: Int
        /// Set when the auto choice failed its check and we fell back.
        public var note: String?
    }

    final class Loaded: @unchecked Sendable {
        let sgemm: bss_sgemm_fn
        let setThreads: bss_set_threads_fn?
        let getThreads: bss_get_threads_fn?
        let status: Status
        init(sgemm: bss_sgemm_fn, setThreads: bss_set_threads_fn?, getThreads: bss_get_threads_fn?, status: Status) {
            self.sgemm = sgemm; self.setThreads = setThreads; self.getThreads = getThreads; self.status = status
        }
    }

    static let candidates = ["libopenblas.so.0", "libopenblas.so",
                             "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
                             "/usr/lib/aarch64-linux-gnu/libopenblas.so.0"]

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

    static func symbols(_ h: UnsafeMutableRawPointer) -> (bss_sgemm_fn, bss_set_threads_fn?, bss_get_threads_fn?, String)? {
        guard let g = dlsym(h, "cblas_sgemm") else { return nil }
        let sgemm = unsafeBitCast(g, to: bss_sgemm_fn.self)
        let st = dlsym(h, "openblas_set_num_threads").map { unsafeBitCast($0, to: bss_set_threads_fn.self) }
        let gt = dlsym(h, "openblas_get_num_threads").map { unsafeBitCast($0, to: bss_get_threads_fn.self) }
        var core = "unknown"
        if let c = dlsym(h, "openblas_get_corename") {
            let fn = unsafeBitCast(c, to: bss_corename_fn.self)
            if let s = fn() { core = String(cString: s) }
        }
        return (sgemm, st, gt, core)
    }

    static func load() -> Loaded {
        let user = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        let requested = user == nil ? preferredCoreType() : nil
        guard let (h, name) = open(env: requested), let (sgemm, st, gt, core) = symbols(h) else {
            fatalError("bss: cannot load OpenBLAS (libopenblas.so.0). Install it with `apt-get install libopenblas-dev` (scripts/setup.sh does).")
        }
        var status = Status(library: name, coreName: core, choice: user != nil ? "user" : (requested != nil ? "auto" : "library"),
                            requested: user ?? requested, threads: gt.map { Int($0()) } ?? 1, note: nil)
        if requested != nil, !verify(sgemm) {
            // The chosen kernels disagree with a plain loop: reload with OpenBLAS' own detection.
            // dlclose rarely unloads OpenBLAS, so the fallback may keep the same kernels; we
            // then use our portable GEMM instead and say so.
            unsetenv("OPENBLAS_CORETYPE")
            dlclose(h)
            if let (h2, name2) = open(env: nil), let (s2, st2, gt2, core2) = symbols(h2), verify(s2) {
                status = Status(library: name2, coreName: core2, choice: "library", requested: nil,
                                threads: gt2.map { Int($0()) } ?? 1,
                                note: "auto core type \(requested!) failed its check; using OpenBLAS' own choice")
                return Loaded(sgemm: s2, setThreads: st2, getThreads: gt2, status: status)
            }
            status.note = "OpenBLAS failed its check; using the portable GEMM"
            return Loaded(sgemm: portableSgemm, setThreads: nil, getThreads: nil, status: status)
        }
        return Loaded(sgemm: sgemm, setThreads: st, getThreads: gt, status: status)
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

    static func record(flops: Int, since t0: UInt64) {
        let dt = DispatchTime.now().uptimeNanoseconds - t0
        profileLock.lock(); profileFlops += flops; profileNanos += dt; profileLock.unlock()
    }

    /// Sets the number of OpenBLAS threads.
    public static func setThreads(_ n: Int) { loaded.setThreads?(Int32(max(1, n))) }

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

/// `C = alpha * op(A) * op(B) + beta * C`, row-major. `op(A)` is `m x k`, `op(B)` is `k x n`.
/// Leading dimensions default to the packed row lengths.
@inline(__always)
public func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
                  b: UnsafePointer<Float>, ldb: Int? = nil,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        // BLAS would scale C by beta; do it here so callers need no special case.
        for i in 0..<(m * (ldc ?? n)) { c[i] = beta == 0 ? 0 : c[i] * beta }
        return
    }
    let la = lda ?? (transA ? m : k), lb = ldb ?? (transB ? k : n), lc = ldc ?? n
    let t0 = BLAS.profiling ? DispatchTime.now().uptimeNanoseconds : 0
    defer { if BLAS.profiling { BLAS.record(flops: 2 * m * n * k, since: t0) } }
    BLAS.loaded.sgemm(Int32(BSS_CBLAS_ROW_MAJOR),
                      Int32(transA ? BSS_CBLAS_TRANS : BSS_CBLAS_NO_TRANS),
                      Int32(transB ? BSS_CBLAS_TRANS : BSS_CBLAS_NO_TRANS),
                      Int32(m), Int32(n), Int32(k), alpha, a, Int32(la), b, Int32(lb), beta, c, Int32(lc))
}

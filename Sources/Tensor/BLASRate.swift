import Dispatch
import Foundation

extension BLAS {
    /// GFLOP/s of a `size`³ single-precision product through `sgemm`, its rows split over the
    /// `Parallel` workers as the engine's own products are (OpenBLAS single-threaded on each).
    /// Best of five timings of four products each, after one warm-up; `bss doctor` and
    /// `bss-bench` report it so the kernel choice has a number next to it.
    public static func sgemmRate(size n: Int = 1024) -> Double {
        var a = [Float](repeating: 0, count: n * n), b = a, c = a
        var g = SeededGenerator(seed: 1)
        for i in 0..<a.count { a[i] = g.nextFloat(); b[i] = g.nextFloat() }
        func once() {
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
                let pa = pa.baseAddress!, pb = pb.baseAddress!, pc = pc.baseAddress!
                Parallel.forEachChunk(n) { rows, _ in
                    sgemm(m: rows.count, n: n, k: n, a: pa + rows.lowerBound * n, b: pb, c: pc + rows.lowerBound * n)
                }
            } } }
        }
        once()
        var best = Double.infinity
        for _ in 0..<5 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<4 { once() }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 / 4)
        }
        return 2 * pow(Double(n), 3) / best / 1e9
    }
}

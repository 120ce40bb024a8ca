import Foundation
import Tensor
import XCTest

/// The BLAS bridge: edge cases of `sgemm`/`sgemv` and the per-sample determinism the engine
/// builds on (docs/design.md, "Determinism").
final class BLASBridgeTests: XCTestCase {
    /// With k = 0 the product is empty and C = beta·C; only the m x n block may be touched even
    /// when the row stride runs past the last row's end (as Conv2D's column blocks call it).
    func testEmptyInnerDimensionTouchesOnlyTheBlock() {
        var c = [Float](repeating: 7, count: 2 * 5 + 3)
        let a = [Float](repeating: 1, count: 1), b = a
        c.withUnsafeMutableBufferPointer { cp in
            sgemm(m: 2, n: 3, k: 0, a: a, b: b, beta: 0.5, c: cp.baseAddress!, ldc: 5)
        }
        XCTAssertEqual(c, [3.5, 3.5, 3.5, 7, 7, 3.5, 3.5, 3.5, 7, 7, 7, 7, 7])
    }

    func testSgemvMatchesAPlainLoopBothWays() {
        let m = 7, n = 5
        let a = (0..<(m * n)).map { Float(($0 * 37) % 11) - 5 }
        let x = (0..<n).map { Float($0) - 2 }, xt = (0..<m).map { Float($0 % 3) - 1 }
        var y = [Float](repeating: 1, count: m), yt = [Float](repeating: 1, count: n)
        y.withUnsafeMutableBufferPointer { sgemv(m: m, n: n, a: a, x: x, beta: 2, y: $0.baseAddress!) }
        yt.withUnsafeMutableBufferPointer { sgemv(transA: true, m: m, n: n, a: a, x: xt, y: $0.baseAddress!) }
        for i in 0..<m { XCTAssertEqual(y[i], (0..<n).reduce(2) { $0 + a[i * n + $1] * x[$1] }) }
        for j in 0..<n { XCTAssertEqual(yt[j], (0..<m).reduce(0) { $0 + a[$1 * n + j] * xt[$1] }) }
    }

    /// A matrix-vector product gives the same bits wherever its vector sits in memory, which
    /// is what lets a sample's result ignore its position in the batch. (A row of a batched
    /// sgemm does not have this property: OpenBLAS rounds rows by their place in a tile.)
    func testMatrixVectorProductIgnoresPlacement() {
        let m = 37, n = 1000
        var g = SeededGenerator(seed: 3)
        let a = (0..<(m * n)).map { _ in g.nextFloat() - 0.5 }
        let x = (0..<n).map { _ in g.nextFloat() - 0.5 }
        var results = Set<[Float]>()
        for offset in 0..<9 {
            var buffer = [Float](repeating: 0, count: n + 16)
            buffer.replaceSubrange(offset..<(offset + n), with: x)
            var y = [Float](repeating: 0, count: m)
            buffer.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { sgemv(m: m, n: n, a: a, x: bp.baseAddress! + offset, y: $0.baseAddress!) }
            }
            results.insert(y)
        }
        XCTAssertEqual(results.count, 1)
    }

    /// A region's flag is per thread: a nested `forEach` inside a worker runs inline, and a
    /// region started from an unrelated thread while another runs still uses its workers.
    func testNestedRegionsRunInlineAndFlagsArePerThread() {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        Parallel.threads = 2
        let lock = NSLock()
        var inner: [String] = []
        Parallel.forEachChunk(2) { outer, _ in
            Parallel.forEachChunk(4) { range, worker in
                lock.lock(); inner.append("\(outer):\(range):\(worker)"); lock.unlock()
            }
        }
        XCTAssertEqual(inner.sorted(), ["0..<1:0..<4:0", "1..<2:0..<4:0"], "nested regions run inline as one chunk")
        // An unrelated thread's region runs while this one is inside a region of its own.
        let values = UnsafeMutablePointer<Int>.allocate(capacity: 8)
        defer { values.deallocate() }
        values.initialize(repeating: -1, count: 8)
        let done = DispatchSemaphore(value: 0), address = UInt(bitPattern: values)  // a Sendable handle
        Parallel.forEachChunk(2) { _, worker in
            guard worker == 0 else { return }
            Thread.detachNewThread {
                let out = UnsafeMutablePointer<Int>(bitPattern: address)!
                Parallel.forEachChunk(8) { range, _ in for i in range { out[i] = i } }
                done.signal()
            }
            done.wait()
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: values, count: 8)), Array(0..<8))
    }
}

import Foundation
import ModelIO
import NN
import Tensor

/// One timed workload: its name, what one repetition does, and how to express the result.
struct Workload {
    var name: String
    var detail: String
    /// Runs one repetition and returns its "items" (images, pairs) for a rate, or 0.
    var run: () throws -> Int
}

/// What one workload measured: the best and the median wall-clock seconds of `reps` runs after
/// `warmup` untimed runs, its items per run, and its peak working memory (bytes above the
/// resident set before the first run; see `PeakMemory`).
struct Measurement {
    var best: Double, median: Double, items: Int, workingBytes: Int
    /// The least process CPU time (all threads, user + system) of one repetition: on a shared
    /// machine it moves far less than wall time with the load of other processes.
    var bestCPU: Double = 0
}

/// CPU seconds used by this process so far (all threads).
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// Times `w`. The best time is the one compared with PyTorch (also its best): on a shared
/// machine it is the least disturbed; the median is reported next to it.
func measure(_ w: Workload, warmup: Int, reps: Int) throws -> Measurement {
    PeakMemory.releaseFreedMemory()
    let before = PeakMemory.sample().current
    PeakMemory.reset()
    var items = 0
    for _ in 0..<warmup { items = try w.run() }
    var times: [Double] = [], cpu: [Double] = []
    for _ in 0..<max(1, reps) {
        let t0 = DispatchTime.now().uptimeNanoseconds, c0 = processCPUSeconds()
        items = try w.run()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        cpu.append(processCPUSeconds() - c0)
    }
    times.sort()
    return Measurement(best: times[0], median: times[times.count / 2], items: items,
                       workingBytes: max(0, PeakMemory.sample().peak - before), bestCPU: cpu.min() ?? 0)
}

/// Inputs shaped like normalised CIFAR images (smooth, zero-mean), deterministic.
func benchInputs(_ n: Int, seed: UInt64, size: Int = 32) -> Tensor {
    var g = SeededGenerator(seed: seed)
    var x = Tensor(shape: [n, 3, size, size])
    for i in 0..<x.count { x.data[i] = g.nextNormal() }
    return x
}

/// A heo2019-resnet with the authors' random initialisation (PyTorch defaults, BN identity).
func benchModel(_ arch: String, seed: UInt64) throws -> Model {
    let m = try ModelLoader.fresh(arch: arch)
    var g = SeededGenerator(seed: seed)
    initialiseLikePyTorch(m.graph, generator: &g)
    return m
}


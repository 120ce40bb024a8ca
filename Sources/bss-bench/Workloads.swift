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

/// Median wall-clock seconds of `reps` runs after `warmup` untimed runs.
func measure(_ w: Workload, warmup: Int, reps: Int) throws -> (seconds: Double, items: Int) {
    var items = 0
    for _ in 0..<warmup { items = try w.run() }
    var times: [Double] = []
    for _ in 0..<reps {
        let t0 = DispatchTime.now().uptimeNanoseconds
        items = try w.run()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    times.sort()
    return (times[times.count / 2], items)
}

/// Inputs shaped like normalised CIFAR images (smooth, zero-mean), deterministic.
func benchInputs(_ n: Int, seed: UInt64) -> Tensor {
    var g = SeededGenerator(seed: seed)
    var x = Tensor(shape: [n, 3, 32, 32])
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


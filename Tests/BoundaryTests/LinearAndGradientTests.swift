import Foundation
import XCTest
import Boundary
import ModelIO
import NN
import Tensor
import TestSupport

/// The step rule on linear classifiers (where it is exact) and finite-difference checks of the
/// search gradient `∂(f_b − f_k)/∂x` through a CNN with BatchNorm and a residual network.
final class LinearAndGradientTests: XCTestCase {
    /// bss-linear.npz: with η = 1 and ‖g‖², one step lands every pair at L = −ε (to float
    /// precision) with the target on top: accepted after exactly one step.
    func testOneStepLandsAtMinusEpsOnALinearClassifier() throws {
        let a = try Npz.readDictionary(URL(fileURLWithPath: fixture("torch/bss-linear.npz")))
        // The fixture holds the weights (keys W, b) next to the test data.
        let weights = StateDict(entries: [("W", a["W"]!), ("b", a["b"]!)])
        let model = try ModelLoader.fromStateDict(weights, arch: fixture("torch/bss-linear.json"), file: "bss-linear.npz",
                                                  format: .stateDictNPZ)
        let x = try a["x"]!.tensor
        let base = try a["base_class"]!.int64s().map { Int($0) }, target = try a["targets"]!.int64s().map { Int($0) }
        let eps = try a["eps"]!.floats()[0]
        let result = BSSGenerator(teacher: model.graph, parameters: .paper).run(x: x, base: base, target: target)
        XCTAssertEqual(result.status, [BSSStatus](repeating: .accepted, count: base.count))
        XCTAssertEqual(result.steps, [Int](repeating: 1, count: base.count))
        for j in 0..<base.count {
            let row = Array(result.logits.data[(j * 4)..<((j + 1) * 4)])
            let scale = row.map { abs($0) }.max()!
            // Float rounding of the logits themselves bounds how close L can get to −ε.
            XCTAssertEqual(result.margins[j], -eps, accuracy: 8 * scale.ulp, "pair \(j): L after one step")
        }
        assertAllClose(result.x.data, try a["x_step1"]!.floats(), atol: 1e-5, rtol: 1e-5, "x after one step")
    }

    /// A hand-made 3-class linear model in 2-D: from x0 = (2, 0), b = 0, k = 1, the one step lands
    /// at x1 = (−ε/2, 0), where L = −ε. Class 2's constant logit decides what happens there:
    /// below the others → accepted; above → the step entered a third class → rejected.
    func testLinearStepIsAcceptedOrRejectedByWhoIsOnTop() throws {
        func model(thirdClassBias: Float) throws -> Graph {
            let g = Graph(inputShape: [2])
            let fc = Linear(inFeatures: 2, outFeatures: 3)
            fc.weight.value = Tensor(shape: [3, 2], data: [1, 0, -1, 0, 0, 0])
            fc.bias!.value = Tensor(shape: [3], data: [0, 0, thirdClassBias])
            try g.add("fc", fc)
            return g
        }
        let x = Tensor(shape: [1, 2], data: [2, 0])
        let eps: Float = 1e-4
        let accepted = BSSGenerator(teacher: try model(thirdClassBias: -1), parameters: .paper).run(x: x, base: [0], target: [1])
        XCTAssertEqual(accepted.status, [.accepted])
        XCTAssertEqual(accepted.steps, [1])
        XCTAssertEqual(accepted.margins[0], -eps, accuracy: 4 * Float(2).ulp)
        XCTAssertEqual(accepted.x.data[0], -eps / 2, accuracy: 4 * Float(2).ulp)
        let rejected = BSSGenerator(teacher: try model(thirdClassBias: 1), parameters: .paper).run(x: x, base: [0], target: [1])
        XCTAssertEqual(rejected.status, [.rejectedOtherClass])
        XCTAssertEqual(rejected.steps, [1])
        XCTAssertEqual(rejected.margins[0], -eps, accuracy: 4 * Float(2).ulp)
        // Official mode on the same model: the pair freezes on leaving class 0, status "crossed elsewhere".
        let official = BSSGenerator(teacher: try model(thirdClassBias: 1), parameters: .official).run(x: x, base: [0], target: [1])
        XCTAssertEqual(official.status, [.rejectedOtherClass])
        // A zero step limit evaluates x0 only.
        let none = BSSGenerator(teacher: try model(thirdClassBias: -1), parameters: BSSParameters(maxSteps: 0)).run(x: x, base: [0], target: [1])
        XCTAssertEqual(none.status, [.rejectedStepLimit])
        XCTAssertEqual(none.steps, [0])
        XCTAssertEqual(none.x, x)
    }

    /// A pair whose gradient vanishes cannot move: it stays put and hits the step limit.
    func testVanishingGradientStaysPut() throws {
        let g = Graph(inputShape: [2])
        let fc = Linear(inFeatures: 2, outFeatures: 2)
        fc.weight.value = Tensor(shape: [2, 2], data: [0, 0, 0, 0])
        fc.bias!.value = Tensor(shape: [2], data: [1, 0])
        try g.add("fc", fc)
        let x = Tensor(shape: [1, 2], data: [0.5, -0.5])
        let r = BSSGenerator(teacher: g, parameters: .paper).run(x: x, base: [0], target: [1])
        XCTAssertEqual(r.status, [.rejectedStepLimit])
        XCTAssertEqual(r.steps, [10])
        XCTAssertEqual(r.x, x)
    }

    /// The search gradient `g_j = ∂(f_b − f_k)/∂x_j` from `marginGradient` (float32, the engine)
    /// against central differences of the same margin evaluated in float64 by `Reference64`.
    ///
    /// Robust by design: the float64 margin has rounding noise ~1e-15, so h = 1e-5 gives a
    /// quotient accurate to ~1e-10 while an interval of 2e-5 rarely holds a ReLU or max-pool
    /// kink. An element whose interval does hold one is recognised exactly — these networks are
    /// piecewise linear in inference mode, so the quotients with h and h/2 agree to rounding
    /// unless a kink lies within h — and skipped (at most 2%). What remains is the engine's own
    /// float32 error, which is what the tolerance bounds: 1e-4 of the largest gradient element
    /// plus 1e-3 relative (float32 backprop through these depths errs by ~1e-6 of the largest
    /// element; the bound leaves a factor of ~50 for other kernels, none for a wrong gradient).
    func checkMarginGradient(_ model: Model, batch: Int, elements: Int = 300, file: StaticString = #filePath, line: UInt = #line) {
        let graph = model.graph, classes = model.classes
        let x = GradientCheck.randomTensor([batch] + graph.inputShape, seed: 3)
        let base = (0..<batch).map { $0 % classes }
        let target = (0..<batch).map { (base[$0] + 1 + $0 % (classes - 1)) % classes }
        let result = BSSGenerator(teacher: graph, parameters: .paper).marginGradient(x: x, base: base, target: target)
        let g = result.gradient, per = g.sampleCount
        let x64 = x.data.map(Double.init)
        func margin(_ j: Int, _ xs: ArraySlice<Double>) -> Double {
            guard let logits = Reference64.forward(graph, Array(xs)) else { return .nan }
            return logits[base[j]] - logits[target[j]]
        }
        // The reference must be the same network: its margins match the engine's to float32 precision.
        for j in 0..<batch {
            let m = margin(j, x64[(j * per)..<((j + 1) * per)])
            XCTAssertFalse(m.isNaN, "Reference64 does not cover a layer of this model", file: file, line: line)
            XCTAssertEqual(m, Double(result.margins[j]), accuracy: 1e-4, "pair \(j): float64 margin", file: file, line: line)
        }
        func quotient(_ i: Int, _ h: Double) -> Double {
            let j = i / per
            var xs = x64[(j * per)..<((j + 1) * per)]
            xs[i] = x64[i] + h
            let plus = margin(j, xs)
            xs[i] = x64[i] - h
            return (plus - margin(j, xs)) / (2 * h)
        }
        let largest = g.data.map { abs(Double($0)) }.max() ?? 0
        var checked = 0, kinks = 0, failures: [String] = [], worst = 0.0
        for c in 0..<elements {
            let i = c * x.count / elements
            let fine = quotient(i, 1e-5), coarse = quotient(i, 2e-5)
            if abs(fine - coarse) > 1e-9 * max(1, abs(fine)) { kinks += 1; continue }
            checked += 1
            let err = abs(Double(g.data[i]) - fine)
            worst = max(worst, err / max(largest, 1e-30))
            if err > 1e-4 * largest + 1e-3 * abs(fine) { failures.append("[\(i)] analytic \(g.data[i]), numeric \(fine)") }
        }
        XCTAssertEqual(failures, [], file: file, line: line)
        XCTAssertLessThanOrEqual(kinks, elements / 50, "too many elements near a kink", file: file, line: line)
        XCTAssertEqual(checked + kinks, elements, file: file, line: line)
        print("margin gradient check: \(checked) checked, \(kinks) at kinks, max error / largest element \(worst)")
    }

    func testMarginGradientOnCNNWithBatchNorm() throws {
        // SmallCNN: conv + BatchNorm (running statistics) + residual add + max pool + dropout.
        checkMarginGradient(try ModelLoader.load(fixture("torch/small-cnn.npz"), arch: fixture("torch/small-cnn.json")), batch: 3)
    }

    func testMarginGradientOnResidualNetwork() throws {
        // CIFAR ResNet8: identity and option-A shortcuts, BatchNorm, global average pooling.
        checkMarginGradient(try ModelLoader.load(fixture("torch/cifar-resnet8.npz"), arch: "heo2019-resnet8"), batch: 1, elements: 60)
    }
}

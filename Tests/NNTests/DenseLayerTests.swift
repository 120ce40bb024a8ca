import XCTest
import TestSupport
import NN
import Tensor

/// Element-wise `|a − e| ≤ atol + rtol·|e|`, reporting the first mismatches with their index.
/// (The one tolerance helper for NNTests' numeric comparisons; order-sensitive by construction.)

final class DenseLayerTests: XCTestCase {
    func randomLinear(_ i: Int, _ o: Int, bias: Bool = true) -> Linear {
        let l = Linear(inFeatures: i, outFeatures: o, bias: bias)
        let l_ = LayerCall(l)
        l.weight.value = GradientCheck.randomTensor([o, i], seed: 1)
        l.bias?.value = GradientCheck.randomTensor([o], seed: 2)
        return l
    }

    func testLinearForwardByHand() {
        let l = Linear(inFeatures: 2, outFeatures: 3)
        let l_ = LayerCall(l)
        l.weight.value = Tensor(shape: [3, 2], data: [1, 2, 3, 4, 5, 6])
        l.bias!.value = Tensor(shape: [3], data: [0.5, -1, 0])
        let y = l_.forward([Tensor(shape: [2, 2], data: [1, -1, 0, 2])], mode: .inference)
        XCTAssertEqual(y.shape, [2, 3])
        // Row 1: [1−2, 3−4, 5−6] + b;  row 2: [4, 8, 12] + b.
        assertAllClose(y.data, [-0.5, -2, -1, 4.5, 7, 12], "Linear forward")
        XCTAssertEqual(l.parameters.map(\.name), ["weight", "bias"])
        XCTAssertEqual(l.parameterCount, 9)
    }

    func testLinearGradients() {
        let x = GradientCheck.randomTensor([5, 7], seed: 3)
        let withBias = GradientCheck.check(randomLinear(7, 4), inputs: [x])
        XCTAssertTrue(withBias.passed, withBias.description)
        let noBias = GradientCheck.check(randomLinear(7, 4, bias: false), inputs: [x])
        XCTAssertTrue(noBias.passed, noBias.description)
        XCTAssertEqual(randomLinear(7, 4, bias: false).parameters.map(\.name), ["weight"])
    }

    func testLinearAccumulatesParameterGradients() {
        let l = randomLinear(3, 2)
        let l_ = LayerCall(l)
        let x = GradientCheck.randomTensor([4, 3], seed: 5), dy = GradientCheck.randomTensor([4, 2], seed: 6)
        _ = l_.forward([x], mode: .training)
        _ = l_.backward(dy, parameterGradients: true)
        let once = l.weight.grad
        _ = l_.backward(dy, parameterGradients: true)
        assertAllClose(l.weight.grad.data, once.data.map { 2 * $0 }, "accumulated twice")
        _ = l_.backward(dy, parameterGradients: false)
        assertAllClose(l.weight.grad.data, once.data.map { 2 * $0 }, "input-only backward leaves grads")
    }

    func testShapeErrors() {
        XCTAssertThrowsError(try Linear(inFeatures: 4, outFeatures: 2).outputShape(for: [[3]]))
        XCTAssertThrowsError(try Linear(inFeatures: 4, outFeatures: 2).outputShape(for: [[4, 1, 1]]))
        XCTAssertThrowsError(try Add().outputShape(for: [[3], [4]]))
        XCTAssertThrowsError(try Add().outputShape(for: [[3]]))
        XCTAssertThrowsError(try Reshape(shape: [5]).outputShape(for: [[2, 3]]))
        XCTAssertThrowsError(try Reshape(shape: [4, -1]).outputShape(for: [[2, 3]]))
        XCTAssertEqual(try Reshape(shape: [3, -1]).outputShape(for: [[2, 3, 2]]), [3, 4])
        XCTAssertEqual(try Linear(inFeatures: 4, outFeatures: 2).outputShape(for: [[4]]), [2])
        let graph = Graph(inputShape: [6])
        XCTAssertThrowsError(try graph.add("fc", Linear(inFeatures: 5, outFeatures: 2))) { error in
            guard case let NNError.shape(node, message) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(node, "fc")
            XCTAssertTrue(message.contains("[5]") && message.contains("[6]"), message)
        }
    }

    func testAddIdentityReshapeGradients() {
        let xs = (0..<3).map { GradientCheck.randomTensor([2, 3, 2, 2], seed: UInt64(10 + $0)) }
        let add = GradientCheck.check(Add(), inputs: xs)
        XCTAssertTrue(add.passed, add.description)
        assertAllClose(Add().forward(xs, mode: .inference).data,
                       (0..<xs[0].count).map { xs[0].data[$0] + xs[1].data[$0] + xs[2].data[$0] }, "Add forward")
        let id = GradientCheck.check(Identity(), inputs: [xs[0]])
        XCTAssertTrue(id.passed, id.description)
        let r = Reshape(shape: [-1])
        let y = r.forward([xs[0]], mode: .inference)
        XCTAssertEqual(y.shape, [2, 12])
        XCTAssertEqual(y.data, xs[0].data)
        let rc = GradientCheck.check(Reshape(shape: [4, 3]), inputs: [xs[0]])
        XCTAssertTrue(rc.passed, rc.description)
    }

    func testDropoutInferenceIsIdentity() {
        let d = Dropout(p: 0.5)
        let d_ = LayerCall(d)
        let x = GradientCheck.randomTensor([4, 10], seed: 1)
        XCTAssertEqual(d_.forward([x], mode: .inference), x)
        XCTAssertEqual(d_.backward(x, parameterGradients: true)[0], x)
    }

    func testDropoutTrainingMask() {
        let d = Dropout(p: 0.25, generator: SeededGenerator(seed: 9))
        let d_ = LayerCall(d)
        let x = Tensor(shape: [50, 40], repeating: 1)
        let y = d_.forward([x], mode: .training)
        // Every value is dropped (0) or scaled by 1/(1 − p); about 75 % survive.
        XCTAssertTrue(y.data.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-6 })
        let kept = Float(y.data.filter { $0 != 0 }.count) / Float(y.count)
        XCTAssertEqual(kept, 0.75, accuracy: 0.03)
        // Backward uses the same mask.
        XCTAssertEqual(d_.backward(x, parameterGradients: true)[0], y)
        // A reseeded generator reproduces the mask; the generator has advanced otherwise.
        d.generator = SeededGenerator(seed: 9)
        XCTAssertEqual(d_.forward([x], mode: .training), y)
        XCTAssertNotEqual(d_.forward([x], mode: .training), y)
        XCTAssertTrue(Dropout(p: 1).forward([x], mode: .training).data.allSatisfy { $0 == 0 })
        XCTAssertEqual(Dropout(p: 0).forward([x], mode: .training), x)
    }

    func testDropoutGradientWithFixedMask() {
        let d = Dropout(p: 0.4, generator: SeededGenerator(seed: 4))
        let d_ = LayerCall(d)
        let saved = d.generator.state
        let x = GradientCheck.randomTensor([3, 20], seed: 2)
        // Restoring the generator before each forward fixes the mask across the check's evaluations.
        let report = GradientCheck.check(
            forward: { d.generator.state = saved; return d_.forward($0, mode: .training) },
            backward: { d_.backward($0, parameterGradients: true) },
            parameters: [], inputs: [x], h: 1e-2, atol: 2e-3, rtol: 2e-2, maxPerTensor: 400, seed: 7)
        XCTAssertTrue(report.passed, report.description)
    }

    /// A stand-in for the Conv2D layer another file provides: initialisation matches on the
    /// parameters' names and shapes, not on the class.
    final class FakeConv: Layer {
        let weight = Parameter(name: "weight", value: Tensor.zeros([4, 3, 3, 3]))
        let bias = Parameter(name: "bias", value: Tensor.zeros([4]))
        var kind: String { "Conv2D" }
        var parameters: [Parameter] { [weight, bias] }
        func outputShape(for inputShapes: [[Int]]) throws -> [Int] { [4 * 4 * 4] }
        func forward(_ inputs: [Tensor], mode: Mode) -> Tensor { Tensor.zeros([inputs[0].batch, 64]) }
        func backward(_ gradOutput: Tensor, _ record: ForwardRecord, parameterGradients: Bool) -> [Tensor] { [] }
    }

    func testInitialiseLikePyTorch() throws {
        let g = Graph(inputShape: [3, 4, 4])
        let conv = FakeConv()
        try g.add("conv", conv)
        let bn = BatchNorm(channels: 64)
        try g.add("bn", bn)
        let fc = Linear(inFeatures: 64, outFeatures: 10)
        try g.add("fc", fc)
        bn.weight.value.data[0] = 3; bn.runningVar.value.data[1] = 7; bn.numBatchesTracked = 5
        var gen = SeededGenerator(seed: 1)
        initialiseLikePyTorch(g, generator: &gen)

        func checkUniform(_ p: Parameter, bound: Float) {
            XCTAssertTrue(p.value.data.allSatisfy { abs($0) <= bound }, "\(p.name) exceeds ±\(bound)")
            // U(−b, b) has standard deviation b/√3; 27 values or more estimate it loosely.
            let rms = (p.value.data.map { $0 * $0 }.reduce(0, +) / Float(p.value.count)).squareRoot()
            XCTAssertEqual(rms, bound / Float(3).squareRoot(), accuracy: bound * 0.35, p.name)
        }
        checkUniform(conv.weight, bound: 1 / Float(27).squareRoot())   // fan_in = 3·3·3
        checkUniform(conv.bias, bound: 1 / Float(27).squareRoot())
        checkUniform(fc.weight, bound: 1 / 8)                      // fan_in = 64
        checkUniform(fc.bias!, bound: 1 / 8)
        XCTAssertEqual(bn.weight.value.data, [Float](repeating: 1, count: 64))
        XCTAssertEqual(bn.bias.value.data, [Float](repeating: 0, count: 64))
        XCTAssertEqual(bn.runningMean.value.data, [Float](repeating: 0, count: 64))
        XCTAssertEqual(bn.runningVar.value.data, [Float](repeating: 1, count: 64))
        XCTAssertEqual(bn.numBatchesTracked, 0)

        // Same seed, same weights.
        let before = fc.weight.value
        var again = SeededGenerator(seed: 1)
        initialiseLikePyTorch(g, generator: &again)
        XCTAssertEqual(fc.weight.value, before)
    }
}

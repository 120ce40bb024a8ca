import NN
import Tensor
import TestSupport
import XCTest

/// The executor side of `Graph`: what a forward pass keeps, feature taps and gradients that
/// enter at taps (docs/design.md, "Tensor storage and buffers").
final class GraphExecutorTests: XCTestCase {
    /// conv → BN → tanh → conv (+ residual from the first tanh) → tanh → GAP → linear. Tanh,
    /// not ReLU: the model is smooth, so finite differences hold at any point (ReLU's own
    /// gradient is checked in ActivationTests); tanh reads its output in backward like ReLU.
    func residualGraph() throws -> Graph {
        var gen = SeededGenerator(seed: 4)
        func conv(_ cin: Int, _ cout: Int) -> Conv2D {
            let c = Conv2D(inChannels: cin, outChannels: cout, kernel: (3, 3), padding: Padding2D(symmetric: 1, 1))
            for i in 0..<c.weight.value.count { c.weight.value.data[i] = gen.nextFloat() - 0.5 }
            for i in 0..<c.bias!.value.count { c.bias!.value.data[i] = gen.nextFloat() - 0.5 }
            return c
        }
        let g = Graph(inputShape: [2, 6, 6])
        try g.add("conv1", conv(2, 4))
        let bn = BatchNorm(channels: 4)
        for i in 0..<4 { bn.runningMean.value.data[i] = 0.1 * Float(i); bn.runningVar.value.data[i] = 1 + 0.2 * Float(i) }
        try g.add("bn1", bn)
        let relu1 = try g.add("relu1", Tanh())
        let conv2 = try g.add("conv2", conv(4, 4))
        try g.add("add", Add(), inputs: [.node(conv2), .node(relu1)])
        try g.add("relu2", Tanh())
        try g.add("pool", GlobalAvgPool())
        let fc = Linear(inFeatures: 4, outFeatures: 3)
        for i in 0..<fc.weight.value.count { fc.weight.value.data[i] = gen.nextFloat() - 0.5 }
        try g.add("fc", fc)
        return g
    }

    /// A forward pass that keeps nothing for backward gives the same numbers as one that keeps
    /// its records, and backward works after the keeping one.
    func testForwardWithoutRecordsGivesTheSameOutput() throws {
        let g = try residualGraph()
        let x = GradientCheck.randomTensor([3, 2, 6, 6], seed: 1)
        let light = g.forward(x, mode: .inference, keepForBackward: false)
        let kept = g.forward(x, mode: .inference)
        XCTAssertEqual(light, kept)
        let dx = g.backward(GradientCheck.randomTensor([3, 3], seed: 2), parameterGradients: false)
        XCTAssertEqual(dx.shape, x.shape)
    }

    /// A whole graph still passes the finite-difference check in training mode (BatchNorm batch
    /// statistics, the residual add's fan-out, an activation reading its own output).
    func testGraphGradientsThroughTheExecutor() throws {
        let g = try residualGraph()
        let report = GradientCheck.check(g, input: GradientCheck.randomTensor([3, 2, 6, 6], seed: 5), mode: .training,
                                         h: 1e-2, atol: 3e-3, rtol: 3e-2, maxPerTensor: 60)
        XCTAssertTrue(report.passed, report.description)
    }

    /// Taps return the tapped nodes' activations; a gradient entering at a tap equals the
    /// gradient of the graph cut at that node.
    func testTapsAndTapGradients() throws {
        let g = try residualGraph(), cut = try residualGraph()
        let relu1 = g.index(of: "relu1")!, add = g.index(of: "add")!
        cut.setOutput(add)
        let x = GradientCheck.randomTensor([2, 2, 6, 6], seed: 7)
        let (out, taps) = g.forward(x, mode: .inference, taps: [add, relu1])
        XCTAssertEqual(out, g.forward(x, mode: .inference, keepForBackward: false))
        XCTAssertEqual(taps[0], cut.forward(x, mode: .inference, keepForBackward: false))
        XCTAssertEqual(taps[1].shape, [2, 4, 6, 6])

        let r = GradientCheck.randomTensor(taps[0].shape, seed: 8)
        _ = g.forward(x, mode: .inference, taps: [add])
        let viaTap = g.backward(nil, tapGradients: [add: r], parameterGradients: false)
        _ = cut.forward(x, mode: .inference)
        let viaCut = cut.backward(r, parameterGradients: false)
        assertAllClose(viaTap.data, viaCut.data, atol: 1e-6, rtol: 1e-6, "gradient entering at a tap")

        // Output and tap gradients add up.
        let q = GradientCheck.randomTensor([2, 3], seed: 9)
        _ = g.forward(x, mode: .inference)
        let fromOutput = g.backward(q, parameterGradients: false)
        _ = g.forward(x, mode: .inference, taps: [add])
        let both = g.backward(q, tapGradients: [add: r], parameterGradients: false)
        assertAllClose(both.data, zip(fromOutput.data, viaCut.data).map { $0 + $1 }, atol: 1e-5, rtol: 1e-5, "sum of both")
    }
}

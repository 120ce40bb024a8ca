import NN
import Tensor
import TestSupport
import XCTest

/// Fused execution in `Graph` (docs/design.md, "Fusion"): BatchNorm folded into convolutions in
/// inference, BatchNorm/Add + ReLU in both modes. Against the node-by-node path (`fuses = false`).
final class FusionTests: XCTestCase {
    override func tearDown() { ConvBackend.current = ConvBackend.automatic }

    /// stem conv → BN → ReLU, a residual block conv → BN → ReLU → conv → BN → Add → ReLU, a
    /// pre-activation BN → ReLU, a bias-free conv → ReLU, then GAP → linear. BatchNorm with
    /// non-trivial running statistics and affine parameters.
    func model(seed: UInt64 = 4) throws -> Graph {
        var gen = SeededGenerator(seed: seed)
        func conv(_ cin: Int, _ cout: Int, bias: Bool = true) -> Conv2D {
            let c = Conv2D(inChannels: cin, outChannels: cout, kernel: (3, 3), padding: Padding2D(symmetric: 1, 1), bias: bias)
            for i in 0..<c.weight.value.count { c.weight.value.data[i] = (gen.nextFloat() - 0.5) * 0.6 }
            if let b = c.bias { for i in 0..<b.value.count { b.value.data[i] = gen.nextFloat() - 0.5 } }
            return c
        }
        func bn(_ c: Int) -> BatchNorm {
            let b = BatchNorm(channels: c)
            for i in 0..<c {
                b.runningMean.value.data[i] = gen.nextFloat() - 0.5
                b.runningVar.value.data[i] = 0.5 + gen.nextFloat()
                b.weight.value.data[i] = 0.5 + gen.nextFloat()
                b.bias.value.data[i] = gen.nextFloat() - 0.5
            }
            return b
        }
        let g = Graph(inputShape: [3, 8, 8])
        try g.add("conv1", conv(3, 8, bias: false))
        try g.add("bn1", bn(8))
        let r1 = try g.add("relu1", ReLU())
        try g.add("b.conv1", conv(8, 8))
        try g.add("b.bn1", bn(8))
        try g.add("b.relu1", ReLU())
        try g.add("b.conv2", conv(8, 8))
        let main = try g.add("b.bn2", bn(8))
        try g.add("b.add", Add(), inputs: [.node(main), .node(r1)])
        try g.add("b.relu2", ReLU())
        try g.add("pre.bn", bn(8))
        try g.add("pre.relu", ReLU())
        try g.add("conv3", conv(8, 6, bias: false))
        try g.add("relu3", ReLU())
        try g.add("pool", GlobalAvgPool())
        let fc = Linear(inFeatures: 6, outFeatures: 4)
        for i in 0..<fc.weight.value.count { fc.weight.value.data[i] = gen.nextFloat() - 0.5 }
        try g.add("fc", fc)
        return g
    }

    func backends() -> [ConvBackend] { ConvBackend.oneDNNAvailable ? [.openBLAS, .oneDNN] : [.openBLAS] }

    /// Inference: the folded model gives the layer-by-layer numbers to rounding, forward and input
    /// gradient, on both convolution backends.
    func testInferenceFusionMatchesTheLayers() throws {
        for backend in backends() {
            ConvBackend.current = backend
            let g = try model()
            let x = GradientCheck.randomTensor([5, 3, 8, 8], seed: 1), dy = GradientCheck.randomTensor([5, 4], seed: 2)
            g.fuses = false
            let y0 = g.forward(x, mode: .inference), dx0 = g.backward(dy, parameterGradients: false)
            g.fuses = true
            let y1 = g.forward(x, mode: .inference), dx1 = g.backward(dy, parameterGradients: false)
            assertAllClose(y1.data, y0.data, atol: 1e-5, rtol: 1e-5, "\(backend) logits")
            assertAllClose(dx1.data, dx0.data, atol: 1e-6, rtol: 1e-4, "\(backend) input gradient")
            XCTAssertEqual(g.forward(x, mode: .inference, keepForBackward: false), y1, "\(backend): records do not change numbers")
        }
    }

    /// A sample's fused output and input gradient do not depend on its batch, and repeat bit for bit.
    func testInferenceFusionIsBatchInvariantAndRepeats() throws {
        for backend in backends() {
            ConvBackend.current = backend
            let g = try model()
            let x = GradientCheck.randomTensor([6, 3, 8, 8], seed: 3), dy = GradientCheck.randomTensor([6, 4], seed: 4)
            let y = g.forward(x, mode: .inference), dx = g.backward(dy, parameterGradients: false)
            XCTAssertEqual(g.forward(x, mode: .inference), y)
            XCTAssertEqual(g.backward(dy, parameterGradients: false), dx)
            for r in [0, 4] {
                let one = g.forward(x.slice(rows: r..<(r + 1)), mode: .inference)
                let dxOne = g.backward(dy.slice(rows: r..<(r + 1)), parameterGradients: false)
                XCTAssertEqual(one.data, Array(y.data[(r * 4)..<(r * 4 + 4)]), "\(backend) row \(r)")
                XCTAssertEqual(dxOne.data, Array(dx.data[(r * 192)..<(r * 192 + 192)]), "\(backend) row \(r) gradient")
            }
        }
    }

    /// The folded weights follow every parameter change: optimiser-style in-place updates of a
    /// convolution weight, a BatchNorm running statistic updated by a training forward, a loader
    /// assigning a new value.
    func testFoldedWeightsAreRefreshedWhenParametersChange() throws {
        let g = try model()
        let x = GradientCheck.randomTensor([4, 3, 8, 8], seed: 5)
        func check(_ what: String) {
            g.fuses = false
            let reference = g.forward(x, mode: .inference, keepForBackward: false)
            g.fuses = true
            assertAllClose(g.forward(x, mode: .inference, keepForBackward: false).data, reference.data, atol: 1e-5, rtol: 1e-5, what)
        }
        check("initial")
        let conv = g.nodes[g.index(of: "b.conv1")!].layer as! Conv2D
        conv.weight.value.data.withUnsafeMutableBufferPointer { w in for i in 0..<w.count { w[i] *= -1.5 } }
        check("conv weight updated in place")
        _ = g.forward(x, mode: .training)         // running statistics move
        check("after a training forward")
        let bn = g.nodes[g.index(of: "bn1")!].layer as! BatchNorm
        bn.runningVar.value = Tensor(shape: [8], repeating: 4)
        check("running variance assigned")
        bn.weight.value.data[3] = -2
        check("gamma element assigned")
    }

    /// Finite differences of the input gradient through the fused inference model (BSS' path:
    /// folded weights, no parameter gradients), and parameter gradients after a fused forward
    /// equal to the node-by-node ones (the fused blocks rerun the unfused layers for them; the
    /// ReLU kinks of this model make finite differences of whole-layer weights unreliable, and
    /// each layer's parameter gradients are checked by finite differences in its own tests).
    func testInferenceGradients() throws {
        for backend in backends() {
            ConvBackend.current = backend
            let g = try model()
            let x = GradientCheck.randomTensor([2, 3, 8, 8], seed: 6)
            let inputOnly = GradientCheck.check(forward: { g.forward($0[0], mode: .inference) },
                                                backward: { [g.backward($0, parameterGradients: false)] },
                                                parameters: [], inputs: [x], h: 1e-2, atol: 3e-3, rtol: 3e-2,
                                                maxPerTensor: 120, seed: 8)
            XCTAssertTrue(inputOnly.passed, "\(backend) input only: \(inputOnly.description)")
            let dy = GradientCheck.randomTensor([2, 4], seed: 9)
            var grads: [[Tensor]] = []
            for fused in [false, true] {
                g.fuses = fused
                g.zeroGrad()
                _ = g.forward(x, mode: .inference)
                _ = g.backward(dy, parameterGradients: true)
                grads.append(g.trainableParameters.map(\.grad))
            }
            for (a, b) in zip(grads[0], grads[1]) { assertAllClose(b.data, a.data, atol: 1e-5, rtol: 1e-4, "\(backend) parameter gradient") }
        }
    }

    /// Training: BatchNorm (+ Add) + ReLU fused is bit-identical to the separate nodes, forward,
    /// input gradient, parameter gradients and running statistics.
    func testTrainingFusionIsExact() throws {
        let a = try model(), b = try model()
        b.fuses = false
        let x = GradientCheck.randomTensor([4, 3, 8, 8], seed: 7), dy = GradientCheck.randomTensor([4, 4], seed: 8)
        let ya = a.forward(x, mode: .training), yb = b.forward(x, mode: .training)
        XCTAssertEqual(ya, yb)
        XCTAssertEqual(a.backward(dy), b.backward(dy))
        for (p, q) in zip(a.namedParameters(), b.namedParameters()) {
            XCTAssertEqual(p.parameter.value, q.parameter.value, p.key)
            XCTAssertEqual(p.parameter.grad, q.parameter.grad, p.key)
        }
    }

    /// Taps inside a fusable chain keep that chain unfused, so the tapped activation exists.
    func testTapInsideAChainKeepsItsActivation() throws {
        let g = try model(), plain = try model()
        plain.fuses = false
        let x = GradientCheck.randomTensor([2, 3, 8, 8], seed: 9)
        let bn = g.index(of: "b.bn1")!
        let tapped = g.forward(x, mode: .inference, taps: [bn]).taps[0]
        let reference = plain.forward(x, mode: .inference, taps: [bn]).taps[0]
        XCTAssertEqual(tapped.shape, reference.shape)
        // (the stem before it is still folded: equal to rounding)
        assertAllClose(tapped.data, reference.data, atol: 1e-5, rtol: 1e-5, "tapped BatchNorm output")
    }
}

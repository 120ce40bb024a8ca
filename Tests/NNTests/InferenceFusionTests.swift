@testable import NN
import Tensor
import TestSupport
import XCTest

/// The inference-only fusions and oneDNN calls beyond `FusionTests`' (docs/design.md, "Fusion"
/// and "Convolution backends"): ReLU6 fused into convolutions (oneDNN's clip post-op, or applied
/// per sample on the OpenBLAS and depthwise paths), pointwise convolutions on small images
/// through oneDNN, and oneDNN's inference calls over groups of `BSS_DNNL_GROUP` samples, which
/// must give every sample the bits it gets alone.
final class InferenceFusionTests: XCTestCase {
    override func tearDown() { ConvBackend.current = ConvBackend.automatic }

    func backends() -> [ConvBackend] { ConvBackend.oneDNNAvailable ? [.openBLAS, .oneDNN] : [.openBLAS] }

    /// MobileNetV2-like, on 3x8x8 inputs: stem 3x3 stride 2 → BN → ReLU6 (4x4 from here, so the
    /// 1x1 convolutions take oneDNN in inference), an inverted residual block 1x1 expand → BN →
    /// ReLU6 → depthwise 3x3 → BN → ReLU6 → 1x1 project → BN → Add, a bias-carrying 1x1 → ReLU6
    /// without BatchNorm, then GAP → linear.
    func model(seed: UInt64 = 11) throws -> Graph {
        var gen = SeededGenerator(seed: seed)
        func conv(_ cin: Int, _ cout: Int, kernel: Int = 1, stride: Int = 1, groups: Int = 1, bias: Bool = false,
                  scale: Float = 1.2) -> Conv2D {
            let c = Conv2D(inChannels: cin, outChannels: cout, kernel: (kernel, kernel), stride: (stride, stride),
                           padding: Padding2D(symmetric: kernel / 2, kernel / 2), groups: groups, bias: bias)
            for i in 0..<c.weight.value.count { c.weight.value.data[i] = (gen.nextFloat() - 0.5) * scale }
            if let b = c.bias { for i in 0..<b.value.count { b.value.data[i] = gen.nextFloat() - 0.5 } }
            return c
        }
        func bn(_ c: Int) -> BatchNorm {
            let b = BatchNorm(channels: c)
            for i in 0..<c {
                b.runningMean.value.data[i] = gen.nextFloat() - 0.5
                b.runningVar.value.data[i] = 0.5 + gen.nextFloat()
                b.weight.value.data[i] = 0.5 + 2 * gen.nextFloat()
                b.bias.value.data[i] = gen.nextFloat() + 0.5
            }
            return b
        }
        let g = Graph(inputShape: [3, 8, 8])
        // (large stem weights, so its ReLU6 clips at both ends)
        try g.add("stem", conv(3, 8, kernel: 3, stride: 2, scale: 6))
        try g.add("stem.bn", bn(8))
        let stem = try g.add("stem.relu6", PointwiseActivation(.relu6))
        try g.add("expand", conv(8, 24))
        try g.add("expand.bn", bn(24))
        try g.add("expand.relu6", PointwiseActivation(.relu6))
        try g.add("dw", conv(24, 24, kernel: 3, groups: 24))
        try g.add("dw.bn", bn(24))
        try g.add("dw.relu6", PointwiseActivation(.relu6))
        try g.add("project", conv(24, 8))
        let project = try g.add("project.bn", bn(8))
        try g.add("add", Add(), inputs: [.node(project), .node(stem)])
        try g.add("head", conv(8, 16, bias: true))
        try g.add("head.relu6", PointwiseActivation(.relu6))
        try g.add("pool", GlobalAvgPool())
        let fc = Linear(inFeatures: 16, outFeatures: 5)
        for i in 0..<fc.weight.value.count { fc.weight.value.data[i] = gen.nextFloat() - 0.5 }
        try g.add("fc", fc)
        return g
    }

    /// The plan folds every convolution with its BatchNorm and ReLU6.
    func testPlanFusesReLU6() throws {
        let g = try model()
        let blocks = FusionPlan.blocks(g.nodes, mode: .inference).compactMap { $0 as? FusedConvBlock }
        XCTAssertEqual(blocks.map { g.nodes[$0.members[0]].name }, ["stem", "expand", "dw", "project", "head"])
        XCTAssertEqual(blocks.map(\.activation), [.relu6, .relu6, .relu6, .none, .relu6])
    }

    /// Fused (ReLU6 in the convolution call) against node by node: logits and input gradient to
    /// rounding, on both backends; and the clipping really happens (some activations reach 6).
    func testReLU6FusionMatchesTheLayers() throws {
        for backend in backends() {
            ConvBackend.current = backend
            let g = try model()
            let x = GradientCheck.randomTensor([7, 3, 8, 8], seed: 12), dy = GradientCheck.randomTensor([7, 5], seed: 13)
            g.fuses = false
            let stem = g.index(of: "stem.relu6")!
            let (y0, taps) = g.forward(x, mode: .inference, taps: [stem])
            let dx0 = g.backward(dy, parameterGradients: false)
            XCTAssertTrue(taps[0].data.contains(6) && taps[0].data.contains(0), "the test data must reach both clip bounds")
            g.fuses = true
            let y1 = g.forward(x, mode: .inference), dx1 = g.backward(dy, parameterGradients: false)
            assertAllClose(y1.data, y0.data, atol: 1e-5, rtol: 1e-5, "\(backend) logits")
            assertAllClose(dx1.data, dx0.data, atol: 1e-5, rtol: 1e-4, "\(backend) input gradient")
            XCTAssertEqual(g.forward(x, mode: .inference, keepForBackward: false), y1, "\(backend): records do not change numbers")
        }
    }

    /// A sample's fused output and input gradient are the same bits alone and in batches that
    /// run full oneDNN groups and a remainder (40 samples: one worker 2 groups + 8, two workers
    /// 1 group + 4 each), at the groups' first and last positions and in the remainder.
    func testGroupedInferenceIsBatchInvariant() throws {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        for backend in backends() {
            ConvBackend.current = backend
            let g = try model()
            let x = GradientCheck.randomTensor([40, 3, 8, 8], seed: 14), dy = GradientCheck.randomTensor([40, 5], seed: 15)
            var results: [(Tensor, Tensor)] = []
            for threads in [1, 2] {
                Parallel.threads = threads
                let y = g.forward(x, mode: .inference), dx = g.backward(dy, parameterGradients: false)
                results.append((y, dx))
                for r in [0, 15, 16, 19, 31, 35, 39] {
                    let one = g.forward(x.slice(rows: r..<(r + 1)), mode: .inference)
                    let dxOne = g.backward(dy.slice(rows: r..<(r + 1)), parameterGradients: false)
                    XCTAssertEqual(one.data, Array(y.data[(r * 5)..<(r * 5 + 5)]), "\(backend) \(threads) threads, row \(r)")
                    XCTAssertEqual(dxOne.data, Array(dx.data[(r * 192)..<(r * 192 + 192)]), "\(backend) row \(r) gradient")
                }
            }
            XCTAssertEqual(results[0].0, results[1].0, "\(backend): 1 and 2 threads")
            XCTAssertEqual(results[0].1, results[1].1, "\(backend): 1 and 2 threads, input gradient")
        }
    }

    /// A pointwise convolution on a small image takes oneDNN in inference (grouped calls), and
    /// agrees with the OpenBLAS path; training keeps the per-sample sgemm.
    func testPointwiseOnSmallImagesUsesOneDNNInInference() throws {
        guard ConvBackend.oneDNNAvailable else { throw XCTSkip("oneDNN not usable: \(ConvBackend.oneDNNMessage)") }
        let c = Conv2D(inChannels: 40, outChannels: 24, kernel: (1, 1))
        c.weight.value = GradientCheck.randomTensor(c.weight.value.shape, seed: 16)
        c.bias?.value = GradientCheck.randomTensor([24], seed: 17)
        let small = c.geometry(channels: 40, height: 4, width: 4), large = c.geometry(channels: 40, height: 16, width: 16)
        ConvBackend.current = .oneDNN
        XCTAssertTrue(c.usesOneDNNForInference(small))
        XCTAssertFalse(c.usesOneDNNForInference(large))
        XCTAssertFalse(c.usesOneDNN(small))
        let x = GradientCheck.randomTensor([18, 40, 4, 4], seed: 18)
        let y = c.forward([x], mode: .inference)
        ConvBackend.current = .openBLAS
        assertAllClose(y.data, c.forward([x], mode: .inference).data, atol: 1e-5, rtol: 1e-5, "oneDNN against sgemm")
    }
}

import XCTest
import TestSupport
import NN
import Tensor

final class ConvLayerTests: XCTestCase {
    /// A Conv2D with random weight and bias (different seeds so no symmetry hides a transpose).
    func randomConv(_ i: Int, _ o: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                    padding: Padding2D = .zero, bias: Bool = true) -> Conv2D {
        let c = Conv2D(inChannels: i, outChannels: o, kernel: kernel, stride: stride, padding: padding, bias: bias)
        c.weight.value = GradientCheck.randomTensor(c.weight.value.shape, seed: 11)
        c.bias?.value = GradientCheck.randomTensor([o], seed: 12)
        return c
    }

    /// The definition, one output element at a time (7 nested loops), accumulated in Double.
    func directConv(_ x: Tensor, _ c: Conv2D) -> Tensor {
        let (n, ci, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (kh, kw) = c.kernel, (sh, sw) = c.stride, p = c.padding
        let oh = (h + p.top + p.bottom - kh) / sh + 1, ow = (w + p.left + p.right - kw) / sw + 1
        let wt = c.weight.value.data
        var y = Tensor.zeros([n, c.outChannels, oh, ow])
        for b in 0..<n {
            for o in 0..<c.outChannels {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var s = Double(c.bias?.value.data[o] ?? 0)
                        for ch in 0..<ci {
                            for ki in 0..<kh {
                                for kj in 0..<kw {
                                    let iy = oy * sh - p.top + ki, ix = ox * sw - p.left + kj
                                    guard iy >= 0 && iy < h && ix >= 0 && ix < w else { continue }
                                    s += Double(wt[((o * ci + ch) * kh + ki) * kw + kj])
                                        * Double(x.data[((b * ci + ch) * h + iy) * w + ix])
                                }
                            }
                        }
                        y.data[((b * c.outChannels + o) * oh + oy) * ow + ox] = Float(s)
                    }
                }
            }
        }
        return y
    }

    /// (in, out, kernel, stride, padding, bias, input H, W) covering odd sizes, stride 2,
    /// Keras' asymmetric 'same' padding, non-square kernels and strides, 1x1 (pointwise) kernels.
    let configs: [(Int, Int, (Int, Int), (Int, Int), Padding2D, Bool, Int, Int)] = [
        (3, 5, (3, 3), (1, 1), Padding2D(symmetric: 1, 1), true, 7, 9),
        (4, 6, (3, 3), (2, 2), Padding2D(top: 0, bottom: 1, left: 0, right: 1), true, 8, 8),
        (2, 3, (2, 3), (2, 1), Padding2D(top: 1, bottom: 0, left: 2, right: 1), false, 5, 6),
        (5, 4, (1, 1), (1, 1), .zero, true, 3, 5),
        (3, 4, (1, 1), (2, 2), .zero, false, 7, 7),
        (2, 2, (5, 5), (3, 3), Padding2D(symmetric: 2, 2), true, 4, 4),
        (1, 2, (3, 3), (1, 1), .zero, true, 3, 3),
        (3, 2, (3, 4), (1, 1), Padding2D(top: 2, bottom: 0, left: 0, right: 3), true, 4, 5),
    ]

    func testForwardMatchesDirectConvolution() throws {
        for (idx, cfg) in configs.enumerated() {
            let (i, o, k, s, p, b, h, w) = cfg
            let conv = randomConv(i, o, kernel: k, stride: s, padding: p, bias: b)
            let conv_ = LayerCall(conv)
            // Batch 5 > worker count, so several samples share a worker's column buffer.
            let x = GradientCheck.randomTensor([5, i, h, w], seed: UInt64(idx + 1))
            let y = conv_.forward([x], mode: .inference)
            let expected = directConv(x, conv)
            XCTAssertEqual(y.shape, expected.shape, "config \(idx)")
            XCTAssertEqual(try conv.outputShape(for: [[i, h, w]]), Array(expected.shape.dropFirst()), "config \(idx)")
            assertAllClose(y.data, expected.data, atol: 1e-5, rtol: 0, "config \(idx) forward vs direct")
        }
    }

    func testGradients() {
        for (idx, cfg) in configs.enumerated() {
            let (i, o, k, s, p, b, h, w) = cfg
            let conv = randomConv(i, o, kernel: k, stride: s, padding: p, bias: b)
            let conv_ = LayerCall(conv)
            let x = GradientCheck.randomTensor([2, i, h, w], seed: UInt64(idx + 20))
            // The layer is linear in x and in W, so central differences are exact up to rounding.
            let report = GradientCheck.check(conv, inputs: [x])
            XCTAssertTrue(report.passed, "config \(idx): \(report.description)")
        }
    }

    func testBufferReuseAcrossBatchSizesAndThreadCounts() {
        let conv = randomConv(3, 4, kernel: (3, 3), stride: (2, 2), padding: Padding2D(top: 0, bottom: 1, left: 0, right: 1))
        let conv_ = LayerCall(conv)
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        var reference: [Float]?
        for (threads, n) in [(1, 3), (2, 7), (3, 3), (2, 1), (1, 7)] {
            Parallel.threads = threads
            let x = GradientCheck.randomTensor([n, 3, 6, 6], seed: UInt64(n))
            assertAllClose(conv_.forward([x], mode: .training).data, directConv(x, conv).data, atol: 1e-5, rtol: 0,
                           "threads \(threads), batch \(n)")
            // dW must not depend on how samples were split between workers.
            if n == 7 {
                conv.weight.zeroGrad(); conv.bias!.zeroGrad()
                _ = conv_.backward(GradientCheck.randomTensor([7, 4, 3, 3], seed: 5), parameterGradients: true)
                let g = conv.weight.grad.data + conv.bias!.grad.data
                if let reference { assertAllClose(g, reference, atol: 1e-5, rtol: 1e-5, "dW with \(threads) threads") }
                reference = g
            }
        }
    }

    func testParameterGradientsAccumulateAndCanBeSkipped() {
        let conv = randomConv(2, 3, kernel: (3, 3), padding: Padding2D(symmetric: 1, 1))
        let conv_ = LayerCall(conv)
        let x = GradientCheck.randomTensor([3, 2, 5, 5], seed: 3)
        let dy = GradientCheck.randomTensor([3, 3, 5, 5], seed: 4)
        _ = conv_.forward([x], mode: .training)
        let dx1 = conv_.backward(dy, parameterGradients: true)[0]
        let once = conv.weight.grad.data, onceBias = conv.bias!.grad.data
        let dx2 = conv_.backward(dy, parameterGradients: true)[0]
        assertAllClose(conv.weight.grad.data, once.map { 2 * $0 }, "dW accumulates")
        assertAllClose(conv.bias!.grad.data, onceBias.map { 2 * $0 }, "db accumulates")
        XCTAssertEqual(dx1, dx2)
        let dx3 = conv_.backward(dy, parameterGradients: false)[0]
        assertAllClose(conv.weight.grad.data, once.map { 2 * $0 }, "parameterGradients false leaves dW alone")
        XCTAssertEqual(dx1, dx3)
    }

    func testParametersAndDescription() throws {
        let c = Conv2D(inChannels: 3, outChannels: 8, kernel: (3, 3), stride: (2, 2), padding: Padding2D(symmetric: 1, 1), bias: false)
        XCTAssertEqual(c.parameters.map(\.name), ["weight"])
        XCTAssertEqual(c.weight.value.shape, [8, 3, 3, 3])
        XCTAssertTrue(c.weight.value.data.allSatisfy { $0 == 0 })
        XCTAssertNil(c.bias)
        XCTAssertFalse(c.hasBias)
        XCTAssertEqual(c.kind, "Conv2D")
        XCTAssertEqual(c.summary, "3x3, 3->8, stride 2, padding 1, no bias")
        let d = Conv2D(inChannels: 3, outChannels: 8, kernel: (1, 1))
        XCTAssertEqual(d.parameters.map(\.name), ["weight", "bias"])
        XCTAssertEqual(d.bias?.value.shape, [8])
        XCTAssertEqual(d.summary, "1x1, 3->8")
    }

    func testOutputShapeFollowsPyTorchAndRejectsMisfits() throws {
        // floor((32 + 0 + 1 − 3) / 2) + 1 = 16: Keras 'same' for stride 2 on an even input.
        let same = Conv2D(inChannels: 3, outChannels: 4, kernel: (3, 3), stride: (2, 2),
                          padding: Padding2D(top: 0, bottom: 1, left: 0, right: 1))
        XCTAssertEqual(try same.outputShape(for: [[3, 32, 32]]), [4, 16, 16])
        // floor((7 + 2 − 3) / 2) + 1 = 4
        let sym = Conv2D(inChannels: 3, outChannels: 4, kernel: (3, 3), stride: (2, 2), padding: Padding2D(symmetric: 1, 1))
        XCTAssertEqual(try sym.outputShape(for: [[3, 7, 7]]), [4, 4, 4])

        func message(_ shapes: [[Int]]) -> String {
            do { _ = try sym.outputShape(for: shapes); return "no error" } catch let e as NNError {
                guard case let .shape(_, msg) = e else { return "wrong case \(e)" }
                return msg
            } catch { return "\(error)" }
        }
        XCTAssertTrue(message([[3, 7]]).contains("[C, H, W]"), message([[3, 7]]))
        XCTAssertTrue(message([[5, 7, 7]]).contains("expects 3 input channels, got 5"), message([[5, 7, 7]]))
        XCTAssertTrue(message([[3, 1, 0]]).contains("larger than the padded input 3x2"), message([[3, 1, 0]]))
        XCTAssertTrue(message([[3, 7, 7], [3, 7, 7]]).contains("one input"), message([[3, 7, 7], [3, 7, 7]]))
    }

    func testResNetOptionABlockInAGraph() throws {
        // conv(stride 2) → conv, plus the ShortcutA branch, merged by Add; then pooling to [N, C].
        let g = Graph(inputShape: [2, 6, 6])
        let c1 = randomConv(2, 4, kernel: (3, 3), stride: (2, 2), padding: Padding2D(symmetric: 1, 1), bias: false)
        let c2 = randomConv(4, 4, kernel: (3, 3), padding: Padding2D(symmetric: 1, 1))
        let a = try g.add("conv1", c1, inputs: [.input])
        let b = try g.add("conv2", c2, inputs: [.node(a)])
        let s = try g.add("shortcut", ShortcutA(outChannels: 4, stride: 2), inputs: [.input])
        try g.add("add", Add(), inputs: [.node(b), .node(s)])
        try g.add("pool", GlobalAvgPool())
        XCTAssertEqual(g.outputShape, [4])
        XCTAssertEqual(g.namedParameters().map(\.key), ["conv1.weight", "conv2.weight", "conv2.bias"])
        let report = GradientCheck.check(g, input: GradientCheck.randomTensor([3, 2, 6, 6], seed: 9))
        XCTAssertTrue(report.passed, report.description)
        // A misfit names the node.
        XCTAssertThrowsError(try g.add("bad", Conv2D(inChannels: 3, outChannels: 1, kernel: (1, 1)), inputs: [.node(b)])) {
            XCTAssertTrue("\($0)".contains("layer 'bad'") && "\($0)".contains("expects 3 input channels, got 4"), "\($0)")
        }
    }

    func testIm2colCol2imAreAdjoint() {
        // <im2col(x), c> == <x, col2im(c)> for every geometry: col2im is exactly im2col's transpose.
        let geometries = [
            ConvGeometry(channels: 2, height: 5, width: 7, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2,
                         padTop: 0, padBottom: 1, padLeft: 0, padRight: 1),
            ConvGeometry(channels: 3, height: 4, width: 4, kernelH: 2, kernelW: 3, strideH: 1, strideW: 3,
                         padTop: 1, padBottom: 2, padLeft: 2, padRight: 0),
            ConvGeometry(channels: 1, height: 2, width: 2, kernelH: 4, kernelW: 4, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            // Row-contiguous (stride 1, outWidth == width): the block-copy path.
            ConvGeometry(channels: 2, height: 5, width: 6, kernelH: 3, kernelW: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1),
            ConvGeometry(channels: 2, height: 4, width: 5, kernelH: 3, kernelW: 4, padTop: 2, padBottom: 0, padLeft: 0, padRight: 3),
            ConvGeometry(channels: 1, height: 3, width: 3, kernelH: 5, kernelW: 5, padTop: 2, padBottom: 2, padLeft: 2, padRight: 2),
        ]
        for (i, g) in geometries.enumerated() {
            XCTAssertTrue(g.fits)
            XCTAssertEqual(g.isRowContiguous, i >= 3, "geometry \(i)")
            let x = GradientCheck.randomTensor([g.channels * g.height * g.width], seed: 1).data
            let c = GradientCheck.randomTensor([g.colRows * g.colColumns], seed: 2).data
            var col = [Float](repeating: .nan, count: c.count)   // every entry must be written
            var back = [Float](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { xp in col.withUnsafeMutableBufferPointer { im2col(xp.baseAddress!, g, into: $0.baseAddress!) } }
            var scratch = c   // col2im may zero entries that fall on padding
            scratch.withUnsafeMutableBufferPointer { cp in back.withUnsafeMutableBufferPointer { col2im(cp.baseAddress!, g, into: $0.baseAddress!) } }
            XCTAssertFalse(col.contains { $0.isNaN }, "geometry \(i): im2col left entries unwritten")
            let lhs = zip(col, c).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(x, back).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4, "geometry \(i)")
            // The assigning variant (Conv2D.backward) equals zero-fill + col2im, whatever x held.
            var assigned = [Float](repeating: .nan, count: x.count)
            scratch = c
            scratch.withUnsafeMutableBufferPointer { cp in
                assigned.withUnsafeMutableBufferPointer { col2imAssigning(cp.baseAddress!, g, into: $0.baseAddress!) }
            }
            XCTAssertEqual(assigned, back, "geometry \(i): col2imAssigning")
        }
    }

    func testParallelForEachVisitsEveryIndexOnce() {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        for threads in [1, 2, 5] {
            Parallel.threads = threads
            for n in [0, 1, 3, 17] {
                var hits = [Int](repeating: 0, count: n)
                hits.withUnsafeMutableBufferPointer { h in Parallel.forEach(n) { h[$0] += 1 } }
                XCTAssertEqual(hits, [Int](repeating: 1, count: n), "threads \(threads), n \(n)")
            }
        }
    }
}

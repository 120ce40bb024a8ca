import XCTest
import TestSupport
import NN
import Tensor

/// Conv2D with `groups` (grouped and depthwise) and `dilation`, against the definition.
final class GroupedConvTests: XCTestCase {
    struct Config {
        var i: Int, o: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: Padding2D = .zero
        var dilation: (Int, Int) = (1, 1), groups = 1, bias = true, h: Int, w: Int
    }

    /// Grouped, depthwise (with and without a channel multiplier), dilated, both at once,
    /// pointwise grouped (ShuffleNet's 1x1 group convolutions), asymmetric padding and strides.
    let configs: [Config] = [
        Config(i: 6, o: 9, kernel: (3, 3), padding: Padding2D(symmetric: 1, 1), groups: 3, h: 5, w: 6),
        Config(i: 4, o: 4, kernel: (3, 3), stride: (2, 2), padding: Padding2D(symmetric: 1, 1), groups: 4, bias: false, h: 7, w: 7),
        Config(i: 3, o: 6, kernel: (3, 3), padding: Padding2D(symmetric: 1, 1), groups: 3, h: 4, w: 5),
        Config(i: 3, o: 4, kernel: (3, 3), padding: Padding2D(symmetric: 2, 2), dilation: (2, 2), h: 6, w: 6),
        Config(i: 2, o: 3, kernel: (3, 2), stride: (1, 2), padding: Padding2D(top: 1, bottom: 2, left: 0, right: 1),
               dilation: (2, 3), h: 7, w: 8),
        Config(i: 4, o: 4, kernel: (3, 3), stride: (2, 1), padding: Padding2D(symmetric: 2, 2), dilation: (2, 2), groups: 4, h: 6, w: 5),
        Config(i: 6, o: 4, kernel: (1, 1), groups: 2, bias: false, h: 3, w: 4),
        Config(i: 4, o: 2, kernel: (5, 5), stride: (3, 3), padding: Padding2D(symmetric: 2, 2), groups: 2, h: 4, w: 4),
    ]

    func make(_ c: Config) -> Conv2D {
        let conv = Conv2D(inChannels: c.i, outChannels: c.o, kernel: c.kernel, stride: c.stride, padding: c.padding,
                          dilation: c.dilation, groups: c.groups, bias: c.bias)
        conv.weight.value = GradientCheck.randomTensor(conv.weight.value.shape, seed: 31)
        conv.bias?.value = GradientCheck.randomTensor([c.o], seed: 32)
        return conv
    }

    /// The definition, one output element at a time, in Double.
    func direct(_ x: Tensor, _ c: Conv2D) -> Tensor {
        let (n, h, w) = (x.shape[0], x.shape[2], x.shape[3])
        let (kh, kw) = c.kernel, (sh, sw) = c.stride, (dh, dw) = c.dilation, p = c.padding
        let ig = c.inChannels / c.groups, og = c.outChannels / c.groups
        let oh = (h + p.top + p.bottom - (kh - 1) * dh - 1) / sh + 1, ow = (w + p.left + p.right - (kw - 1) * dw - 1) / sw + 1
        let wt = c.weight.value.data
        var y = Tensor.zeros([n, c.outChannels, oh, ow])
        for b in 0..<n {
            for o in 0..<c.outChannels {
                let g = o / og
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        var s = Double(c.bias?.value.data[o] ?? 0)
                        for ch in 0..<ig {
                            for ki in 0..<kh {
                                for kj in 0..<kw {
                                    let iy = oy * sh - p.top + ki * dh, ix = ox * sw - p.left + kj * dw
                                    guard iy >= 0 && iy < h && ix >= 0 && ix < w else { continue }
                                    s += Double(wt[((o * ig + ch) * kh + ki) * kw + kj])
                                        * Double(x.data[((b * c.inChannels + g * ig + ch) * h + iy) * w + ix])
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

    func testForwardMatchesTheDefinition() throws {
        for (idx, c) in configs.enumerated() {
            let conv = make(c)
            let x = GradientCheck.randomTensor([5, c.i, c.h, c.w], seed: UInt64(idx + 1))
            let y = LayerCall(conv).forward([x], mode: .inference)
            let expected = direct(x, conv)
            XCTAssertEqual(y.shape, expected.shape, "config \(idx)")
            XCTAssertEqual(try conv.outputShape(for: [[c.i, c.h, c.w]]), Array(expected.shape.dropFirst()), "config \(idx)")
            assertAllClose(y.data, expected.data, atol: 1e-5, rtol: 0, "config \(idx) forward vs definition")
        }
    }

    func testGradients() {
        for (idx, c) in configs.enumerated() {
            let conv = make(c)
            let x = GradientCheck.randomTensor([2, c.i, c.h, c.w], seed: UInt64(idx + 40))
            let report = GradientCheck.check(conv, inputs: [x])
            XCTAssertTrue(report.passed, "config \(idx): \(report.description)")
        }
    }

    /// The direct depthwise kernel (docs/design.md, "Convolution backends") and the per-group
    /// im2col + sgemm path agree: output, input, weight and bias gradients.
    func testDirectDepthwiseMatchesTheGEMMPath() {
        defer { Conv2D.directDepthwise = true }
        var compared = 0
        for (idx, c) in configs.enumerated() where c.groups > 1 && c.groups == c.i {
            var results: [[[Float]]] = []
            for direct in [true, false] {
                Conv2D.directDepthwise = direct
                let conv = make(c)
                let x = GradientCheck.randomTensor([3, c.i, c.h, c.w], seed: UInt64(idx + 60))
                let call = LayerCall(conv)
                let y = call.forward([x], mode: .training)
                let dx = call.backward(GradientCheck.randomTensor(y.shape, seed: 61))[0]
                results.append([y.data, dx.data, conv.weight.grad.data, conv.bias?.grad.data ?? []])
            }
            for k in 0..<4 { assertAllClose(results[0][k], results[1][k], atol: 1e-5, rtol: 1e-5, "config \(idx) part \(k)") }
            compared += 1
        }
        XCTAssertEqual(compared, 3)
    }

    /// A sample's output does not depend on the batch or on how samples are split between workers.
    func testPerSampleResultsIndependentOfBatchAndThreads() {
        let conv = make(configs[1])
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        let x = GradientCheck.randomTensor([6, 4, 7, 7], seed: 3)
        Parallel.threads = 1
        let one = LayerCall(conv).forward([x], mode: .inference)
        Parallel.threads = 3
        XCTAssertEqual(LayerCall(conv).forward([x], mode: .inference), one)
        let first = LayerCall(conv).forward([Tensor(shape: [1, 4, 7, 7], data: Array(x.data[0..<196]))], mode: .inference)
        XCTAssertEqual(first.data, Array(one.data[0..<first.count]))
    }

    func testShapesWeightAndSummary() throws {
        let dw = Conv2D(inChannels: 32, outChannels: 32, kernel: (3, 3), stride: (2, 2), padding: Padding2D(symmetric: 1, 1),
                        groups: 32, bias: false)
        XCTAssertEqual(dw.weight.value.shape, [32, 1, 3, 3])
        XCTAssertEqual(dw.summary, "3x3, 32->32, depthwise, stride 2, padding 1, no bias")
        XCTAssertEqual(try dw.outputShape(for: [[32, 16, 16]]), [32, 8, 8])
        let g = Conv2D(inChannels: 240, outChannels: 60, kernel: (1, 1), groups: 3)
        XCTAssertEqual(g.weight.value.shape, [60, 80, 1, 1])
        XCTAssertEqual(g.summary, "1x1, 240->60, groups 3")
        let d = Conv2D(inChannels: 2, outChannels: 2, kernel: (3, 3), dilation: (2, 2))
        XCTAssertEqual(d.summary, "3x3, 2->2, dilation 2")
        // Dilated extent 5: a 4x4 input is too small, 5x5 gives 1x1.
        XCTAssertEqual(try d.outputShape(for: [[2, 5, 5]]), [2, 1, 1])
        XCTAssertThrowsError(try d.outputShape(for: [[2, 4, 4]])) { XCTAssertTrue("\($0)".contains("dilated extent 5x5"), "\($0)") }
    }
}

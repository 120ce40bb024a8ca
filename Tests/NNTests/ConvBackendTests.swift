import XCTest
import TestSupport
import NN
import Tensor

/// The oneDNN convolution path against the OpenBLAS one (docs/design.md, "Convolution
/// backends"): same numbers to float rounding, inference batch-invariant, training repeatable.
final class ConvBackendTests: XCTestCase {
    override func setUpWithError() throws {
        guard ConvBackend.oneDNNAvailable else {
            throw XCTSkip("oneDNN not usable (Debian: libdnnl2 / libdnnl-dev): \(ConvBackend.oneDNNMessage)")
        }
    }

    override func tearDown() { ConvBackend.current = ConvBackend.automatic }

    /// (in, out, kernel, stride, padding, dilation, bias, H, W): ResNet-like 3x3 and 1x1 layers,
    /// an RGB first layer, asymmetric padding with dilation, non-square everything.
    let configs: [(Int, Int, (Int, Int), (Int, Int), Padding2D, (Int, Int), Bool, Int, Int)] = [
        (16, 16, (3, 3), (1, 1), Padding2D(symmetric: 1, 1), (1, 1), false, 8, 8),
        (16, 32, (3, 3), (2, 2), Padding2D(symmetric: 1, 1), (1, 1), true, 9, 9),
        (16, 32, (1, 1), (2, 2), .zero, (1, 1), false, 8, 8),
        (3, 16, (3, 3), (1, 1), Padding2D(symmetric: 1, 1), (1, 1), true, 7, 6),
        (5, 7, (3, 2), (2, 1), Padding2D(top: 1, bottom: 0, left: 2, right: 1), (2, 1), true, 9, 7),
    ]

    func conv(_ cfg: (Int, Int, (Int, Int), (Int, Int), Padding2D, (Int, Int), Bool, Int, Int)) -> Conv2D {
        let c = Conv2D(inChannels: cfg.0, outChannels: cfg.1, kernel: cfg.2, stride: cfg.3, padding: cfg.4,
                       dilation: cfg.5, bias: cfg.6)
        c.weight.value = GradientCheck.randomTensor(c.weight.value.shape, seed: 21)
        c.bias?.value = GradientCheck.randomTensor([cfg.1], seed: 22)
        return c
    }

    /// Output, input gradient, weight and bias gradients of one forward/backward.
    func run(_ c: Conv2D, _ x: Tensor, _ dy: (Tensor) -> Tensor, mode: Mode, backend: ConvBackend) -> [[Float]] {
        ConvBackend.current = backend
        c.weight.grad = .zeros(c.weight.value.shape)
        c.bias?.grad = .zeros([c.outChannels])
        let call = LayerCall(c)
        let y = call.forward([x], mode: mode)
        let dx = call.backward(dy(y))[0]
        return [y.data, dx.data, c.weight.grad.data, c.bias?.grad.data ?? []]
    }

    func testOneDNNMatchesOpenBLAS() throws {
        for (i, cfg) in configs.enumerated() {
            let c = conv(cfg)
            let x = GradientCheck.randomTensor([6, cfg.0, cfg.7, cfg.8], seed: UInt64(30 + i))
            let dy = { (y: Tensor) in GradientCheck.randomTensor(y.shape, seed: UInt64(40 + i)) }
            for mode in [Mode.training, .inference] {
                let a = run(c, x, dy, mode: mode, backend: .oneDNN), b = run(c, x, dy, mode: mode, backend: .openBLAS)
                for (part, name) in ["y", "dx", "dW", "db"].enumerated() {
                    assertAllClose(a[part], b[part], atol: 1e-5, rtol: 1e-5, "config \(i) \(mode) \(name)")
                }
            }
        }
    }

    func testInferenceIsBatchInvariantAndTrainingRepeats() throws {
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        Parallel.threads = 2
        for (i, cfg) in configs.enumerated() {
            let c = conv(cfg)
            let x = GradientCheck.randomTensor([5, cfg.0, cfg.7, cfg.8], seed: UInt64(50 + i))
            let dy = { (y: Tensor) in GradientCheck.randomTensor(y.shape, seed: UInt64(60 + i)) }
            let batch = run(c, x, dy, mode: .inference, backend: .oneDNN)
            let one = x.slice(rows: 3..<4)
            // Sample 3 alone, with the output gradient it had in the batch.
            ConvBackend.current = .oneDNN
            let call = LayerCall(c)
            let y1 = call.forward([one], mode: .inference)
            let fullDy = GradientCheck.randomTensor([5] + Array(y1.shape.dropFirst()), seed: UInt64(60 + i))
            let dx1 = call.backward(fullDy.slice(rows: 3..<4), parameterGradients: false)[0]
            let per = y1.count, perX = one.count
            XCTAssertEqual(y1.data, Array(batch[0][3 * per..<4 * per]), "config \(i): output of sample 3 alone")
            XCTAssertEqual(dx1.data, Array(batch[1][3 * perX..<4 * perX]), "config \(i): input gradient of sample 3 alone")
            let t1 = run(c, x, dy, mode: .training, backend: .oneDNN), t2 = run(c, x, dy, mode: .training, backend: .oneDNN)
            XCTAssertEqual(t1, t2, "config \(i): two training steps")
        }
    }
}

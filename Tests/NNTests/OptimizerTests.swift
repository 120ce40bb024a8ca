import XCTest
import TestSupport
import NN
import Tensor

/// Reference values from torch 2.15 (CPU), /tmp script:
///
///     grads = [[0.5, -1.0, 0.25], [-0.3, 0.8, 1.5], [1.0, 0.1, -0.7]]
///     def run(make):
///         p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5])); opt = make([p])
///         for g in grads: p.grad = torch.tensor(g); opt.step()
///         return p.tolist()
///     run(lambda ps: torch.optim.SGD(ps, lr=0.1))
///     run(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1))
///     run(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True))
///     run(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.5))
///     run(lambda ps: torch.optim.Adam(ps))
///     run(lambda ps: torch.optim.Adam(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1))
final class OptimizerTests: XCTestCase {
    static let grads: [[Float]] = [[0.5, -1.0, 0.25], [-0.3, 0.8, 1.5], [1.0, 0.1, -0.7]]

    /// Runs the three reference steps and returns the final parameter.
    func run(_ make: ([Parameter]) -> Optimizer) -> [Float] {
        let p = Parameter(name: "w", value: Tensor(shape: [3], data: [1.0, -2.0, 0.5]))
        let opt = make([p])
        for g in Self.grads {
            opt.zeroGrad()
            p.grad.add(Tensor(shape: [3], data: g))
            opt.step()
        }
        XCTAssertEqual(opt.stepCount, 3)
        return p.value.data
    }

    func testSGDMatchesPyTorch() {
        assertAllClose(run { SGD(parameters: $0, lr: 0.1) },
                       [0.8799999952316284, -1.9900000095367432, 0.39499998092651367], atol: 1e-6, "plain")
        assertAllClose(run { SGD(parameters: $0, lr: 0.1, momentum: 0.9, weightDecay: 0.1) },
                       [0.7674739956855774, -1.7827479839324951, 0.1918870061635971], atol: 1e-6, "momentum + weight decay")
        assertAllClose(run { SGD(parameters: $0, lr: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true) },
                       [0.7117211818695068, -1.876570224761963, 0.13730624318122864], atol: 1e-6, "nesterov")
        assertAllClose(run { SGD(parameters: $0, lr: 0.1, momentum: 0.9, dampening: 0.5) },
                       [0.8429999947547913, -1.8100000619888306, 0.32475000619888306], atol: 1e-6, "dampening")
    }

    func testSGDByHand() {
        // One coordinate, momentum 0.9, wd 0.1, lr 0.1, p = 1, g = 0.5 then -0.3:
        // d1 = 0.5 + 0.1·1 = 0.6, buf = 0.6, p = 1 − 0.06 = 0.94
        // d2 = −0.3 + 0.094 = −0.206, buf = 0.54 − 0.206 = 0.334, p = 0.94 − 0.0334 = 0.9066
        let p = Parameter(name: "w", value: Tensor(shape: [1], data: [1]))
        let opt = SGD(parameters: [p], lr: 0.1, momentum: 0.9, weightDecay: 0.1)
        p.grad.data = [0.5]; opt.step()
        XCTAssertEqual(p.value.data[0], 0.94, accuracy: 1e-6)
        p.grad.data = [-0.3]; opt.step()
        XCTAssertEqual(p.value.data[0], 0.9066, accuracy: 1e-6)
        XCTAssertEqual(opt.state["momentum_buffer.0"]!.data[0], 0.334, accuracy: 1e-6)
    }

    func testAdamMatchesPyTorch() {
        assertAllClose(run { Adam(parameters: $0) },
                       [0.9981819987297058, -1.9989467859268188, 0.49783045053482056], atol: 1e-6, "defaults")
        assertAllClose(run { Adam(parameters: $0, lr: 0.01, betas: (0.8, 0.99), eps: 1e-6, weightDecay: 0.1) },
                       [0.9791474938392639, -1.9858510494232178, 0.4778735637664795], atol: 1e-6, "weight decay")
    }

    func testAdamFirstStepByHand() {
        // Step 1: m̂ = g, v̂ = g², so p −= lr · g / (|g| + eps) ≈ lr · sign(g).
        let p = Parameter(name: "w", value: Tensor(shape: [2], data: [0, 0]))
        let opt = Adam(parameters: [p], lr: 0.5)
        p.grad.data = [3, -0.25]
        opt.step()
        assertAllClose(p.value.data, [-0.5, 0.5], atol: 1e-6, "first Adam step")
    }

    /// Saving `state` and `stepCount` after step 2 and restoring them into a fresh optimiser
    /// must give bit-identical parameters after step 3 (checkpoint resume).
    func testStateRestoreIsExact() {
        func makeAndRun(_ make: ([Parameter]) -> Optimizer) {
            let p = Parameter(name: "w", value: Tensor(shape: [3], data: [1.0, -2.0, 0.5]))
            let q = Parameter(name: "b", value: Tensor(shape: [1], data: [0.3]))
            let opt = make([p, q])
            for g in Self.grads.prefix(2) {
                p.grad.data = g; q.grad.data = [g[0]]
                opt.step()
            }
            let saved = (opt.state, opt.stepCount, p.value, q.value)
            p.grad.data = Self.grads[2]; q.grad.data = [1]
            opt.step()
            let continued = (p.value, q.value)

            p.value = saved.2; q.value = saved.3
            let fresh = make([p, q])
            fresh.state = saved.0
            fresh.stepCount = saved.1
            p.grad.data = Self.grads[2]; q.grad.data = [1]
            fresh.step()
            XCTAssertEqual(p.value, continued.0)
            XCTAssertEqual(q.value, continued.1)
        }
        makeAndRun { SGD(parameters: $0, lr: 0.1, momentum: 0.9, weightDecay: 1e-4, nesterov: true) }
        makeAndRun { Adam(parameters: $0, lr: 0.01, weightDecay: 0.1) }
        let adam = Adam(parameters: [Parameter(name: "w", value: Tensor(shape: [2]))])
        adam.step()
        XCTAssertEqual(Set(adam.state.keys), ["exp_avg.0", "exp_avg_sq.0"])
    }

    /// `unfitStateKey` accepts what `state` produces and names the first key the setter would refuse.
    func testUnfitStateKey() {
        let p = Parameter(name: "w", value: Tensor(shape: [2]))
        let sgd = SGD(parameters: [p], lr: 0.1, momentum: 0.9)
        sgd.step()
        XCTAssertNil(sgd.unfitStateKey(sgd.state))
        XCTAssertEqual(sgd.unfitStateKey(["momentum_buffer.1": Tensor(shape: [2])]), "momentum_buffer.1")
        XCTAssertEqual(sgd.unfitStateKey(["momentum_buffer.0": Tensor(shape: [3])]), "momentum_buffer.0")
        XCTAssertEqual(sgd.unfitStateKey(["exp_avg.0": Tensor(shape: [2])]), "exp_avg.0")
        XCTAssertEqual(sgd.unfitStateKey(["momentum_buffer.x": Tensor(shape: [2])]), "momentum_buffer.x")
        let adam = Adam(parameters: [p])
        adam.step()
        XCTAssertNil(adam.unfitStateKey(adam.state))
        XCTAssertEqual(adam.unfitStateKey(["momentum_buffer.0": Tensor(shape: [2])]), "momentum_buffer.0")
    }

    func testZeroGradSkipsBuffersAndLearningRateIsSettable() {
        let w = Parameter(name: "w", value: Tensor(shape: [2], data: [1, 1]))
        let buffer = Parameter(name: "running_mean", value: Tensor(shape: [2]), trainable: false)
        let opt = SGD(parameters: [w, buffer], lr: 1)
        w.grad.data = [1, 2]
        opt.learningRate = 0.5
        opt.step()
        XCTAssertEqual(w.value.data, [0.5, 0])
        XCTAssertEqual(buffer.value.data, [0, 0])
        opt.zeroGrad()
        XCTAssertEqual(w.grad.data, [0, 0])
        XCTAssertTrue(opt.state.isEmpty)   // no momentum, no state
    }
}

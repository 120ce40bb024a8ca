import Foundation
import XCTest
import ModelIO
import NN
import Tensor
import TestSupport

/// The engine against PyTorch: numbers made by `Fixtures/scripts/make_torch_fixtures.py`
/// (torch 2.15, float64 references) for a small CNN with BatchNorm and a residual block, a
/// random `heo2019-resnet8`, an MLP, and `heo2019-resnet26` (inference only).
final class TorchParityTests: XCTestCase {
    struct Case {
        let model: Model
        let io: [String: NumpyArray]
        func t(_ k: String) throws -> Tensor { try io[k]!.tensor(file: "io", key: k) }
        func ints(_ k: String) throws -> [Int] { try io[k]!.int64s().map { Int($0) } }
        func scalar(_ k: String) throws -> Float { try io[k]!.floats()[0] }
    }

    func load(_ name: String, arch: String) throws -> Case {
        let m = try ModelLoader.load(fixture("torch/\(name).npz"), arch: arch)
        let io = try Npz.readDictionary(URL(fileURLWithPath: fixture("torch/\(name)-io.npz")))
        return Case(model: m, io: io)
    }

    static let cases = [("small-cnn", "torch/small-cnn.json"), ("cifar-resnet8", "heo2019-resnet8"), ("mlp-64-48-10", "mlp:64-48-10")]

    func arch(_ a: String) -> String { a.hasPrefix("torch/") ? fixture(a) : a }

    func testInferenceLogitsMatchPyTorch() throws {
        for (name, a) in Self.cases {
            let c = try load(name, arch: arch(a))
            let logits = c.model.graph.forward(try c.t("x"), mode: .inference)
            assertAllClose(logits.data, try c.t("logits_eval").data, atol: 1e-5, rtol: 0, "\(name) logits")
        }
    }

    func testResNet26PresetMatchesPyTorch() throws {
        let c = try load("cifar-resnet26", arch: "heo2019-resnet26")
        let logits = c.model.graph.predict(try c.t("x"), batchSize: 2)
        assertAllClose(logits.data, try c.t("logits_eval").data, atol: 1e-4, rtol: 0, "heo2019-resnet26 logits")
        // Input gradient of the logit margin through 26 layers.
        let x = try c.t("x")
        let out = c.model.graph.forward(x, mode: .inference)
        let seed = marginSeed(batch: x.batch, classes: out.sampleCount, base: try c.ints("base"), target: try c.ints("target"))
        let g = c.model.graph.backward(seed, parameterGradients: false)
        assertAllClose(g.data, try c.t("margin_grad").data, atol: 1e-5, rtol: 1e-4, "heo2019-resnet26 margin gradient")
    }

    func testLogitMarginInputGradientMatchesPyTorch() throws {
        for (name, a) in Self.cases {
            let c = try load(name, arch: arch(a))
            let x = try c.t("x")
            let out = c.model.graph.forward(x, mode: .inference)
            let seed = marginSeed(batch: x.batch, classes: out.sampleCount, base: try c.ints("base"), target: try c.ints("target"))
            let g = c.model.graph.backward(seed, parameterGradients: false)
            assertAllClose(g.data, try c.t("margin_grad").data, atol: 1e-6, rtol: 1e-4, "\(name) margin gradient")
        }
    }

    /// Dropout is off (p = 0) in the training-mode references, as in the fixture script.
    func disableDropout(_ m: Model) {
        for n in m.graph.nodes { (n.layer as? Dropout)?.p = 0 }
    }

    func testTrainingModeLossAndParameterGradientsMatchPyTorch() throws {
        for (name, a) in Self.cases {
            let c = try load(name, arch: arch(a))
            disableDropout(c.model)
            let g = c.model.graph
            g.zeroGrad()
            let s = g.forward(try c.t("x"), mode: .training)
            assertAllClose(s.data, try c.t("logits_train").data, atol: 1e-5, rtol: 0, "\(name) training logits")
            let ce = crossEntropy(logits: s, labels: try c.ints("y"))
            let kd = distillationLoss(student: s, teacher: try c.t("teacher_logits"), temperature: try c.scalar("T"))
            let alpha = try c.scalar("alpha")
            XCTAssertEqual(ce.loss + alpha * kd.loss, try c.scalar("loss"), accuracy: 1e-5, name)
            var grad = ce.grad
            for i in 0..<grad.count { grad.data[i] += alpha * kd.grad.data[i] }
            g.backward(grad)
            for (key, p) in c.model.stateDictParameters() where p.isTrainable {
                let ref = try c.t("grad." + key)
                assertAllClose(p.grad.data, ref.data, atol: 1e-6, rtol: 1e-4, "\(name) grad \(key)")
            }
            for (prefix, bn) in c.model.batchNormLayers() {
                assertAllClose(bn.parameters[2].value.data, try c.t("bn_after.\(prefix).running_mean").data, atol: 1e-6, rtol: 1e-5, "\(name) \(prefix) running_mean")
                assertAllClose(bn.parameters[3].value.data, try c.t("bn_after.\(prefix).running_var").data, atol: 1e-6, rtol: 1e-5, "\(name) \(prefix) running_var")
                XCTAssertEqual(bn.numBatchesTracked, try c.io["bn_after.\(prefix).num_batches_tracked"]!.int64s()[0])
            }
        }
    }

    func testFiveSGDMomentumStepsMatchPyTorch() throws {
        for (name, a) in Self.cases {
            let c = try load(name, arch: arch(a))
            disableDropout(c.model)
            let g = c.model.graph
            let opt = SGD(parameters: g.trainableParameters, lr: try c.scalar("lr"), momentum: try c.scalar("momentum"),
                          weightDecay: try c.scalar("weight_decay"))
            let xs = try c.t("sgd_x"), ys = try c.ints("sgd_y")
            let steps = xs.shape[0], n = xs.shape[1]
            let losses = try c.io["sgd_loss"]!.floats()
            for i in 0..<steps {
                opt.zeroGrad()
                let x = xs.slice(rows: i..<(i + 1)).reshaped(Array(xs.shape.dropFirst()))
                let out = g.forward(x, mode: .training)
                let ce = crossEntropy(logits: out, labels: Array(ys[(i * n)..<((i + 1) * n)]))
                XCTAssertEqual(ce.loss, losses[i], accuracy: 1e-4 * max(1, abs(losses[i])), "\(name) step \(i) loss")
                g.backward(ce.grad)
                opt.step()
            }
            let sd = StateDict(model: c.model)
            for (key, arr) in sd.entries {
                let ref = c.io["after_sgd." + key]!
                if key.hasSuffix("num_batches_tracked") {
                    XCTAssertEqual(try arr.int64s(), try ref.int64s(), "\(name) \(key)")
                } else {
                    assertAllClose(try arr.floats(), try ref.floats(), atol: 1e-5, rtol: 1e-4, "\(name) after SGD \(key)")
                }
            }
        }
    }
}

import XCTest
import TestSupport
import NN
import Tensor

final class LossTests: XCTestCase {
    /// Central differences of a scalar loss of logits, in Double from Float evaluations.
    func numericGradient(_ z: Tensor, h: Float = 1e-2, _ loss: (Tensor) -> Float) -> [Float] {
        (0..<z.count).map { i in
            var p = z, m = z
            p.data[i] += h
            m.data[i] -= h
            return Float((Double(loss(p)) - Double(loss(m))) / Double(2 * h))
        }
    }

    func testCrossEntropyValueAndGradient() {
        let z = Tensor(shape: [3, 4], data: GradientCheck.randomTensor([3, 4], seed: 1).data.map { 3 * $0 })
        let labels = [2, 0, 3]
        let (loss, grad) = crossEntropy(logits: z, labels: labels)
        let logp = logSoftmax(z)
        let picked: [Float] = (0..<3).map { logp.data[$0 * 4 + labels[$0]] }
        let expected = -picked.reduce(0, +) / 3
        XCTAssertEqual(loss, expected, accuracy: 1e-6)
        assertAllClose(grad.data, numericGradient(z) { crossEntropy(logits: $0, labels: labels).loss },
                       atol: 2e-4, rtol: 1e-3, "cross-entropy gradient")
        // By hand: uniform logits over 4 classes give log 4; gradient (1/4 − 1)/N at the label.
        let (l2, g2) = crossEntropy(logits: Tensor(shape: [2, 4]), labels: [1, 3])
        XCTAssertEqual(l2, log(4), accuracy: 1e-6)
        assertAllClose(g2.data, [0.125, -0.375, 0.125, 0.125, 0.125, 0.125, 0.125, -0.375], "uniform gradient")
        // Stable for large logits.
        let (l3, g3) = crossEntropy(logits: Tensor(shape: [1, 2], data: [1000, 0]), labels: [1])
        XCTAssertEqual(l3, 1000, accuracy: 1e-3)
        XCTAssertTrue(g3.data.allSatisfy(\.isFinite))
    }

    func testDistillationValueAndGradient() {
        let s = Tensor(shape: [4, 5], data: GradientCheck.randomTensor([4, 5], seed: 2).data.map { 4 * $0 })
        let t = Tensor(shape: [4, 5], data: GradientCheck.randomTensor([4, 5], seed: 3).data.map { 4 * $0 })
        for T: Float in [1, 3] {
            let (loss, grad) = distillationLoss(student: s, teacher: t, temperature: T)
            let pt = softmax(t, temperature: T), lps = logSoftmax(s, temperature: T)
            let terms: [Float] = (0..<20).map { pt.data[$0] * lps.data[$0] }
            let expected = -terms.reduce(0, +) / 4
            XCTAssertEqual(loss, expected, accuracy: 1e-5)
            assertAllClose(grad.data, numericGradient(s) { distillationLoss(student: $0, teacher: t, temperature: T).loss },
                           atol: 2e-4, rtol: 1e-3, "KD gradient at T=\(T)")
            // Closed form: (softmax(s/T) − softmax(t/T)) / (T·N), no T² factor.
            let ps = softmax(s, temperature: T)
            assertAllClose(grad.data, (0..<20).map { (ps.data[$0] - pt.data[$0]) / (T * 4) }, atol: 1e-6, "closed form")
        }
        // Student = teacher is the minimum: zero gradient, loss = teacher entropy.
        let (_, g0) = distillationLoss(student: t, teacher: t, temperature: 3)
        XCTAssertTrue(g0.data.allSatisfy { abs($0) < 1e-6 })
        let (l, g) = distillationLoss(student: Tensor(shape: [0, 5]), teacher: Tensor(shape: [0, 5]), temperature: 3)
        XCTAssertEqual(l, 0)
        XCTAssertEqual(g.shape, [0, 5])
    }

    func testMarginsAndSeed() {
        let z = Tensor(shape: [2, 3], data: [1, 5, 2, -1, 0, 4])
        XCTAssertEqual(logitMargins(logits: z, base: [1, 2], target: [2, 0]), [3, 5])
        let seed = marginSeed(batch: 2, classes: 3, base: [1, 2], target: [2, 0])
        XCTAssertEqual(seed.data, [0, 1, -1, -1, 0, 1])
    }

    /// Seeding the backward of a Linear model with the margin seed yields each row's dL/dx:
    /// for f = W x + b, d(f_b − f_k)/dx = W[b] − W[k].
    func testMarginSeedGivesPerRowInputGradients() throws {
        let g = Graph(inputShape: [3])
        let fc = Linear(inFeatures: 3, outFeatures: 4)
        fc.weight.value = GradientCheck.randomTensor([4, 3], seed: 4)
        try g.add("fc", fc)
        let x = GradientCheck.randomTensor([2, 3], seed: 5)
        _ = g.forward(x, mode: .inference)
        let base = [0, 3], target = [2, 1]
        let dx = g.backward(marginSeed(batch: 2, classes: 4, base: base, target: target), parameterGradients: false)
        let w = fc.weight.value.data
        let expected = (0..<2).flatMap { r in (0..<3).map { w[base[r] * 3 + $0] - w[target[r] * 3 + $0] } }
        assertAllClose(dx.data, expected, "per-row margin gradient")
    }

    func testSoftmaxHelpers() {
        let z = Tensor(shape: [2, 3], data: [1, 2, 3, 3, 3, -1])
        let p = softmax(z, temperature: 2)
        for r in 0..<2 { XCTAssertEqual(p.data[(r * 3)..<(r * 3 + 3)].reduce(0, +), 1, accuracy: 1e-6) }
        let e = [0.5, 1, 1.5].map { exp(Float($0)) }
        assertAllClose(Array(p.data[0..<3]), e.map { $0 / e.reduce(0, +) }, "softmax T=2")
        assertAllClose(logSoftmax(z, temperature: 2).data, p.data.map { log($0) }, "logSoftmax")
        XCTAssertEqual(argmax(rows: z), [2, 0])   // first maximum on ties, like torch
        XCTAssertEqual(logSoftmax(Tensor(shape: [1, 2], data: [0, -1000])).data[1], -1000, accuracy: 1e-3)
    }
}

import Foundation
import XCTest
import Boundary
import NN
import Tensor

/// The attacks other than BSS (docs/algorithm.md, "Other attacks"): FGSM is one signed step,
/// PGD stays in the ε-ball and the clip range, DeepFool crosses a linear boundary in one
/// analytic step, noise has the BSS's norms, and every attack is deterministic.
final class AttackTests: XCTestCase {
    /// A small non-linear net 6 → 5 → 4 with fixed pseudo-random weights.
    func tinyNet() throws -> Graph {
        var gen = SeededGenerator(seed: 7)
        let g = Graph(inputShape: [6])
        let a = Linear(inFeatures: 6, outFeatures: 5), b = Linear(inFeatures: 5, outFeatures: 4)
        for p in [a.weight, a.bias!, b.weight, b.bias!] {
            p.value = Tensor(shape: p.value.shape, data: (0..<p.value.count).map { _ in gen.nextNormal() })
        }
        try g.add("fc1", a)
        try g.add("relu", ReLU())
        try g.add("fc2", b)
        return g
    }

    func inputs() -> Tensor {
        var gen = SeededGenerator(seed: 3)
        return Tensor(shape: [5, 6], data: (0..<30).map { _ in gen.nextFloat() * 1.6 - 0.8 })
    }

    func attack(_ kind: AttackKind, _ p: AttackParameters, _ g: Graph) -> AdversarialAttack {
        let a = AdversarialAttack(teacher: g, kind: kind, parameters: p, bss: .paper)
        a.batchSize = 2   // chunks of 2: results must not depend on it
        return a
    }

    func testFGSMIsOneSignedStepDownTheMargin() throws {
        let g = try tinyNet(), x = inputs()
        let base = [0, 1, 2, 3, 0], target = [1, 2, 3, 0, 3]
        let out = attack(.fgsm, AttackParameters(epsilon: 0.1), g).run(source: x, rows: Array(0..<5), base: base, target: target)
        // The gradient of f_b − f_k by finite differences (the net is piecewise linear).
        for j in 0..<5 {
            for e in 0..<6 {
                func margin(_ d: Float) -> Float {
                    var xi = x.slice(rows: j..<(j + 1)); xi.data[e] += d
                    let l = g.forward(xi, mode: .inference, keepForBackward: false).data
                    return l[base[j]] - l[target[j]]
                }
                let grad = (margin(1e-3) - margin(-1e-3)) / 2e-3
                let expected = x.data[j * 6 + e] - 0.1 * (grad > 0 ? 1 : (grad < 0 ? -1 : 0))
                XCTAssertEqual(out.result.x.data[j * 6 + e], expected, accuracy: 1e-6, "pair \(j), element \(e)")
            }
        }
        XCTAssertEqual(out.target, target)
        XCTAssertEqual(out.result.steps, [1, 1, 1, 1, 1])
    }

    func testPGDStaysInTheBallAndTheClipRange() throws {
        let g = try tinyNet(), x = inputs()
        let p = AttackParameters(epsilon: 0.3, stepSize: 0.2, steps: 7, clip: -1...1)
        let out = attack(.pgd, p, g).run(source: x, rows: Array(0..<5), base: [0, 1, 2, 3, 0], target: [1, 2, 3, 0, 3])
        for i in 0..<30 {
            let v = out.result.x.data[i]
            XCTAssertLessThanOrEqual(abs(v - x.data[i]), 0.3 + 1e-6)
            XCTAssertTrue((-1...1).contains(v))
        }
        // PGD moves further than one FGSM step of the same size would in total.
        XCTAssertEqual(out.result.steps, [7, 7, 7, 7, 7])
        let logits = g.forward(out.result.x, mode: .inference, keepForBackward: false)
        XCTAssertEqual(logits.data, out.result.logits.data)
    }

    /// On a linear 3-class model f = Wx + c from x0 = (2, 0) with base 0: class 1 is at distance
    /// 2/√2 ... the nearest boundary is chosen, one step r = (|f'| + 1e-4)/‖w‖² w, scaled by
    /// 1 + overshoot, crosses it.
    func testDeepFoolCrossesALinearBoundaryInOneAnalyticStep() throws {
        let g = Graph(inputShape: [2])
        let fc = Linear(inFeatures: 2, outFeatures: 3)
        fc.weight.value = Tensor(shape: [3, 2], data: [1, 0, -1, 0, 0, 1])
        fc.bias!.value = Tensor(shape: [3], data: [0, 0, -3])
        try g.add("fc", fc)
        let x = Tensor(shape: [1, 2], data: [2, 0])
        let overshoot: Float = 0.02
        let out = attack(.deepfool, AttackParameters(steps: 5, overshoot: overshoot), g)
            .run(source: x, rows: [0], base: [0], target: [2])
        // f = (2, -2, -3): class 1 is at |f1 − f0| / ‖w1 − w0‖ = 4/2 = 2, class 2 at 5/√2 ≈ 3.54.
        // w = w1 − w0 = (−2, 0); r = (4 + 1e-4)/4 · (−2, 0); x1 = x0 + 1.02 r.
        XCTAssertEqual(out.result.steps, [1])
        XCTAssertEqual(out.target, [1])
        XCTAssertEqual(out.result.status, [.accepted])
        let r = Double(4 + 1e-4) / 4 * -2
        XCTAssertEqual(Double(out.result.x.data[0]), 2 + Double(1 + overshoot) * r, accuracy: 1e-5)
        XCTAssertEqual(out.result.x.data[1], 0)
    }

    func testNoiseHasTheBSSNormsAndARandomDirection() throws {
        let g = try tinyNet(), x = inputs()
        // Base classes the net predicts, so every search moves.
        let base = argmax(rows: g.forward(x, mode: .inference, keepForBackward: false)), target = base.map { ($0 + 1) % 4 }
        let bss = BSSGenerator(teacher: g, parameters: .paper).run(x: x, base: base, target: target)
        let out = attack(.noise, AttackParameters(), g).run(source: x, rows: Array(0..<5), base: base, target: target, noiseSeed: 11)
        let bssNorms = PairSelection.perturbationNorms(result: bss.x, source: x, baseIndex: Array(0..<5))
        let noiseNorms = PairSelection.perturbationNorms(result: out.result.x, source: x, baseIndex: Array(0..<5))
        for j in 0..<5 { XCTAssertEqual(noiseNorms[j], bssNorms[j], accuracy: 1e-4 * max(1, bssNorms[j])) }
        XCTAssertTrue(bssNorms.allSatisfy { $0 > 0 })
        XCTAssertNotEqual(out.result.x.data, bss.x.data)
        // Another seed, another direction.
        let other = attack(.noise, AttackParameters(), g).run(source: x, rows: Array(0..<5), base: base, target: target, noiseSeed: 12)
        XCTAssertNotEqual(other.result.x.data, out.result.x.data)
    }

    /// Same seed → same bits; and the batch size does not change any result.
    func testEveryAttackIsDeterministic() throws {
        let g = try tinyNet(), x = inputs()
        let base = [0, 1, 2, 3, 0], target = [1, 2, 3, 0, 3]
        for kind in AttackKind.allCases {
            let p = AttackParameters(epsilon: 0.2, steps: 4)
            let a = attack(kind, p, g).run(source: x, rows: Array(0..<5), base: base, target: target, noiseSeed: 5)
            let wide = AdversarialAttack(teacher: g, kind: kind, parameters: p, bss: .paper)
            wide.batchSize = 64
            let b = wide.run(source: x, rows: Array(0..<5), base: base, target: target, noiseSeed: 5)
            XCTAssertEqual(a.result.x.data.map(\.bitPattern), b.result.x.data.map(\.bitPattern), "\(kind)")
            XCTAssertEqual(a.result.status, b.result.status, "\(kind)")
            XCTAssertEqual(a.target, b.target, "\(kind)")
        }
    }
}

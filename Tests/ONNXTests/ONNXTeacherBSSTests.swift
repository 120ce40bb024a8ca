import Boundary
import Foundation
import XCTest
import ModelIO
import NN
@testable import ONNX
import Tensor
import TestSupport

/// BSS generation from an ONNX teacher matches the same network loaded from its state dict and
/// preset: heo2019-resnet8 exported by torch's dynamo exporter (BatchNorm folded into the
/// convolutions, so the logits differ by float rounding) against `dynamo-resnet8-state.npz`.
///
/// Statuses and step counts must agree on at least 95% of the pairs, and x_bss within 1e-4
/// relative (max |Δ| / max |x|) on every pair that took the same steps, except a pair whose path
/// met a ReLU kink (docs/algorithm.md, "ReLU kinks"): an iterate where one unit's pre-activation
/// is within rounding of 0, so the two teachers (equal to rounding) put it on different sides and
/// their gradients, hence the next step, differ by that unit's whole contribution. Such a pair
/// must be proven to be one: replayed alone, its iterates agree within 1e-6 up to an iterate x_i
/// where both teachers, on the same input, disagree on the sign of ReLU units whose
/// pre-activations are all within 1e-6 of their layer's largest, and nowhere else.
final class ONNXTeacherBSSTests: XCTestCase {
    override class func setUp() { ONNXImport.register() }

    func testBSSFromONNXMatchesStateDict() throws {
        let onnx = try ModelLoader.load(fixture("onnx/dynamo-resnet8.onnx"))
        let sd = try ModelLoader.load(fixture("onnx/dynamo-resnet8-state.npz"), arch: "heo2019-resnet8")
        let x = GradientCheck.randomTensor([3, 3, 32, 32], seed: 11)
        let logits = sd.graph.forward(x, mode: .inference, keepForBackward: false)
        var rows: [Int] = [], base: [Int] = [], target: [Int] = []
        for i in 0..<3 {
            let row = Array(logits.data[(i * 10)..<((i + 1) * 10)])
            let b = row.indices.max { row[$0] < row[$1] }!
            for t in 0..<10 where t != b { rows.append(i); base.append(b); target.append(t) }
        }
        let a = BSSGenerator(teacher: onnx.graph, parameters: .paper).run(source: x, rows: rows, base: base, target: target)
        let b = BSSGenerator(teacher: sd.graph, parameters: .paper).run(source: x, rows: rows, base: base, target: target)
        let same = zip(a.status, b.status).filter { $0 == $1 }.count
        XCTAssertGreaterThanOrEqual(Double(same), 0.95 * Double(rows.count), "same status for \(same)/\(rows.count) pairs")
        let sameSteps = rows.indices.filter { a.status[$0] == b.status[$0] && a.steps[$0] == b.steps[$0] }
        XCTAssertGreaterThanOrEqual(Double(sameSteps.count), 0.95 * Double(rows.count), "same steps for \(sameSteps.count)/\(rows.count) pairs")
        let per = 3 * 32 * 32
        var worst: Float = 0
        var kinks: [String] = []
        for k in sameSteps {
            let xa = Array(a.x.data[(k * per)..<((k + 1) * per)]), xb = Array(b.x.data[(k * per)..<((k + 1) * per)])
            let d = relativeDifference(xa, xb)
            if d <= 1e-4 { worst = max(worst, d); continue }
            let x0 = Array(x.data[(rows[k] * per)..<((rows[k] + 1) * per)])
            let pa = BSSPathReplay(teacher: onnx.graph, x0: x0, base: base[k], target: target[k])
            let pb = BSSPathReplay(teacher: sd.graph, x0: x0, base: base[k], target: target[k])
            XCTAssertEqual(pa.iterates.last, xa, "pair \(k): the replay reproduces the ONNX teacher's x_bss")
            XCTAssertEqual(pb.iterates.last, xb, "pair \(k): the replay reproduces the state dict's x_bss")
            // The last iterate before the paths part (x_{i+1} differs by more than 1e-6).
            guard let i = (0..<(min(pa.iterates.count, pb.iterates.count) - 1)).first(where: {
                relativeDifference(pa.iterates[$0 + 1], pb.iterates[$0 + 1]) > 1e-6
            }) else { XCTFail("pair \(k): x_bss differs by \(d) but the replayed paths do not part"); continue }
            let flips = reluSignFlips(onnx.graph, sd.graph, at: pa.iterates[i])
            XCTAssertFalse(flips.isEmpty, "pair \(k): paths part after iterate \(i) with no ReLU sign difference there (x_bss differs by \(d))")
            for f in flips {
                XCTAssertLessThanOrEqual(max(abs(f.zA), abs(f.zB)), 1e-6 * f.layerScale, "pair \(k) iterate \(i): \(f) is not a rounding-level kink")
            }
            kinks.append("pair \(k) (x_bss \(d)) at iterate \(i): \(flips.map(\.description).joined(separator: ", "))")
        }
        print("BSS from ONNX vs state dict: same status \(same)/\(rows.count), same steps \(sameSteps.count)/\(rows.count), accepted \(a.count(.accepted))/\(b.count(.accepted)), worst relative x_bss difference \(worst) off kinks; \(kinks.count) pair(s) through a ReLU kink\(kinks.isEmpty ? "" : ": " + kinks.joined(separator: "; "))")
        XCTAssertLessThanOrEqual(worst, 1e-4)
        // A kink is met about once per run of this test (74k ReLU units, 117 forward passes); more
        // than a tenth of the pairs through one would mean something other than rounding.
        XCTAssertLessThanOrEqual(kinks.count, max(1, rows.count / 10), "too many pairs through a ReLU kink")
    }
}

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
        let per = 3 * 32 * 32
        var worst: Float = 0
        for k in rows.indices where a.status[k] == b.status[k] {
            let xa = Array(a.x.data[(k * per)..<((k + 1) * per)]), xb = Array(b.x.data[(k * per)..<((k + 1) * per)])
            worst = max(worst, maxAbsDiff(xa, xb) / max(xb.map(abs).max() ?? 1, 1e-12))
        }
        print("BSS from ONNX vs state dict: same status \(same)/\(rows.count), accepted \(a.count(.accepted))/\(b.count(.accepted)), worst relative x_bss difference \(worst)")
        XCTAssertLessThanOrEqual(worst, 1e-4)
    }
}

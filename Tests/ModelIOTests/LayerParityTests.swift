import Foundation
import XCTest
@testable import Keras
@testable import ModelIO
@testable import NumPy
import NN
import Tensor
import TestSupport

/// Layer options against PyTorch (Fixtures/layers, made by Fixtures/scripts/make_layer_fixtures.py):
/// each case is a tiny network around one option, described by a spec; its eval-mode output and
/// the input gradient of a random projection of the output must match PyTorch's.
final class LayerParityTests: XCTestCase {
    static let cases = ["conv-groups", "conv-depthwise", "conv-dilation", "concat", "multiply-se", "multiply-vector",
                        "slice-shuffle", "pool-ceil", "pool-adaptive"]

    func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = "layers/"
        let weights = fixture(dir + name + ".npz"), spec = fixture(dir + name + ".json")
        // Cases without parameters have no state dict.
        let model = FileManager.default.fileExists(atPath: weights)
            ? try ModelLoader.load(weights, arch: spec) : try ModelLoader.fresh(arch: spec)
        let io = try Npz.readDictionary(URL(fileURLWithPath: fixture(dir + name + "-io.npz")))
        let x = try XCTUnwrap(io["x"]).tensor(), r = try XCTUnwrap(io["r"]).tensor()
        let y = model.graph.forward(x, mode: .inference)
        let ref = try XCTUnwrap(io["y"]).floats()
        let scale = max(1, ref.map(abs).max() ?? 1)
        assertAllClose(y.data, ref, atol: 1e-5 * scale, rtol: 0, "\(name) output", file: file, line: line)
        let dx = model.graph.backward(r, parameterGradients: false)
        let dref = try XCTUnwrap(io["dx"]).floats()
        assertAllClose(dx.data, dref, atol: 1e-5 * max(1, dref.map(abs).max() ?? 1), rtol: 0, "\(name) input gradient",
                       file: file, line: line)
    }

    func testEveryCaseMatchesPyTorch() throws {
        for name in Self.cases { try check(name) }
    }

    /// Keras export refuses what it would otherwise write wrongly: ceil-mode pooling, a [C]
    /// operand of Multiply (Keras would broadcast it over the width), a strided dilated
    /// convolution (Keras forbids it). What it writes is in KerasConvImportTests.
    func testKerasExportRefusesWhatKerasCannotExpress() throws {
        for (name, layer) in [("pool-ceil", "mp"), ("multiply-vector", "mul"), ("conv-dilation", "c")] {
            let m = try ModelLoader.fresh(arch: fixture("layers/\(name).json"))
            XCTAssertThrowsError(try KerasConfigGenerator.kerasTwin(of: m, file: "out.h5")) { e in
                let msg = "\(e)"
                XCTAssertTrue(msg.contains("layer '\(layer)'") && msg.contains("cannot be written as a Keras file"), msg)
            }
        }
    }

    /// Every fixture in the folder is in the list (a new case cannot be forgotten).
    func testEveryFixtureIsChecked() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: fixture("layers"))
        let names = Set(files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) })
        XCTAssertEqual(names, Set(Self.cases))
    }
}

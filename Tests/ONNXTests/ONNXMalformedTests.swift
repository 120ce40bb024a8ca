import Foundation
import XCTest
import ModelIO
@testable import ONNX
import TestSupport

/// Malformed ONNX files beyond those in ONNXImportTests (truncation, bit flips, a cycle, a
/// missing initializer, `../` external data): initializers whose declared dims lie about the
/// data present (typed fields, raw bytes, external files), external data given as an absolute
/// path or through a symbolic link out of the model's folder, a self-loop and a graph whose
/// only input is an initializer. Each is one line naming the file and the tensor or node.
final class ONNXMalformedTests: XCTestCase {
    /// `x [N, 4] → Gemm(w, transB) → y`, with `w` as given.
    func model(weight w: Onnx_TensorProto, nodes extra: [Onnx_NodeProto] = []) -> Onnx_ModelProto {
        var gemm = Onnx_NodeProto()
        gemm.opType = "Gemm"; gemm.name = "fc"; gemm.input = ["x", w.name]; gemm.output = ["y"]
        var transB = Onnx_AttributeProto(); transB.name = "transB"; transB.type = .int; transB.i = 1
        gemm.attribute = [transB]
        var x = Onnx_ValueInfoProto(); x.name = "x"
        var t = Onnx_TypeProto.Tensor(); t.elemType = 1
        for d: Int64 in [1, 4] { var dim = Onnx_TensorShapeProto.Dimension(); dim.value = .dimValue(d); t.shape.dim.append(dim) }
        x.type.value = .tensorType(t)
        var y = Onnx_ValueInfoProto(); y.name = "y"
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var o = Onnx_OperatorSetIdProto(); o.version = 17
        m.opsetImport = [o]
        m.graph.name = "g"; m.graph.node = [gemm] + extra; m.graph.input = [x]; m.graph.output = [y]
        m.graph.initializer = [w]
        return m
    }

    func weight(dims: [Int64] = [3, 4]) -> Onnx_TensorProto {
        var w = Onnx_TensorProto(); w.name = "w"; w.dataType = 1; w.dims = dims
        return w
    }

    func external(_ w: inout Onnx_TensorProto, _ fields: [(String, String)]) {
        w.dataLocation = .external
        w.externalData = fields.map { var e = Onnx_StringStringEntryProto(); e.key = $0.0; e.value = $0.1; return e }
    }

    /// Writes `m` (and `files`, relative to the model's folder) into a fresh folder; the error.
    func refusal(_ m: Onnx_ModelProto, files: [String: Data] = [:], prepare: (URL) throws -> Void = { _ in },
                 mentions: [String], line: UInt = #line) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-malformed-\(UUID().uuidString)")
        let folder = dir.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, data) in files { try data.write(to: folder.appendingPathComponent(name)) }
        try prepare(dir)
        let url = folder.appendingPathComponent("m.onnx")
        try m.serializedData().write(to: url)
        do { _ = try ONNXImport.load(url.path); XCTFail("loaded", line: line) } catch let e as ModelIOError {
            XCTAssertFalse(e.description.contains("\n"), e.description, line: line)
            XCTAssertTrue(e.description.contains("m.onnx"), e.description, line: line)
            for s in mentions { XCTAssertTrue(e.description.contains(s), e.description, line: line) }
        } catch { XCTFail("\(error)", line: line) }
    }

    // MARK: lying dims

    func testTypedFieldsShorterThanTheDims() throws {
        var w = weight(); w.floatData = [Float](repeating: 1, count: 5)
        try refusal(model(weight: w), mentions: ["initializer 'w'", "needs 12 values", "holds 5"])
    }

    func testRawDataShorterThanTheDims() throws {
        var w = weight(); w.rawData = Data(count: 40)
        try refusal(model(weight: w), mentions: ["initializer 'w'", "needs 48 bytes", "raw_data has 40"])
    }

    func testNegativeAndHugeDims() throws {
        var w = weight(dims: [3, -4]); w.rawData = Data(count: 48)
        try refusal(model(weight: w), mentions: ["initializer 'w'", "out of range"])
        // 2^40 elements declared, 48 bytes present: refused before any allocation.
        w = weight(dims: [1 << 20, 1 << 20]); w.rawData = Data(count: 48)
        try refusal(model(weight: w), mentions: ["initializer 'w'", "too large"])
        var e = weight(dims: [1 << 20, 1 << 20]); external(&e, [("location", "w.bin")])
        try refusal(model(weight: e), files: ["w.bin": Data(count: 48)], mentions: ["initializer 'w'", "too large"])
    }

    func testExternalFileShorterThanTheDims() throws {
        var w = weight(); external(&w, [("location", "w.bin"), ("offset", "8")])
        try refusal(model(weight: w), files: ["w.bin": Data(count: 48)], mentions: ["initializer 'w'", "'w.bin' has 48 bytes", "48 are needed at offset 8"])
    }

    func testExternalLengthThatDisagreesWithTheDims() throws {
        var w = weight(); external(&w, [("location", "w.bin"), ("length", "40")])
        try refusal(model(weight: w), files: ["w.bin": Data(count: 48)], mentions: ["initializer 'w'", "length '40'", "needs 48 bytes"])
        external(&w, [("location", "w.bin"), ("offset", "-8")])
        try refusal(model(weight: w), files: ["w.bin": Data(count: 48)], mentions: ["initializer 'w'", "offset '-8'"])
    }

    func testExternalFileMissing() throws {
        var w = weight(); external(&w, [("location", "absent.bin")])
        try refusal(model(weight: w), mentions: ["initializer 'w'", "'absent.bin' cannot be opened"])
    }

    // MARK: external data escapes

    func testExternalDataAtAnAbsolutePath() throws {
        var w = weight(); external(&w, [("location", "/etc/passwd")])
        try refusal(model(weight: w), mentions: ["initializer 'w'", "outside the model's folder"])
    }

    func testExternalDataThroughParentFolders() throws {
        var w = weight(); external(&w, [("location", "sub/../../outside.bin")])
        try refusal(model(weight: w), prepare: { dir in try Data(count: 48).write(to: dir.appendingPathComponent("outside.bin")) },
                    mentions: ["initializer 'w'", "outside the model's folder"])
    }

    func testExternalDataThroughASymbolicLinkOut() throws {
        var w = weight(); external(&w, [("location", "link.bin")])
        try refusal(model(weight: w), prepare: { dir in
            let outside = dir.appendingPathComponent("outside.bin")
            try Data(count: 48).write(to: outside)
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("model/link.bin"), withDestinationURL: outside)
        }, mentions: ["initializer 'w'", "symbolic link"])
        // A link to a folder outside, then a file in it.
        external(&w, [("location", "out/w.bin")])
        try refusal(model(weight: w), prepare: { dir in
            let outside = dir.appendingPathComponent("elsewhere")
            try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
            try Data(count: 48).write(to: outside.appendingPathComponent("w.bin"))
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("model/out"), withDestinationURL: outside)
        }, mentions: ["initializer 'w'", "symbolic link"])
    }

    func testExternalDataInsideTheFolderLoads() throws {
        var w = weight(); external(&w, [("location", "sub/w.bin")])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-external-ok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(count: 48).write(to: dir.appendingPathComponent("sub/w.bin"))
        let url = dir.appendingPathComponent("m.onnx")
        try model(weight: w).serializedData().write(to: url)
        XCTAssertEqual(try ONNXImport.load(url.path).classes, 3)
    }

    // MARK: graph structure

    func testSelfLoopIsACycle() throws {
        var w = weight(); w.floatData = [Float](repeating: 1, count: 12)
        var m = model(weight: w)
        var relu = Onnx_NodeProto(); relu.opType = "Relu"; relu.name = "loop"; relu.input = ["r"]; relu.output = ["r"]
        m.graph.node.append(relu)
        try refusal(m, mentions: ["cycle", "'loop'"])
    }

    func testOnlyInputIsAnInitializer() throws {
        var w = weight(); w.floatData = [Float](repeating: 1, count: 12)
        var m = model(weight: w)
        var x = Onnx_TensorProto(); x.name = "x"; x.dataType = 1; x.dims = [1, 4]; x.floatData = [1, 2, 3, 4]
        m.graph.initializer.append(x)
        try refusal(m, mentions: ["graph inputs", "0 inputs"])
    }
}

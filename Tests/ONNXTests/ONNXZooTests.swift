import Foundation
import XCTest
import ModelIO
import NN
@testable import ONNX
import Tensor
import TestSupport

/// Every zoo model exported by torch.onnx.export with dynamo=False and dynamo=True
/// (Fixtures/onnx/zoo, made by Fixtures/scripts/make_onnx_zoo_fixtures.py) imports and gives
/// onnxruntime's logits within 1e-4 relative to the largest logit.
///
/// The committed files keep the graphs but not the weights: each stripped initializer's
/// `doc_string` names its "pattern" role, and `fill` recomputes the values from the
/// initializer's name with the script's formula (ZooPatternValues' hash) before importing.
/// Members with more than `defaultLimit` weights (RepDistiller's VGGs and resnet32x4, most of
/// torchvision, whose VGGs with dynamo=False need 224×224 inputs for their adaptive 7×7 pool and
/// ~130M weights) take minutes in a debug build: they run with BSS_ONNX_ZOO_LARGE=1.
/// BSS_ONNX_ZOO_ONLY=name,name (fixture names without .onnx) imports only those members.
/// torchvision's VGGs with dynamo=True read their adaptive pool through the GatherND pattern
/// (ONNXConverter+GatherPool.swift).
final class ONNXZooTests: XCTestCase {
    override class func setUp() { ONNXImport.register() }

    struct Zoo {
        let index: [String: [String: Any]]
        let inputs: [String: NumpyArray]
        let logits: [String: NumpyArray]

        init() throws {
            let data = try Data(contentsOf: URL(fileURLWithPath: fixture("onnx/zoo/index.json")))
            index = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
            inputs = try Npz.readDictionary(URL(fileURLWithPath: fixture("onnx/zoo/inputs.npz")))
            logits = try Npz.readDictionary(URL(fileURLWithPath: fixture("onnx/zoo/logits.npz")))
        }
    }

    static let zoo = Result { try Zoo() }
    /// Fixtures with more pattern weights than this are imported only with BSS_ONNX_ZOO_LARGE=1.
    static let defaultLimit = 3_000_000

    /// The pattern values of one stripped initializer (the script's docstring has the formula).
    static func pattern(name: String, count: Int, role: String) throws -> [Float] {
        if role.hasPrefix("w:") {
            let fanIn = try XCTUnwrap(Int(role.dropFirst(2)), role)
            return ZooPatternValues.values(key: name, count: count, role: .weight(fanIn: fanIn))
        }
        let seed = ZooPatternValues.fnv1a(name)
        let (a, b): (Double, Double)
        switch role {
        case "b": (a, b) = (0, 0.1)
        case "g": (a, b) = (1, 0.25)
        case "v": (a, b) = (1, 0.5)
        default: throw XCTSkip("unknown pattern role '\(role)' in \(name)")
        }
        var out = [Float](repeating: 0, count: count)
        for i in 0..<count { out[i] = Float(a + b * ZooPatternValues.u(seed, i)) }
        return out
    }

    /// The input `key` of inputs.npz; "x224" is x32 with every pixel repeated 7 × 7 times.
    static func input(_ key: String, _ zoo: Zoo) throws -> Tensor {
        if key != "x224" { return try XCTUnwrap(zoo.inputs[key], key).tensor(file: "inputs", key: key) }
        let x = try XCTUnwrap(zoo.inputs["x32"]).tensor(file: "inputs", key: "x32")
        var out = [Float](repeating: 0, count: x.count * 49)
        for plane in 0..<(x.shape[0] * x.shape[1]) {
            for i in 0..<224 { for j in 0..<224 { out[plane * 224 * 224 + i * 224 + j] = x.data[plane * 1024 + (i / 7) * 32 + j / 7] } }
        }
        return Tensor(shape: [x.shape[0], x.shape[1], 224, 224], data: out)
    }

    /// The fixture with its pattern weights put back, written to a temporary folder.
    static func fill(_ name: String) throws -> String {
        var proto = try Onnx_ModelProto(serializedBytes: Data(contentsOf: URL(fileURLWithPath: fixture("onnx/zoo/\(name).onnx"))))
        for i in proto.graph.initializer.indices {
            let t = proto.graph.initializer[i]
            guard t.docString.hasPrefix("bss-pattern:") else { continue }
            let values = try pattern(name: t.name, count: t.dims.reduce(1) { $0 * Int($1) }, role: String(t.docString.dropFirst("bss-pattern:".count)))
            proto.graph.initializer[i].rawData = values.withUnsafeBufferPointer { Data(buffer: $0) }
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onnx-zoo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name + ".onnx")
        try proto.serializedData().write(to: url)
        return url.path
    }

    /// Imports each fixture whose name starts with `prefix` and compares with onnxruntime.
    func check(_ prefix: String, expect count: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let zoo = try Self.zoo.get()
        let names = zoo.index.keys.filter { $0.hasPrefix(prefix) }.sorted()
        XCTAssertEqual(names.count, count, "fixtures for \(prefix): \(names)", file: file, line: line)
        for name in names {
            let entry = zoo.index[name]!
            if let error = entry["error"] as? String {
                XCTFail("\(name) did not export: \(error)", file: file, line: line); continue
            }
            if let only = ProcessInfo.processInfo.environment["BSS_ONNX_ZOO_ONLY"], !only.split(separator: ",").contains(Substring(name)) {
                print("skipped \(name) (not in BSS_ONNX_ZOO_ONLY)")
                continue
            }
            let parameters = (entry["pattern_parameters"] as? NSNumber)?.intValue ?? 0
            if parameters > Self.defaultLimit && ProcessInfo.processInfo.environment["BSS_ONNX_ZOO_LARGE"] != "1" {
                print("skipped \(name) (\(parameters) weights to rebuild): set BSS_ONNX_ZOO_LARGE=1 to import the large zoo members")
                continue
            }
            let path = try Self.fill(name)
            defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: path).deletingLastPathComponent()) }
            let model: Model
            do { model = try ModelLoader.load(path) } catch {
                XCTFail("\(name): \(error)", file: file, line: line); continue
            }
            let x = try Self.input(entry["input"] as! String, zoo)
            let want = try XCTUnwrap(zoo.logits[name], name).tensor(file: "logits", key: name)
            let got = model.graph.forward(x, mode: .inference, keepForBackward: false)
            defer { print("\(name): max |bss − onnxruntime| \(maxAbsDiff(got.data, want.data)), largest logit \(want.data.map(abs).max() ?? 0)") }
            XCTAssertEqual(got.shape, want.shape, name, file: file, line: line)
            let scale = want.data.map(abs).max() ?? 1
            let diff = zip(got.data, want.data).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(diff, 1e-4 * scale, "\(name): max |bss − onnxruntime| \(diff), largest logit \(scale)", file: file, line: line)
        }
    }

    func testHeo2019ResNets() throws { try check("heo2019-", expect: 16) }
    func testAkamasterResNets() throws { try check("akamaster-", expect: 10) }
    func testRepDistillerResNets() throws { try check("repdistiller-resnet", expect: 18) }
    func testRepDistillerWideResNets() throws { try check("repdistiller-wrn", expect: 8) }
    func testRepDistillerVGGs() throws { try check("repdistiller-vgg", expect: 10) }
    func testRepDistillerMobileNetAndShuffleNets() throws {
        try check("repdistiller-mobilenetv2", expect: 2)
        try check("repdistiller-shuffle", expect: 4)
    }
    func testTorchvisionResNets() throws { try check("torchvision-resnet", expect: 8) }
    func testTorchvisionVGGs() throws { try check("torchvision-vgg", expect: 4) }
    func testTorchvisionMobileNetsAndEfficientNet() throws {
        try check("torchvision-mobilenet", expect: 6)
        try check("torchvision-efficientnet", expect: 2)
    }
    func testLeNet() throws { try check("lenet5", expect: 2) }
}

import Foundation
import XCTest
@testable import ModelCore
@testable import ModelIO
import NN
import Tensor

/// Presets, JSON specs and strict state-dict loading.
final class ArchitectureTests: XCTestCase {
    func testCifarResNetParameterCountsMatchThePaper() throws {
        let expected = [8: 75_290, 14: 172_506, 20: 269_722, 26: 366_938]
        for (depth, count) in expected {
            let m = try ModelLoader.fresh(arch: "heo2019-resnet\(depth)")
            XCTAssertEqual(m.graph.parameterCount, count, "heo2019-resnet\(depth)")
            XCTAssertEqual(m.graph.inputShape, [3, 32, 32])
            XCTAssertEqual(m.classes, 10)
        }
    }

    func testCifarResNet8StateDictKeysAreTheAuthors() throws {
        let m = try ModelLoader.fresh(arch: "heo2019-resnet8")
        let keys = StateDict(model: m).entries.map(\.key)
        let bn = { (p: String) in ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"].map { "\(p).\($0)" } }
        var expected = ["conv1.weight"] + bn("bn1")
        for s in 1...3 {
            expected += ["layer\(s).0.conv1.weight"] + bn("layer\(s).0.bn1") + ["layer\(s).0.conv2.weight"] + bn("layer\(s).0.bn2")
        }
        expected += ["linear.weight", "linear.bias"]
        XCTAssertEqual(keys, expected)
    }

    func testMLPPreset() throws {
        let m = try ModelLoader.fresh(arch: "mlp:784-800-800-10")
        XCTAssertEqual(m.graph.parameterCount, 784 * 800 + 800 + 800 * 800 + 800 + 800 * 10 + 10)
        XCTAssertEqual(StateDict(model: m).entries.map(\.key),
                       ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"])
        XCTAssertThrowsError(try ModelLoader.fresh(arch: "mlp:784-x-10"))
        XCTAssertThrowsError(try ModelLoader.fresh(arch: "heo2019-resnet9"))
    }

    func writeSpec(_ json: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spec-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        return url
    }

    func testSpecErrorsNameTheLayer() throws {
        let cases: [(String, String)] = [
            (#"{"input_shape":[4],"classes":2,"layers":[{"name":"a","type":"gru"}]}"#, "layer 'a': field 'type': unknown layer type 'gru'"),
            (#"{"input_shape":[4],"classes":2,"layers":[{"name":"a","type":"linear","in_features":4}]}"#, "layer 'a': field 'out_features': missing field (a linear layer needs in_features, out_features)"),
            (#"{"input_shape":[4],"classes":2,"layers":[{"name":"a","type":"linear","in_features":5,"out_features":2}]}"#, "layer 'a'"),
            (#"{"input_shape":[4],"classes":3,"layers":[{"name":"a","type":"linear","in_features":4,"out_features":2}]}"#, "classes"),
            (#"{"input_shape":[4],"classes":2,"layers":[{"name":"a","type":"relu","inputs":["b"]}]}"#, "input 'b' is not a layer defined before it"),
            (#"{"input_shape":[4],"classes":2,"layers":[{"name":"a"}]}"#, "layer 'a': field 'type': missing field"),
            (#"{"input_shape":[4], "#, "not valid JSON"),
        ]
        for (json, needle) in cases {
            let url = try writeSpec(json)
            defer { try? FileManager.default.removeItem(at: url) }
            XCTAssertThrowsError(try ModelLoader.fresh(arch: url.path), json) { error in
                let msg = "\(error)"
                XCTAssertTrue(msg.contains(needle), "\(msg) should contain \(needle)")
                XCTAssertTrue(msg.hasPrefix(url.path), msg)
                XCTAssertFalse(msg.contains("\n"), msg)
            }
        }
    }

    func testSpecKeyOverridesAndGraphEdges() throws {
        let url = try writeSpec("""
        {"format":"bss-architecture","input_shape":[3,4,4],"classes":2,"layers":[
          {"name":"c","type":"conv2d","in_channels":3,"out_channels":3,"kernel":3,"padding":1,"keys":{"weight":"features.0.weight"}},
          {"name":"sum","type":"add","inputs":["c","input"]},
          {"name":"gap","type":"global_avgpool"},
          {"name":"fc","type":"linear","in_features":3,"out_features":2}]}
        """)
        defer { try? FileManager.default.removeItem(at: url) }
        let m = try ModelLoader.fresh(arch: url.path)
        XCTAssertEqual(StateDict(model: m).entries.map(\.key), ["features.0.weight", "c.bias", "fc.weight", "fc.bias"])
        let y = m.graph.forward(Tensor(shape: [2, 3, 4, 4], repeating: 1), mode: .inference)
        XCTAssertEqual(y.shape, [2, 2])
    }

    func testStrictLoadingListsEveryProblemAtOnce() throws {
        let m = try ModelLoader.fresh(arch: "mlp:4-3-2")
        var sd = StateDict(model: m)
        sd.entries.removeAll { $0.key == "fc1.bias" }
        sd.entries = sd.entries.map { $0.key == "fc2.weight" ? ($0.key, NumpyArray(Tensor(shape: [3, 2]))) : $0 }
        sd.entries.append(("extra.weight", NumpyArray(Tensor(shape: [1]))))
        XCTAssertThrowsError(try sd.load(into: m, file: "w.npz")) { error in
            let msg = "\(error)"
            XCTAssertTrue(msg.contains("missing keys: fc1.bias"), msg)
            XCTAssertTrue(msg.contains("unexpected keys: extra.weight"), msg)
            XCTAssertTrue(msg.contains("fc2.weight has shape [3, 2], the architecture expects [2, 3]"), msg)
        }
    }

    func testDataParallelPrefixAndBatchCounterAreAccepted() throws {
        let m = try ModelLoader.fresh(arch: "heo2019-resnet8")
        var sd = StateDict(model: m)
        sd.entries = sd.entries.map { ("module." + $0.key, $0.key.hasSuffix("num_batches_tracked") ? NumpyArray(int64s: [7], shape: []) : $0.array) }
        let m2 = try ModelLoader.fresh(arch: "heo2019-resnet8")
        try sd.load(into: m2, file: "dp.npz")
        XCTAssertEqual(m2.batchNormLayers().first?.layer.numBatchesTracked, 7)
    }
}

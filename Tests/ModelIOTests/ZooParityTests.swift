import Foundation
import XCTest
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
@testable import SafeTensors
import NN
import Tensor
import TestSupport

/// Every preset family against its source's own model code (Fixtures/zoo): same state-dict
/// keys, shapes and parameter count, and the same logits within 1e-4 of the largest logit.
final class ZooParityTests: XCTestCase {
    static let tolerance: Float = 1e-4
    static let smallMembers = ["heo2019-resnet8", "akamaster-resnet20", "repdistiller-resnet8", "repdistiller-wrn_16_1"]

    func assertParity(_ model: Model, _ reference: [Float], _ x: Tensor, _ name: String, line: UInt = #line) {
        let y = model.graph.predict(x, batchSize: 4)
        XCTAssertEqual(y.count, reference.count, name, line: line)
        let scale = reference.map(abs).max() ?? 1
        let diff = maxAbsDiff(y.data, reference)
        XCTAssertLessThanOrEqual(diff, Self.tolerance * scale, "\(name): max |Δ| \(diff), largest logit \(scale)", line: line)
        print("zoo parity \(name): max |Δ| / largest logit = \(diff / scale)")
    }

    func testEveryPresetHasTheSourcesKeysShapesAndParameterCount() throws {
        let zoo = try ZooFixture()
        XCTAssertEqual(Set(zoo.entries.map(\.name)), Set(Presets.names.filter { !$0.hasPrefix("mlp") }),
                       "every listed preset has a fixture and vice versa")
        for e in zoo.entries {
            let m = try ModelLoader.fresh(arch: e.name, classes: e.classes, inputSize: zoo.inputSize(e))
            let ours = StateDict(model: m).entries.map { ($0.key, $0.array.shape) }
            XCTAssertEqual(ours.map(\.0), e.keys.map(\.key), "\(e.name): state-dict keys in order")
            XCTAssertTrue(zip(ours, e.keys).allSatisfy { $0.1 == $1.shape }, "\(e.name): shapes")
            XCTAssertEqual(m.graph.parameterCount, e.parameters, e.name)
            XCTAssertEqual(m.graph.inputShape, e.inputShape, e.name)
            XCTAssertEqual(Presets.source(of: e.name), e.source, e.name)
        }
    }

    /// The generated pattern is the script's, bit for bit (checked on the stored state dicts).
    func testPatternWeightsEqualTheStoredStateDicts() throws {
        let zoo = try ZooFixture()
        for name in Self.smallMembers {
            let stored = try Npz.read(URL(fileURLWithPath: ZooFixture.path(name + ".npz")))
            let built = try zoo.stateDict(try XCTUnwrap(zoo.entries.first { $0.name == name }))
            XCTAssertEqual(stored.map(\.key), built.entries.map(\.key), name)
            for (s, b) in zip(stored, built.entries) {
                XCTAssertEqual(s.array.shape, b.array.shape, s.key)
                XCTAssertEqual(s.array.bytes, b.array.bytes, "\(name): \(s.key)")
            }
        }
    }

    /// Each preset loads the source model's state dict (class count from its weights) and
    /// gives the source's logits.
    func testEveryPresetMatchesItsSourcesLogits() throws {
        let zoo = try ZooFixture()
        for e in zoo.entries {
            let m = try ModelLoader.fromStateDict(try zoo.stateDict(e), arch: e.name, file: "\(e.name) pattern", format: .stateDictNPZ,
                                                  inputSize: zoo.inputSize(e))
            XCTAssertEqual(m.classes, e.classes, "\(e.name): class count from the weights")
            assertParity(m, try XCTUnwrap(zoo.logits[e.name]).floats(), zoo.input(e), e.name)
        }
    }

    /// The small members from their `.npz` (numpy.savez of the source model's state_dict) and
    /// `.safetensors` (safetensors.torch.save_file of it, Fixtures/scripts/make_zoo_safetensors.py)
    /// files; the safetensors metadata names the source and its commit.
    func testSmallMembersLoadFromTheirFiles() throws {
        let zoo = try ZooFixture()
        for name in Self.smallMembers {
            let ref = try XCTUnwrap(try Npz.readDictionary(URL(fileURLWithPath: ZooFixture.path(name + "-logits.npz")))["logits"])
            for ext in ["npz", "safetensors"] {
                let m = try ModelLoader.load(ZooFixture.path("\(name).\(ext)"), arch: name)
                assertParity(m, try ref.floats(), zoo.x, "\(name).\(ext)")
            }
            let st = try SafeTensors.read(URL(fileURLWithPath: ZooFixture.path(name + ".safetensors")))
            XCTAssertEqual(st.metadata?["commit"]?.count, 40, name)
            XCTAssertEqual(st.metadata?["source"]?.isEmpty, false, name)
        }
    }

    /// The two option-A conventions load each other's weights without complaint, but compute
    /// different functions: that is why the names say whose code they are.
    func testTheTwoOptionAConventionsDiffer() throws {
        let zoo = try ZooFixture()
        let wrong = try ModelLoader.load(ZooFixture.path("akamaster-resnet20.npz"), arch: "heo2019-resnet20")
        let ref = try XCTUnwrap(zoo.logits["akamaster-resnet20"]).floats()
        let diff = maxAbsDiff(wrong.graph.predict(zoo.x, batchSize: 4).data, ref)
        XCTAssertGreaterThan(diff, 100 * Self.tolerance * ref.map(abs).max()!)
    }

    func testAmbiguousAndUnknownNamesAreRefused() throws {
        XCTAssertThrowsError(try ModelLoader.fresh(arch: "cifar-resnet20")) { e in
            let msg = "\(e)"
            for needle in ["cifar-resnet20", "heo2019-resnet20", "akamaster-resnet20", "appended at the end", "split before and after"] {
                XCTAssertTrue(msg.contains(needle), msg)
            }
        }
        XCTAssertThrowsError(try ModelLoader.fresh(arch: "repdistiller-resnet9"))
        XCTAssertThrowsError(try ModelLoader.fresh(arch: "akamaster-resnet21"))
        XCTAssertEqual(try ModelLoader.fresh(arch: "repdistiller-vgg8", classes: 7).classes, 7)
        XCTAssertThrowsError(try ModelLoader.fresh(arch: "torchvision-resnet19"))
        XCTAssertThrowsError(try ModelLoader.fresh(arch: "repdistiller-resnet8", inputSize: 64)) {
            XCTAssertTrue("\($0)".contains("fixes its input at 32x32"), "\($0)")
        }
        XCTAssertThrowsError(try ModelLoader.fresh(arch: "torchvision-resnet18", inputSize: 16))
    }

    /// torchvision presets default to 224×224 and accept other sizes (adaptive pooling).
    func testTorchvisionInputSizes() throws {
        XCTAssertEqual(try XCTUnwrap(try Presets.spec(named: "torchvision-resnet18")).inputShape, [3, 224, 224])
        XCTAssertEqual(try XCTUnwrap(try Presets.spec(named: "torchvision-resnet18", inputSize: 96)).inputShape, [3, 96, 96])
        let m = try ModelLoader.fresh(arch: "torchvision-resnet18", classes: 5, inputSize: 40)
        XCTAssertEqual(m.graph.outputShape, [5])
        // NAME@SIZE works wherever an architecture name does.
        let at = try ModelLoader.fresh(arch: "torchvision-mobilenet_v3_small@64", classes: 3)
        XCTAssertEqual(at.graph.inputShape, [3, 64, 64])
        XCTAssertEqual(Presets.source(of: "torchvision-mobilenet_v3_small@64"), "pytorch/vision torchvision/models/mobilenetv3.py")
        XCTAssertEqual(Presets.classifierWeightKey(of: "torchvision-vgg11_bn@64"), "classifier.6.weight")
        for (bad, needle) in [("repdistiller-resnet8@64", "only the torchvision presets"), ("torchvision-resnet18@x", "positive integer"),
                              ("torchvision-resnet18@16", "must be ≥ 32")] {
            XCTAssertThrowsError(try ModelLoader.fresh(arch: bad)) { XCTAssertTrue("\($0)".contains(needle), "\(bad): \($0)") }
        }
    }
}

import Foundation
import XCTest
@testable import ModelCore
@testable import ModelIO
@testable import NumPy
import TestSupport
import Tensor

/// The model-zoo fixtures (Fixtures/zoo, made by Fixtures/scripts/make_zoo_fixtures.py from the
/// source repositories' own model code): the listing of each source model's state dict, and the
/// deterministic "pattern" weights the script loaded into it, rebuilt here (`ZooPatternValues`,
/// the script docstring's formula) so the deep members need no stored weight files.
struct ZooFixture {
    struct Entry {
        var name: String
        var source: String
        var classes: Int
        var parameters: Int
        /// `[3, H, W]` the reference logits were computed at (32×32, or 64×64 for torchvision).
        var inputShape: [Int]
        /// `[key, shape]` of every `state_dict()` entry, in the source's order.
        var keys: [(key: String, shape: [Int])]
    }

    let entries: [Entry]
    /// The inputs: 4 × 3 × 32 × 32, and 4 × 3 × 64 × 64 for the size-agnostic torchvision models.
    let x: Tensor
    let x64: Tensor
    let logits: [String: NumpyArray]
    let bnStatistics: [String: NumpyArray]

    static func path(_ name: String) -> String { fixture("zoo/" + name) }

    init() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.path("state-dict-keys.json")))
        let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        entries = try root.keys.sorted().map { name in
            let e = root[name]!
            let keys = try XCTUnwrap(e["keys"] as? [[Any]]).map { ($0[0] as! String, ($0[1] as! [Any]).map { ($0 as! NSNumber).intValue }) }
            let shape = (e["input_shape"] as? [Any])?.map { ($0 as! NSNumber).intValue } ?? [3, 32, 32]
            return Entry(name: name, source: e["source"] as! String, classes: (e["classes"] as! NSNumber).intValue,
                         parameters: (e["parameters"] as! NSNumber).intValue, inputShape: shape, keys: keys)
        }
        let inputs = try Npz.readDictionary(URL(fileURLWithPath: Self.path("inputs.npz")))
        x = try XCTUnwrap(inputs["x"]).tensor()
        x64 = try XCTUnwrap(inputs["x64"]).tensor()
        logits = try Npz.readDictionary(URL(fileURLWithPath: Self.path("logits.npz")))
        bnStatistics = try Npz.readDictionary(URL(fileURLWithPath: Self.path("bn-statistics.npz")))
    }

    /// The input the entry's reference logits were computed for.
    func input(_ entry: Entry) -> Tensor { entry.inputShape == [3, 64, 64] ? x64 : x }

    /// The input size to build `entry`'s preset at (nil: the preset's own, 32).
    func inputSize(_ entry: Entry) -> Int? { entry.name.hasPrefix("torchvision-") ? entry.inputShape[1] : nil }

    /// The state dict the script loaded into the source model for `entry`.
    func stateDict(_ entry: Entry) throws -> StateDict {
        let bnPrefixes = Set(entry.keys.compactMap { $0.key.hasSuffix(".running_mean") ? String($0.key.dropLast(".running_mean".count)) : nil })
        let stats = try XCTUnwrap(bnStatistics[entry.name], entry.name).floats()
        var offset = 0
        var out: [(key: String, array: NumpyArray)] = []
        for (key, shape) in entry.keys {
            let n = shape.reduce(1, *)
            let leaf = String(key.split(separator: ".").last!)
            let prefix = String(key.dropLast(leaf.count + 1))
            switch leaf {
            case "num_batches_tracked":
                out.append((key, NumpyArray(int64s: [0], shape: [])))
                continue
            case "running_mean", "running_var":
                out.append((key, NumpyArray(float32s: Array(stats[offset..<(offset + n)]), shape: shape)))
                offset += n
                continue
            default: break
            }
            let role: ZooPatternValues.Role = bnPrefixes.contains(prefix) ? (leaf == "weight" ? .bnWeight : .bias)
                : shape.count >= 2 ? .weight(fanIn: n / shape[0]) : .bias
            out.append((key, NumpyArray(float32s: ZooPatternValues.values(key: key, count: n, role: role), shape: shape)))
        }
        XCTAssertEqual(offset, stats.count, "\(entry.name): BatchNorm statistics left over")
        return StateDict(entries: out)
    }
}

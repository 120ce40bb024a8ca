import Foundation
import XCTest
@testable import ModelIO
@testable import Keras
@testable import ModelCore
@testable import NumPy
import NN
import Tensor
import TestSupport

/// Keras' channels-last flatten order converted at the import boundary (docs/formats.md,
/// "Flatten order"): folded into the following Dense kernels where only Dense layers read the
/// features, a `Permute` + `Flatten` elsewhere; exact round trips; legacy `order: "nhwc"` specs.
final class KerasFlattenOrderTests: XCTestCase {
    var dir: URL!

    override func setUp() { dir = temporaryDirectory("bss-keras-flatten") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// The Keras kernel `[in, out]` of `layer`'s `kernel` in a Keras 3 legacy `.h5`.
    func kerasKernel(_ file: String, layer: String) throws -> (shape: [Int], values: [Float]) {
        let h5 = try HDF5File(reading: KerasFixtures.url("keras/" + file))
        let names = try h5.stringArrayAttribute("weight_names", at: "model_weights/" + layer)
        let kernel = try XCTUnwrap(names.first { $0.hasSuffix("kernel") || $0.hasSuffix("kernel:0") }, layer)
        return try h5.readFloats("model_weights/\(layer)/\(kernel)")
    }

    /// Each route the importer distinguishes, in one Keras 3 model (Fixtures/scripts/make_keras_flatten_fixtures.py).
    func testEachRouteGivesKerasNumbers() throws {
        let ref = try KerasFixtures.reference("keras/flatten-orders-reference.npz")
        for ext in ["h5", "keras"] {
            let m = try KerasImport.load(KerasFixtures.url("keras/flatten-orders.\(ext)"))
            let logits = try KerasFixtures.logits(m, ref["x"]!)
            assertAllClose(logits.data, try ref["logits"]!.floats(), atol: 1e-5, rtol: 0, "flatten-orders.\(ext) logits")
            let g = m.graph
            func kind(_ name: String) -> String? { g.index(of: name).map { g.nodes[$0].layer.kind } }
            func reader(_ name: String) -> String? {
                guard let i = g.index(of: name), case let .node(j) = g.nodes[i].inputs[0] else { return nil }
                return g.nodes[j].name
            }
            // Folded: plain Flatten straight from the conv (no Permute), Dense rows permuted.
            XCTAssertEqual(reader("fold_flat"), "conv/tanh")
            XCTAssertEqual(reader("direct_flat"), "conv/tanh")
            XCTAssertEqual(kind("to_vector"), "Flatten")
            XCTAssertEqual(kind("to_vector/nhwc"), nil)
            // Read by a BatchNorm: Permute [1, 2, 0] then Flatten, the Dense after it not permuted.
            XCTAssertEqual(reader("bn_flat"), "bn_flat/nhwc")
            XCTAssertEqual((g.nodes[g.index(of: "bn_flat/nhwc")!].layer as? Permute)?.dims, [1, 2, 0])
            // Reshape to (9, 2, 2): Permute, Reshape, Permute back.
            XCTAssertEqual(["to_image/nhwc", "to_image", "to_image/nchw"].map(kind), ["Permute", "Reshape", "Permute"])
            XCTAssertFalse(g.nodes.contains { $0.layer.kind.contains("ChannelsLast") })
        }
    }

    /// The Dense kernels after a folded Flatten hold Keras' rows at our (c, h, w) columns; the
    /// others are the plain transpose.
    func testFoldedKernelsArePermutedAndTheOthersTransposed() throws {
        let m = try KerasImport.load(KerasFixtures.url("keras/flatten-orders.h5"))
        let (c, h, w) = (4, 3, 3)
        for (layer, folded) in [("fold_dense", true), ("direct_dense", true), ("bn_dense", false)] {
            let (shape, kernel) = try kerasKernel("flatten-orders.h5", layer: layer)
            let linear = try XCTUnwrap(m.graph.nodes[m.graph.index(of: layer)!].layer as? Linear)
            XCTAssertEqual(linear.weight.value.shape, [shape[1], shape[0]])
            let n = shape[0]
            for o in 0..<shape[1] {
                for y in 0..<h { for x in 0..<w { for ch in 0..<c {
                    let k = (y * w + x) * c + ch
                    let ours = folded ? (ch * h + y) * w + x : k
                    XCTAssertEqual(linear.weight.value.data[o * n + ours], kernel[k * shape[1] + o], "\(layer) [\(o), \(k)]")
                } } }
            }
        }
    }

    /// `inspect` lists each folded flatten with its Dense, and the Permutes.
    func testConversionsNameEveryFoldAndPermute() throws {
        let m = try KerasImport.load(KerasFixtures.url("keras/flatten-orders.keras"))
        let text = m.conversions.joined(separator: "\n")
        for needle in ["fold_flat → fold_dense", "direct_flat → direct_dense", "to_vector → reshape_dense",
                       "rows permuted from Keras' (h, w, c) to (c, h, w)", "Permute [1, 2, 0] (node '<layer>/nhwc') + Flatten: bn_flat",
                       "Reshape to (h, w, c)", ": to_image"] {
            XCTAssertTrue(text.contains(needle), "'\(needle)' missing:\n\(text)")
        }
        XCTAssertFalse(text.contains("bn_flat → bn_dense"), text)
    }

    /// Keras → bss → Keras: every weight dataset bit for bit (the permutation is undone on export).
    func testRoundTripToKerasIsExact() throws {
        for ext in ["h5", "keras"] {
            let source = KerasFixtures.url("keras/flatten-orders.\(ext)")
            let out = dir.appendingPathComponent("rt.h5")
            try KerasExport.write(try KerasImport.load(source), to: out)
            let b = try HDF5File(reading: out)
            for layer in ["fold_dense", "direct_dense", "bn_dense", "reshape_dense", "head"] {
                let names = try b.stringArrayAttribute("weight_names", at: "model_weights/" + layer)
                let kernel = try XCTUnwrap(names.first { $0.hasSuffix("kernel") })
                let written = try b.readFloats("model_weights/\(layer)/\(kernel)")
                if ext == "h5" {
                    let original = try kerasKernel("flatten-orders.h5", layer: layer)
                    XCTAssertEqual(written.shape, original.shape, layer)
                    XCTAssertEqual(written.values, original.values, "\(layer) bit for bit")
                }
            }
            // And the archive round trip keeps every engine parameter.
            let kOut = dir.appendingPathComponent("rt.keras")
            let original = try KerasImport.load(source)
            try KerasExport.write(original, to: kOut)
            let again = try KerasImport.load(kOut)
            for (p, q) in zip(original.stateDictParameters(), again.stateDictParameters()) {
                XCTAssertEqual(p.parameter.value, q.parameter.value, "\(ext) \(p.key)")
            }
        }
    }

    /// Keras → state dict + spec → reload: identical logits; the spec says plain flatten plus a
    /// permute where one is needed, and the state dict holds PyTorch-order Dense weights.
    func testStateDictAndSpecKeepTheNumbers() throws {
        let keras = try KerasImport.load(KerasFixtures.url("keras/flatten-orders.h5"))
        let out = dir.appendingPathComponent("fo.safetensors")
        let report = try ModelWriter.write(keras, to: out)
        XCTAssertTrue(report.conversions.joined().contains("(c, h, w) column order"), "\(report.conversions)")
        let specText = try String(contentsOf: dir.appendingPathComponent("fo.json"), encoding: .utf8)
        XCTAssertFalse(specText.contains("\"order\""), specText)
        XCTAssertTrue(specText.contains("\"permute\""), specText)
        let back = try ModelLoader.load(out.path, arch: dir.appendingPathComponent("fo.json").path)
        let x = try KerasFixtures.engineInput(try KerasFixtures.reference("keras/flatten-orders-reference.npz")["x"]!)
        XCTAssertEqual(back.graph.predict(x).data, keras.graph.predict(x).data)
        // A PyTorch-style flatten(1) of the NCHW conv output → Linear with the written weight
        // is the Dense's output: the weights are in PyTorch's order.
        let g = back.graph
        let conv = try XCTUnwrap(g.index(of: "conv/tanh")), dense = try XCTUnwrap(g.index(of: "direct_dense"))
        let taps = g.forward(x, mode: .inference, keepForBackward: false, taps: [conv, dense]).taps
        let linear = try XCTUnwrap(g.nodes[dense].layer as? Linear)
        let plain = linear.forward([taps[0].reshaped([taps[0].batch, 36])], mode: .inference)
        XCTAssertEqual(plain.data, taps[1].data)
    }

    /// Keras weights loaded by layer name into a spec apply the same rule (a tf.keras 2
    /// `save_weights` file into the spec the import of its model records).
    func testKerasWeightsByNameIntoTheRecordedSpec() throws {
        let keras = try KerasImport.load(KerasFixtures.url("keras/conv-flatten-tf2.h5"))
        let specURL = dir.appendingPathComponent("cf.json")
        try keras.spec!.jsonData().write(to: specURL)
        let byName = try ModelLoader.load(fixture("keras/conv-flatten-tf2-weights.h5"), arch: specURL.path)
        XCTAssertEqual(byName.format, .kerasWeights)
        XCTAssertTrue(byName.conversions.joined().contains("(h, w, c) to (c, h, w)"), "\(byName.conversions)")
        try KerasFixtures.assertLogits(byName, try KerasFixtures.reference("keras/conv-flatten-tf2-reference.npz"), "by name")
    }

    /// Spec files written before the engine had one layout: `flatten` with `order: "nhwc"` and
    /// Dense weights in Keras' (h, w, c) order. They load with the Keras model's numbers, as
    /// Permute + Flatten, and say so.
    func testLegacyNHWCFlattenSpecGivesTheSameNumbers() throws {
        let keras = try KerasImport.load(KerasFixtures.url("keras/conv-flatten.h5"))
        var legacy = try XCTUnwrap(keras.spec)
        let i = try XCTUnwrap(legacy.layers.firstIndex { $0.type == "flatten" })
        legacy.layers[i].order = "nhwc"
        let specURL = dir.appendingPathComponent("legacy.json")
        try legacy.jsonData().write(to: specURL)
        // The state dict as earlier versions wrote it: dense.weight = the Keras kernel transposed.
        let sd = StateDict(model: keras)
        let (shape, kernel) = try kerasKernel("conv-flatten.h5", layer: "dense")
        var entries = sd.entries
        let k = try XCTUnwrap(entries.firstIndex { $0.key == "dense.weight" })
        entries[k].array = NumpyArray(float32s: KerasVariables.transpose(kernel, rows: shape[0], cols: shape[1]), shape: [shape[1], shape[0]])
        let npz = dir.appendingPathComponent("legacy.npz")
        try Npz.write(Dictionary(uniqueKeysWithValues: entries.map { ($0.key, $0.array) }), to: npz)
        let m = try ModelLoader.load(npz.path, arch: specURL.path)
        try KerasFixtures.assertLogits(m, try KerasFixtures.reference("keras/conv-flatten-reference.npz"), "legacy spec")
        let p = try XCTUnwrap(m.graph.index(of: "flatten/nhwc"))
        XCTAssertEqual((m.graph.nodes[p].layer as? Permute)?.dims, [1, 2, 0])
        XCTAssertTrue(m.conversions.contains { $0.contains("spec flatten order \"nhwc\"") && $0.contains(": flatten") }, "\(m.conversions)")
        // Written again, the spec stays as it was, and the pair keeps its numbers.
        let again = dir.appendingPathComponent("again.npz")
        try ModelWriter.write(m, to: again, specURL: dir.appendingPathComponent("again.json"))
        let reloaded = try ModelLoader.load(again.path, arch: dir.appendingPathComponent("again.json").path)
        let x = try KerasFixtures.engineInput(try KerasFixtures.reference("keras/conv-flatten-reference.npz")["x"]!)
        XCTAssertEqual(reloaded.graph.predict(x).data, m.graph.predict(x).data)
        // And it exports to Keras (Permute + Flatten is Keras' Flatten) with the same numbers.
        let exported = dir.appendingPathComponent("legacy.keras")
        try ModelWriter.write(m, to: exported)
        try KerasFixtures.assertLogits(try KerasImport.load(exported), try KerasFixtures.reference("keras/conv-flatten-reference.npz"), "legacy → .keras")
    }

    /// A spec `permute` must list each sample axis once.
    func testPermuteSpecIsValidated() throws {
        func build(_ dims: String) throws -> Graph {
            let json = #"{"name": "p", "input_shape": [2, 3, 4], "classes": 24, "layers": [{"name": "p", "type": "permute", "dims": \#(dims)}, {"name": "f", "type": "flatten"}]}"#
            return try GraphBuilder.build(try JSONDecoder().decode(ArchitectureSpec.self, from: Data(json.utf8)), origin: "p.json")
        }
        XCTAssertEqual(try build("[1, 2, 0]").nodes[0].outputShape, [3, 4, 2])
        for bad in ["[0, 0, 1]", "[1, 2, 3]", "[]"] {
            XCTAssertThrowsError(try build(bad), bad) { e in
                XCTAssertTrue("\(e)".contains("layer 'p'") && "\(e)".contains("permutation"), "\(e)")
            }
        }
        XCTAssertThrowsError(try build("[1, 0]")) { e in XCTAssertTrue("\(e)".contains("2 axes, got [2, 3, 4]"), "\(e)") }
    }
}

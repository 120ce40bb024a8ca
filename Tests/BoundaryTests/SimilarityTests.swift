import Foundation
import XCTest
import Boundary
import ModelIO
import NN
import Tensor
import TestSupport

/// `BoundarySimilarity` (docs/algorithm.md, "Boundary similarity"): a model against itself and against a copy with
/// doubled logits scores 1 and 1; two linear classifiers give the analytic values; the PyTorch
/// reference pair (Fixtures/torch/similarity*.npz) gives the same P, MagSim and AngSim.
final class SimilarityTests: XCTestCase {
    static func model(_ name: String) throws -> Model {
        try ModelLoader.load(fixture("torch/similarity-\(name).npz"), arch: fixture("torch/similarity-model.json"))
    }

    /// The reference's 16 base samples, labels and 64 pairs (every target, increasing).
    struct Reference {
        var x: Tensor, labels: [Int], pairs: BSSPairs, inP: [Bool], magsim: Double, angsim: Double, count: Int
    }

    static func reference() throws -> Reference {
        let a = try Npz.readDictionary(URL(fileURLWithPath: fixture("torch/similarity.npz")))
        let labels = try a["labels"]!.int64s().map { Int($0) }
        var pairs = BSSPairs()
        pairs.baseIndex = try a["pair_index"]!.int64s().map { Int($0) }
        pairs.baseClass = pairs.baseIndex.map { labels[$0] }
        pairs.targetClass = try a["target_class"]!.int64s().map { Int($0) }
        pairs.baseSamples = labels.count
        return Reference(x: try a["x"]!.tensor, labels: labels, pairs: pairs,
                         inP: try a["in_P"]!.int64s().map { $0 == 1 },
                         magsim: Double(try a["magsim"]!.floats()[0]), angsim: Double(try a["angsim"]!.floats()[0]),
                         count: Int(try a["n_pairs"]!.int64s()[0]))
    }

    func testMatchesThePyTorchReference() throws {
        let ref = try Self.reference()
        let engine = BoundarySimilarity(a: try Self.model("a").graph, b: try Self.model("b").graph)
        engine.batchSize = 24   // below the pair count: exercises refilling
        let base = engine.baseSamples(xA: ref.x, xB: ref.x, labels: ref.labels, limit: 1000)
        XCTAssertEqual(base.rows, Array(0..<16), "the reference's samples are those both classify correctly")
        let result = engine.compare(xA: ref.x, xB: ref.x, pairs: ref.pairs)
        let s = result.summary()
        XCTAssertEqual(s.pairsAttempted, 64)
        XCTAssertEqual(s.pairsCompared, ref.count)
        XCTAssertEqual((0..<64).map { result.isCompared($0) }, ref.inP, "the same pairs in P")
        XCTAssertEqual(s.acceptedA, 28)
        XCTAssertEqual(s.acceptedB, 28)
        XCTAssertEqual(s.magsim!, ref.magsim, accuracy: 1e-3)
        XCTAssertEqual(s.angsim!, ref.angsim, accuracy: 1e-3)
        // Per-class summaries partition the pairs.
        let perClass = result.perClass
        XCTAssertEqual(perClass.map(\.pairsAttempted).reduce(0, +), 64)
        XCTAssertEqual(perClass.map(\.pairsCompared).reduce(0, +), ref.count)
    }

    func testModelAgainstItselfScoresOneAndOne() throws {
        let ref = try Self.reference()
        let engine = BoundarySimilarity(a: try Self.model("b").graph, b: try Self.model("b").graph)
        let s = engine.compare(xA: ref.x, xB: ref.x, pairs: ref.pairs).summary()
        XCTAssertEqual(s.pairsCompared, s.acceptedA)
        XCTAssertEqual(s.acceptedA, s.acceptedB)
        XCTAssertGreaterThan(s.pairsCompared, 10)
        XCTAssertEqual(s.magsim!, 1, accuracy: 1e-12)
        XCTAssertEqual(s.angsim!, 1, accuracy: 1e-12)
        XCTAssertEqual(s.meanDistanceA!, s.meanDistanceB!, accuracy: 1e-12)
    }

    /// Multiplying every logit by 2 keeps every decision boundary: 1 and 1 within 1e-3 (the
    /// searches differ only through ε, which is in logit units).
    func testDoubledLogitsKeepTheBoundaries() throws {
        let ref = try Self.reference()
        let doubled = try Self.model("a")
        for (key, p) in doubled.graph.namedParameters() where key.hasPrefix("fc2.") {
            p.value.data = p.value.data.map { $0 * 2 }
        }
        let engine = BoundarySimilarity(a: try Self.model("a").graph, b: doubled.graph)
        let s = engine.compare(xA: ref.x, xB: ref.x, pairs: ref.pairs).summary()
        XCTAssertGreaterThan(s.pairsCompared, 10)
        XCTAssertEqual(s.magsim!, 1, accuracy: 1e-3)
        XCTAssertEqual(s.angsim!, 1, accuracy: 1e-3)
    }

    /// For a linear classifier f = W x + c one paper step with η = 1 lands exactly on
    /// L = −ε: d = −(L + ε) g / ‖g‖², g = w_b − w_k. So over the pairs both accept,
    /// AngSim = mean max(0, cos(g_A, g_B)) and MagSim = mean ratio of (L + ε) / ‖g‖.
    func testLinearClassifiersGiveTheAnalyticValues() throws {
        let d = 6, classes = 4, n = 200
        var rng = SeededGenerator(seed: 7)
        let wA = (0..<(classes * d)).map { _ in rng.nextNormal() }, cA = (0..<classes).map { _ in 0.3 * rng.nextNormal() }
        // B is drawn independently of A, so cosines spread over (−1, 1) and some are clipped.
        let wB = wA.map { _ in rng.nextNormal() }, cB = (0..<classes).map { _ in 0.3 * rng.nextNormal() }
        let x = Tensor(shape: [n, d], data: (0..<(n * d)).map { _ in rng.nextNormal() })
        let a = try linear(wA, cA, d: d, classes: classes), b = try linear(wB, cB, d: d, classes: classes)
        let labels = argmax(rows: a.forward(x, mode: .inference))

        let engine = BoundarySimilarity(a: a, b: b)
        let base = engine.baseSamples(xA: x, xB: x, labels: labels, limit: 1000)
        XCTAssertEqual(base.correctA, n)
        var generator = SeededGenerator(seed: 0)
        let pairs = PairSelection.pairs(rows: base.rows, baseClass: base.rows.map { labels[$0] }, logits: base.logitsA,
                                        rule: .all, generator: &generator)
        let result = engine.compare(xA: x, xB: x, pairs: pairs)

        let eps = Double(BSSParameters.paper.eps)
        func margin(_ w: [Float], _ c: [Float], row: Int, _ bc: Int, _ k: Int) -> (l: Double, g: [Double]) {
            let g = (0..<d).map { Double(w[bc * d + $0]) - Double(w[k * d + $0]) }
            let l = (0..<d).reduce(Double(c[bc]) - Double(c[k])) { $0 + g[$1] * Double(x.data[row * d + $1]) }
            return (l, g)
        }
        func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        var mag = 0.0, ang = 0.0, compared = 0, clipped = 0
        for j in 0..<result.count where result.isCompared(j) {
            let row = pairs.baseIndex[j], bc = pairs.baseClass[j], k = pairs.targetClass[j]
            let (la, ga) = margin(wA, cA, row: row, bc, k), (lb, gb) = margin(wB, cB, row: row, bc, k)
            let da = (la + eps) / norm(ga), db = (lb + eps) / norm(gb)
            XCTAssertEqual(result.distanceA[j], da, accuracy: 1e-4 * max(1, da), "pair \(j): ||d_A||")
            XCTAssertEqual(result.distanceB[j], db, accuracy: 1e-4 * max(1, db), "pair \(j): ||d_B||")
            let cosine = zip(ga, gb).reduce(0) { $0 + $1.0 * $1.1 } / (norm(ga) * norm(gb))
            XCTAssertEqual(result.cosine[j], cosine, accuracy: 1e-4, "pair \(j): cosine")
            mag += min(da, db) / max(da, db)
            ang += max(0, cosine)
            compared += 1
            clipped += cosine < 0 ? 1 : 0
        }
        let s = result.summary()
        XCTAssertEqual(s.pairsCompared, compared)
        XCTAssertGreaterThan(compared, 40)
        XCTAssertGreaterThan(clipped, 0, "some cosines are negative, so the clipping is exercised")
        XCTAssertEqual(s.magsim!, mag / Double(compared), accuracy: 1e-5)
        XCTAssertEqual(s.angsim!, ang / Double(compared), accuracy: 1e-5)
    }

    func linear(_ w: [Float], _ c: [Float], d: Int, classes: Int) throws -> Graph {
        let g = Graph(inputShape: [d])
        let layer = Linear(inFeatures: d, outFeatures: classes)
        layer.weight.value = Tensor(shape: [classes, d], data: w)
        layer.bias!.value = Tensor(shape: [classes], data: c)
        try g.add("fc", layer)
        return g
    }

    /// Base samples are the first `limit` rows both classify correctly, in data order.
    func testBaseSamplesStopAtTheLimit() throws {
        let ref = try Self.reference()
        var labels = ref.labels
        labels[1] = (labels[1] + 1) % 5            // nobody gets row 1 right any more
        let engine = BoundarySimilarity(a: try Self.model("a").graph, b: try Self.model("b").graph)
        engine.batchSize = 4
        let base = engine.baseSamples(xA: ref.x, xB: ref.x, labels: labels, limit: 5)
        XCTAssertEqual(base.rows, [0, 2, 3, 4, 5])
        XCTAssertEqual(base.scanned, 8, "stops after the batch that reached the limit")
        XCTAssertEqual(base.correctA, 7)
        XCTAssertEqual(base.logitsA.shape, [5, 5])
        let all = engine.baseSamples(xA: ref.x, xB: ref.x, labels: labels.map { ($0 + 1) % 5 }, limit: 100)
        XCTAssertTrue(all.rows.isEmpty)
        XCTAssertEqual(all.scanned, 16)
    }

    /// A Keras CNN (NHWC data, engine [3, 2, 2]) and a PyTorch MLP ([12], reading the same NHWC
    /// file with --data-layout nhwc) see each stored value at different positions; the
    /// alignment maps them so that xA[e] == xB[bFromA[e]].
    func testAlignmentLinesUpTheSameStoredValues() throws {
        let raw = DataLoader.RawData(x: Tensor(shape: [2, 2, 2, 3], data: (0..<24).map { Float($0) * 0.5 + 1 }),
                                     xIsInteger: false, y: nil, layout: nil, description: "test")
        let views: [(shape: [Int], layout: DataLayout)] = [([3, 2, 2], .nhwc), ([12], .nchw), ([12], .nhwc)]
        for (i, u) in views.enumerated() {
            for v in views[(i + 1)...] {
                let xa = try DataLoader.make(raw, file: "t", stored: .nhwc, preprocessing: .init()).conformed(to: u.shape, layout: u.layout).x
                let xb = try DataLoader.make(raw, file: "t", stored: .nhwc, preprocessing: .init()).conformed(to: v.shape, layout: v.layout).x
                let oa = try XCTUnwrap(SimilarityAlignment.dataOrder(rawShape: [2, 2, 3], fixedLayout: nil, stored: .nhwc,
                                                                     inputShape: u.shape, layout: u.layout))
                let ob = try XCTUnwrap(SimilarityAlignment.dataOrder(rawShape: [2, 2, 3], fixedLayout: nil, stored: .nhwc,
                                                                     inputShape: v.shape, layout: v.layout))
                let alignment = try XCTUnwrap(SimilarityAlignment(aToCommon: oa, bToCommon: ob))
                let map = alignment.bFromA ?? Array(0..<12)
                for s in 0..<2 {
                    XCTAssertEqual((0..<12).map { xa.data[s * 12 + $0] }, (0..<12).map { xb.data[s * 12 + map[$0]] }, "\(u) vs \(v)")
                }
            }
        }
        // A CNN against a Keras MLP (NHWC flattening) is a real permutation; equal orders are nil.
        let cnn = SimilarityAlignment.dataOrder(rawShape: [2, 2, 3], fixedLayout: nil, stored: .nhwc, inputShape: [3, 2, 2], layout: .nhwc)!
        let mlp = SimilarityAlignment.dataOrder(rawShape: [2, 2, 3], fixedLayout: nil, stored: .nhwc, inputShape: [12], layout: .nhwc)!
        XCTAssertNotNil(SimilarityAlignment(aToCommon: cnn, bToCommon: mlp)!.bFromA)
        XCTAssertNil(SimilarityAlignment(aToCommon: cnn, bToCommon: cnn)!.bFromA)
        XCTAssertNil(SimilarityAlignment.dataOrder(rawShape: [2, 2, 3], fixedLayout: nil, stored: .nhwc, inputShape: [5, 2], layout: .nchw))
        XCTAssertNil(SimilarityAlignment(aToCommon: [0, 1], bToCommon: [0, 0]))
        // Data-set mode: a flat Keras input against an NCHW image is the NHWC flattening.
        XCTAssertEqual(SimilarityAlignment.imageOrder(commonShape: [3, 1, 2], inputShape: [6], layout: .nhwc), [0, 2, 4, 1, 3, 5])
        XCTAssertEqual(SimilarityAlignment.imageOrder(commonShape: [3, 1, 2], inputShape: [6], layout: .nchw), Array(0..<6))
    }

    /// Fixtures/similarity/digits-mlp.npz is the `mlp:64-48-10` preset and reads the NHWC digits
    /// flattened: its logits match PyTorch's.
    func testCrossFixtureIsThePreset() throws {
        let io = try Npz.readDictionary(URL(fileURLWithPath: fixture("similarity/digits-mlp-io.npz")))
        let model = try ModelLoader.load(fixture("similarity/digits-mlp.npz"), arch: "mlp:64-48-10")
        let ds = DataSet(x: try io["x"]!.tensor, y: nil, file: "digits").conformed(to: model.graph.inputShape, layout: model.inputLayout)
        let logits = model.graph.forward(ds.x, mode: .inference)
        assertAllClose(logits.data, try io["logits"]!.floats(), atol: 1e-5, rtol: 1e-5, "digits-mlp logits")
    }

    func testDegenerateDistances() {
        XCTAssertEqual(SimilarityResult.magnitudeRatio(0, 0), 1)
        XCTAssertEqual(SimilarityResult.magnitudeRatio(0, 2), 0)
        XCTAssertEqual(SimilarityResult.magnitudeRatio(3, 1.5), 0.5)
        XCTAssertEqual(SimilarityResult.cosine(dot: 0, 0, 0), 1)
        XCTAssertEqual(SimilarityResult.cosine(dot: 0, 0, 1), 0)
        XCTAssertEqual(SimilarityResult.cosine(dot: 2.000001, 1, 2), 1, "rounding past 1 is clamped")
        var r = SimilarityResult(classes: 3)
        r.append(baseIndex: 0, baseClass: 0, targetClass: 1, acceptedA: true, acceptedB: false, distanceA: 1, distanceB: 2, cosine: 0.5)
        let s = r.summary()
        XCTAssertNil(s.magsim)
        XCTAssertNil(s.angsim)
        XCTAssertEqual(s.meanAcceptedDistanceA, 1)
        XCTAssertNil(s.meanAcceptedDistanceB)
        XCTAssertTrue(r.cosine[0].isNaN, "no cosine outside P")
    }
}

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
import Boundary
import ModelIO
import NN
import Tensor
import TestSupport

/// Similarity from two BSS data sets (`--a-bss/--b-bss`): the same numbers as searching the
/// models, through files and layouts; every way two data sets can fail to line up is a
/// one-line error. Plus the report's JSON against its schema and the SVG plot.
final class SimilarityDatasetTests: XCTestCase {
    static let sha = String(repeating: "ab", count: 32)

    /// BSS data sets of models A and B for the reference pairs, and the models' own comparison.
    static let setup: (a: BSSDataset, b: BSSDataset, models: SimilarityResult) = {
        let ref = try! SimilarityTests.reference()
        var pairs = ref.pairs
        pairs.targetProbability = [Float](repeating: 0.25, count: pairs.count)
        func dataset(_ name: String) -> BSSDataset {
            let generator = BSSGenerator(teacher: try! SimilarityTests.model(name).graph, parameters: .paper)
            let result = generator.run(source: ref.x, rows: pairs.baseIndex, base: pairs.baseClass, target: pairs.targetClass)
            return BSSDataset(pairs: pairs, result: result, source: ref.x, meta: meta(name, result: result))
        }
        let engine = BoundarySimilarity(a: try! SimilarityTests.model("a").graph, b: try! SimilarityTests.model("b").graph)
        return (dataset("a"), dataset("b"), engine.compare(xA: ref.x, xB: ref.x, pairs: ref.pairs))
    }()

    static func meta(_ name: String, result: BSSBatchResult) -> BSSMetadata {
        BSSMetadata(tool: "bss test", createdBy: "SimilarityDatasetTests",
                    teacher: .init(file: "similarity-\(name).npz", sha256: nil, architecture: "similarity-model.json",
                                   format: ModelFormat.stateDictNPZ.rawValue, inputShape: [3, 12, 12], classes: 5),
                    data: .init(file: "data.npz", sha256: sha, samples: 16, storedLayout: "nchw", scale: nil),
                    inputLayout: "nchw", inputShape: [3, 12, 12], algorithm: .init(.paper),
                    selection: .init(base: "correct", limit: nil, targets: "all", perSample: 1, acceptedOnly: false),
                    seed: 0, counts: .init(baseSamples: 16, result: result))
    }

    func assertSame(_ r: SimilarityResult, _ e: SimilarityResult, file: StaticString = #filePath, line: UInt = #line) {
        let s = r.summary(), t = e.summary()
        XCTAssertEqual(s.pairsAttempted, t.pairsAttempted, file: file, line: line)
        XCTAssertEqual(s.pairsCompared, t.pairsCompared, file: file, line: line)
        XCTAssertEqual(s.acceptedA, t.acceptedA, file: file, line: line)
        XCTAssertEqual(s.acceptedB, t.acceptedB, file: file, line: line)
        XCTAssertEqual(s.magsim!, t.magsim!, accuracy: 1e-6, file: file, line: line)
        XCTAssertEqual(s.angsim!, t.angsim!, accuracy: 1e-5, file: file, line: line)
        XCTAssertEqual(r.baseIndex, e.baseIndex, file: file, line: line)
        XCTAssertEqual(r.targetClass, e.targetClass, file: file, line: line)
    }

    func testDatasetsGiveWhatTheModelsGive() throws {
        let (a, b, models) = Self.setup
        let c = try BoundarySimilarity.compare(a, b, fileA: "a.npz", fileB: "b.npz")
        XCTAssertEqual(c.parameters, .paper)
        XCTAssertTrue(c.warnings.isEmpty)
        XCTAssertEqual(c.result.summary().pairsCompared, 19)
        assertSame(c.result, models)
        // Through files: .npz for A, .h5 for B.
        let dir = temporaryDirectory("similarity-datasets")
        defer { try? FileManager.default.removeItem(at: dir) }
        let fa = dir.appendingPathComponent("a.npz"), fb = dir.appendingPathComponent("b.h5")
        try a.write(to: fa)
        try b.write(to: fb)
        let d = try BoundarySimilarity.compare(try BSSDataset.read(fa), try BSSDataset.read(fb), fileA: fa.path, fileB: fb.path)
        assertSame(d.result, models)
    }

    /// B's teacher read the samples flattened in NHWC order (a Keras MLP): same similarity.
    func testFlatNHWCSamplesLineUpWithImages() throws {
        let (a, b, models) = Self.setup
        var flat = b
        flat.x = DataSet.convert(b.x, from: .nchw, to: .nhwc).reshaped([b.count, 432])
        flat.meta.inputLayout = "nhwc"
        flat.meta.inputShape = [432]
        flat.meta.teacher.inputShape = [432]
        assertSame(try BoundarySimilarity.compare(a, flat, fileA: "a.h5", fileB: "b.h5").result, models)
        assertSame(try BoundarySimilarity.compare(flat, a, fileA: "b.h5", fileB: "a.h5").result.swapped(), models)
        var short = flat
        short.x = Tensor(shape: [b.count, 431], data: Array(flat.x.data.prefix(b.count * 431)))
        XCTAssertThrowsError(try BoundarySimilarity.compare(a, short, fileA: "a.h5", fileB: "b.h5")) { e in
            XCTAssertTrue("\(e)".contains("x_bss") && "\(e)".contains("b.h5"), "\(e)")
        }
    }

    /// A file with accepted pairs only holds a subset: the missing pairs count as not accepted.
    func testAcceptedOnlyFilesFitIntoTheFullOne() throws {
        let (a, b, models) = Self.setup
        var accepted = a.rows(a.status.indices.filter { a.status[$0] == .accepted })
        accepted.meta.selection.acceptedOnly = true
        XCTAssertEqual(accepted.count, 28)
        assertSame(try BoundarySimilarity.compare(accepted, b, fileA: "a.npz", fileB: "b.npz").result, models)
        var acceptedB = b.rows(b.status.indices.filter { b.status[$0] == .accepted })
        acceptedB.meta.selection.acceptedOnly = true
        assertSame(try BoundarySimilarity.compare(a, acceptedB, fileA: "a.npz", fileB: "b.npz").result, models)
        assertError(try BoundarySimilarity.compare(accepted, acceptedB, fileA: "a.npz", fileB: "b.npz"),
                    mentions: ["accepted pairs only", "b.npz"])
        var lying = accepted
        lying.meta.counts.pairsTried = 60
        assertError(try BoundarySimilarity.compare(lying, b, fileA: "a.npz", fileB: "b.npz"), mentions: ["pairs_tried", "60"])
    }

    func testDatasetsThatDoNotLineUpAreErrors() throws {
        let (a, b, _) = Self.setup
        assertError(try BoundarySimilarity.compare(a, b.rows(Array(0..<60)), fileA: "a.npz", fileB: "b.npz"),
                    mentions: ["b.npz", "base_index", "not built from the same"])
        assertError(try BoundarySimilarity.compare(a.rows(Array(0..<60)), b, fileA: "a.npz", fileB: "b.npz"),
                    mentions: ["a.npz", "not built from the same"])
        var otherData = b
        otherData.meta.data.sha256 = String(repeating: "cd", count: 32)
        assertError(try BoundarySimilarity.compare(a, otherData, fileA: "a.npz", fileB: "b.npz"), mentions: ["meta.data", "same data"])
        var scaled = b
        scaled.meta.data.scale = 1.0 / 255
        assertError(try BoundarySimilarity.compare(a, scaled, fileA: "a.npz", fileB: "b.npz"), mentions: ["scale"])
        var relabelled = b
        relabelled.baseClass[5] = (relabelled.baseClass[5] + 1) % 5
        assertError(try BoundarySimilarity.compare(a, relabelled, fileA: "a.npz", fileB: "b.npz"), mentions: ["base_class", "row 5"])
        var wider = b
        wider.teacherLogits = Tensor(shape: [b.count, 6])
        assertError(try BoundarySimilarity.compare(a, wider, fileA: "a.npz", fileB: "b.npz"), mentions: ["6 classes", "a.npz has 5"])
        assertError(try BoundarySimilarity.compare(a, b.rows([0] + Array(0..<63)), fileA: "a.npz", fileB: "b.npz"),
                    mentions: ["same pair"])
        var official = b
        official.meta.algorithm = .init(.official)
        let c = try BoundarySimilarity.compare(a, official, fileA: "a.npz", fileB: "b.npz")
        XCTAssertNil(c.parameters)
        XCTAssertEqual(c.warnings.count, 1)
        XCTAssertTrue(c.warnings[0].contains("different parameters"), c.warnings[0])
    }

    func assertError<T>(_ body: @autoclosure () throws -> T, mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { e in
            XCTAssertTrue(e is ModelIOError, "\(e)", file: file, line: line)
            let text = "\(e)"
            XCTAssertFalse(text.contains("\n"), "one line: \(text)", file: file, line: line)
            for m in mentions { XCTAssertTrue(text.contains(m), "'\(m)' not in: \(text)", file: file, line: line) }
        }
    }

    // MARK: - Report and plot

    func report(_ result: SimilarityResult, selection: Bool = true) -> SimilarityReport {
        let side = SimilarityReport.Side(file: "a.npz", architecture: "similarity-model.json", format: "PyTorch state dict (.npz)",
                                         inputShape: [3, 12, 12], inputLayout: "nchw")
        let sel = SimilarityReport.Selection(data: "data.npz", samples: 16, scanned: 16, correctA: 16, correctB: 16, baseSamples: 16,
                                             limit: 1000, targets: "all", perSample: 1, seed: 0)
        return SimilarityReport(tool: "bss 0.1.0", a: side, b: side, source: selection ? "models" : "bss-datasets",
                                selection: selection ? sel : nil, parameters: selection ? .paper : nil, result: result, seconds: 0.5)
    }

    func testReportFollowsItsSchema() throws {
        let validator = try JSONSchemaValidator(schemaAt: fixturesURL.deletingLastPathComponent()
            .appendingPathComponent("Schemas/similarity-report.schema.json"))
        let empty = SimilarityResult(classes: 5)
        var official = report(Self.setup.models)
        official.parameters = .official
        for r in [report(Self.setup.models), report(empty, selection: false), official] {
            let data = try JSONSerialization.data(withJSONObject: r.jsonObject, options: [.sortedKeys])
            let parsed = try JSONSerialization.jsonObject(with: data)
            XCTAssertEqual(validator.errors(parsed), [])
        }
        let object = try JSONSerialization.jsonObject(with: JSONSerialization.data(withJSONObject: report(Self.setup.models).jsonObject)) as! [String: Any]
        XCTAssertEqual(object["pairs_compared"] as? Int, 19)
        XCTAssertEqual((object["per_class"] as? [Any])?.count, 5)
        XCTAssertEqual(object["magsim"] as! Double, Self.setup.models.summary().magsim!, accuracy: 1e-12)
        // A report that breaks the schema is caught (the test is not vacuous).
        var broken = report(Self.setup.models).jsonObject
        broken["magsim"] = "high"
        XCTAssertFalse(validator.errors(try JSONSerialization.jsonObject(with: JSONSerialization.data(withJSONObject: broken))).isEmpty)
        let lines = report(Self.setup.models).lines.joined(separator: "\n")
        XCTAssertTrue(lines.contains("pairs compared:  19"), lines)
        XCTAssertTrue(report(empty).lines.joined().contains("no pair accepted by both"))
    }

    func testPlotIsWellFormedSVG() throws {
        let result = Self.setup.models
        for (r, points) in [(result, 19), (SimilarityResult(classes: 5), 0)] {
            let svg = SimilarityPlot.svg(r, nameA: "a<&>\"", nameB: "b.npz")
            XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
            XCTAssertEqual(svg.components(separatedBy: "<circle").count - 1, points)
            XCTAssertTrue(svg.contains("a&lt;&amp;&gt;&quot;"))
            let parser = XMLParser(data: Data(svg.utf8))
            XCTAssertTrue(parser.parse(), "not well-formed XML: \(String(describing: parser.parserError))")
        }
        XCTAssertEqual(SimilarityPlot.color(0), "#440154")
        XCTAssertEqual(SimilarityPlot.color(1), "#fde725")
    }
}

extension SimilarityResult {
    /// A and B exchanged.
    func swapped() -> SimilarityResult {
        var r = self
        (r.acceptedA, r.acceptedB) = (acceptedB, acceptedA)
        (r.distanceA, r.distanceB) = (distanceB, distanceA)
        return r
    }
}

import Foundation
import XCTest
import Boundary
import ModelIO
import NN
import Tensor
import TestSupport

/// `BSSGenerator` against the PyTorch reference trajectories of Fixtures/torch/bss-*.npz
/// (make_bss_fixtures.py): the same status and step count for every (stable) pair, `x_bss`
/// within 1e-4 relative, and every stop condition represented.
final class GeneratorParityTests: XCTestCase {
    static let teacher: Model = try! ModelLoader.load(fixture("torch/bss-teacher.npz"), arch: fixture("torch/bss-teacher.json"))

    struct Reference {
        var x: Tensor, base: [Int], target: [Int], status: [Int8], steps: [Int32], xBSS: Tensor
        var stable: [Int8], lTrace: [Float], parameters: BSSParameters
    }

    func reference(_ name: String) throws -> Reference {
        let a = try Npz.readDictionary(URL(fileURLWithPath: fixture("torch/\(name)")))
        let clip = try a["clip"]!.floats()
        let parameters = BSSParameters(mode: BSSMode(rawValue: a["mode"]!.stringValue!)!, eta: try a["eta"]!.floats()[0],
                                       eps: try a["eps"]!.floats()[0], maxSteps: Int(try a["max_steps"]!.int64s()[0]),
                                       stepNorm: StepNorm(rawValue: a["step_norm"]!.stringValue!)!,
                                       clip: clip.isEmpty ? nil : clip[0]...clip[1])
        return Reference(x: try a["x_base"]!.tensor, base: try a["base_class"]!.int64s().map { Int($0) },
                         target: try a["target_class"]!.int64s().map { Int($0) },
                         status: try a["status"]!.int64s().map { Int8($0) }, steps: try a["steps"]!.int64s().map { Int32($0) },
                         xBSS: try a["x_bss"]!.tensor, stable: try a["stable"]!.int64s().map { Int8($0) },
                         lTrace: try a["L_trace"]!.floats(), parameters: parameters)
    }

    /// Runs one fixture and compares; `batchSize` below the pair count exercises refilling.
    func check(_ name: String, batchSize: Int = 128, expectStatuses: Set<Int8>, file: StaticString = #filePath, line: UInt = #line) throws {
        let ref = try reference(name)
        let generator = BSSGenerator(teacher: Self.teacher.graph, parameters: ref.parameters)
        generator.batchSize = batchSize
        let result = generator.run(x: ref.x, base: ref.base, target: ref.target)
        let pairs = ref.base.count, per = ref.x.sampleCount, width = ref.parameters.maxSteps + 1
        XCTAssertEqual(result.status.count, pairs)
        var compared = 0
        for j in 0..<pairs where ref.stable[j] == 1 {
            compared += 1
            XCTAssertEqual(result.status[j].rawValue, ref.status[j], "\(name) pair \(j) status", file: file, line: line)
            XCTAssertEqual(result.steps[j], Int(ref.steps[j]), "\(name) pair \(j) steps", file: file, line: line)
            let a = Array(result.x.data[(j * per)..<((j + 1) * per)]), e = Array(ref.xBSS.data[(j * per)..<((j + 1) * per)])
            let diff = zip(a, e).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
            let norm = e.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertLessThanOrEqual(diff, 1e-4 * norm, "\(name) pair \(j): x_bss relative error \(diff / norm)", file: file, line: line)
            assertAllClose(a, e, atol: 1e-4, rtol: 1e-4, "\(name) pair \(j) x_bss", file: file, line: line)
            // The margin at the stopping iterate is the reference's last L_trace entry.
            let l = ref.lTrace[j * width + Int(ref.steps[j])]
            XCTAssertEqual(result.margins[j], l, accuracy: 1e-4 * max(1, abs(l)), "\(name) pair \(j) margin", file: file, line: line)
        }
        XCTAssertGreaterThanOrEqual(compared, pairs * 9 / 10, "\(name): too few stable pairs")
        XCTAssertEqual(Set(ref.status), expectStatuses, "\(name): stop conditions in the fixture", file: file, line: line)
        // Logits reported at x_bss are the teacher's at that point.
        let again = Self.teacher.graph.forward(result.x, mode: .inference)
        assertAllClose(result.logits.data, again.data, atol: 1e-5, rtol: 1e-5, "\(name) logits at x_bss", file: file, line: line)
        XCTAssertEqual(result.forwardRows, result.steps.reduce(pairs, +), "\(name): one evaluation per iterate")
    }

    func testPaperModeMatchesPyTorch() throws {
        try check("bss-paper.npz", expectStatuses: [1, 2])
    }

    func testPaperModeL2MatchesPyTorchIncludingStepLimit() throws {
        try check("bss-paper-l2.npz", expectStatuses: [1, 2, 3])
    }

    func testPaperModeWithClipMatchesPyTorch() throws {
        try check("bss-paper-clip.npz", expectStatuses: [1, 2])
    }

    func testOfficialModeMatchesPyTorch() throws {
        try check("bss-official.npz", expectStatuses: [1, 2, 3])
    }

    /// A batch smaller than the pair count refills freed slots: same trajectories.
    func testSmallBatchesGiveTheSameResults() throws {
        try check("bss-paper-l2.npz", batchSize: 7, expectStatuses: [1, 2, 3])
        try check("bss-official.npz", batchSize: 1, expectStatuses: [1, 2, 3])
    }

    /// Reusing one generator (its buffers) across calls changes nothing, and a pair's result
    /// does not depend on which other pairs share its batch: bit for bit, under whichever
    /// OpenBLAS kernel is in force. (Before per-sample products, the Haswell kernel gave pairs
    /// run two at a time other last bits than the same pairs in a batch of 16: OpenBLAS rounds
    /// a row differently by its position in the product; see `BLAS`.)
    func testRepeatedRunsAreIdentical() throws {
        let ref = try reference("bss-paper.npz")
        let generator = BSSGenerator(teacher: Self.teacher.graph, parameters: .paper)
        generator.batchSize = 16
        let first = generator.run(x: ref.x, base: ref.base, target: ref.target)
        let part = generator.run(source: ref.x, rows: [5, 6], base: [ref.base[5], ref.base[6]], target: [ref.target[5], ref.target[6]])
        let second = generator.run(x: ref.x, base: ref.base, target: ref.target)
        XCTAssertEqual(first.x, second.x)
        XCTAssertEqual(first.status, second.status)
        XCTAssertEqual(first.steps, second.steps)
        XCTAssertEqual(part.status, [first.status[5], first.status[6]])
        XCTAssertEqual(part.x.data, Array(first.x.data[(5 * ref.x.sampleCount)..<(7 * ref.x.sampleCount)]))
        let empty = generator.run(x: Tensor(shape: [0, 3, 12, 12]), base: [], target: [])
        XCTAssertEqual(empty.x.shape, [0, 3, 12, 12])
        XCTAssertEqual(empty.logits.shape, [0, 5])
    }

    /// The batch size and the worker count change the schedule, never the numbers: every pair's
    /// iterate, status, step count, logits and margin are bit-identical.
    func testResultsDoNotDependOnBatchSizeOrThreads() throws {
        let ref = try reference("bss-official.npz")
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        func run(batch: Int, threads: Int) -> BSSBatchResult {
            Parallel.threads = threads
            let generator = BSSGenerator(teacher: Self.teacher.graph, parameters: ref.parameters)
            generator.batchSize = batch
            return generator.run(x: ref.x, base: ref.base, target: ref.target)
        }
        let a = run(batch: 128, threads: 2)
        for (batch, threads) in [(1, 1), (5, 2), (16, 1), (128, 1)] {
            let b = run(batch: batch, threads: threads)
            XCTAssertEqual(a.x, b.x, "batch \(batch), \(threads) threads: x")
            XCTAssertEqual(a.status, b.status, "batch \(batch), \(threads) threads: status")
            XCTAssertEqual(a.steps, b.steps, "batch \(batch), \(threads) threads: steps")
            XCTAssertEqual(a.logits, b.logits, "batch \(batch), \(threads) threads: logits")
            XCTAssertEqual(a.margins, b.margins, "batch \(batch), \(threads) threads: margins")
        }
    }

    /// Inference is per sample: a sample's logits and input gradient are bit-identical alone,
    /// in a batch of 3 or in a batch of 16, at any position, with 1 or 2 workers.
    func testInferenceIsBatchInvariant() throws {
        let ref = try reference("bss-paper.npz")
        let graph = Self.teacher.graph, per = ref.x.sampleCount
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        let x = ref.x.slice(rows: 0..<16)
        let generator = BSSGenerator(teacher: graph, parameters: .paper)
        let base = (0..<16).map { ref.base[$0] }, target = (0..<16).map { ref.target[$0] }
        let whole = generator.marginGradient(x: x, base: base, target: target)
        for threads in [1, 2] {
            Parallel.threads = threads
            for (start, count) in [(0, 1), (5, 1), (15, 1), (2, 3), (13, 3)] {
                let rows = start..<(start + count)
                let part = generator.marginGradient(x: x.slice(rows: rows), base: Array(base[rows]), target: Array(target[rows]))
                XCTAssertEqual(part.logits.data, Array(whole.logits.data[(start * 5)..<((start + count) * 5)]), "rows \(rows), \(threads) threads: logits")
                XCTAssertEqual(part.gradient.data, Array(whole.gradient.data[(start * per)..<((start + count) * per)]), "rows \(rows), \(threads) threads: gradient")
            }
        }
    }

    /// The parameter presets are the ones docs/algorithm.md, "Step rule", gives.
    func testPresets() {
        XCTAssertEqual(BSSParameters.paper, BSSParameters(mode: .paper, eta: 1, eps: 1e-4, maxSteps: 10, stepNorm: .l2sq, clip: nil))
        XCTAssertEqual(BSSParameters.official, BSSParameters(mode: .official, eta: 0.3, eps: 1e-4, maxSteps: 10, stepNorm: .l2, clip: -2.5...2.5))
        XCTAssertNil(BSSParameters.paper.problem)
        XCTAssertNotNil(BSSParameters(eta: 0).problem)
        XCTAssertNotNil(BSSParameters(eps: -1).problem)
        XCTAssertNotNil(BSSParameters(maxSteps: -1).problem)
    }
}

import Distill
import Foundation
import ModelIO
import NN
import Tensor
import TestSupport
import XCTest

/// A student given as `.safetensors` is trained and written back as `.safetensors` with the
/// same keys, dtypes and `__metadata__`, and loads back predicting what the trained student does.
final class SafeTensorsExportTests: XCTestCase {
    var dir: URL!
    override func setUp() { dir = temporaryDirectory("distill-safetensors") }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func testSafeTensorsStudentIsWrittenBackAsSafeTensors() throws {
        let student = dir.appendingPathComponent("bn.safetensors")
        let original = try Npz.read(URL(fileURLWithPath: DistillFixtures.bnStudent))
        try SafeTensors.write(original, metadata: ["format": "pt", "origin": "a test"], to: student)
        var c = DistillFixtures.digitsConfig(dir, method: .bss, epochs: 1, fraction: 0.1)
        c.student = student.path
        c.studentArch = DistillFixtures.bnStudentSpec
        c.out = dir.appendingPathComponent("trained.safetensors").path
        let run = try DistillRun.prepare(c)
        XCTAssertEqual(run.distiller.student.format, .stateDictSafeTensors)
        try run.distiller.run()
        let report = try run.export()
        XCTAssertTrue(report.files[0].what.contains("safetensors"), "\(report.files)")

        let back = try SafeTensors.read(URL(fileURLWithPath: c.out!))
        XCTAssertEqual(back.metadata, ["format": "pt", "origin": "a test"])
        let stored = Dictionary(uniqueKeysWithValues: back.entries.map { ($0.key, $0.array) })
        XCTAssertEqual(Set(stored.keys), Set(original.map(\.key)))
        for (key, array) in original {
            XCTAssertEqual(stored[key]?.dtype, array.dtype, key)
            XCTAssertEqual(stored[key]?.shape, array.shape, key)
        }
        XCTAssertGreaterThan(try stored["bn1.num_batches_tracked"]!.int64s()[0], 0)

        let reloaded = try ModelLoader.load(c.out!, arch: DistillFixtures.bnStudentSpec)
        let x = try run.distiller.val!.gather(Array(0..<32))
        XCTAssertEqual(reloaded.graph.predict(x).data, run.distiller.student.graph.predict(x).data)
    }
}
